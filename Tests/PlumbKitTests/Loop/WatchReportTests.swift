import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// `reconcile --watch --report DIR`: the page follows the branch, rewritten after each run the loop records.
@Suite(.serialized) struct WatchReportTests {
    @Test func thePageIsRewrittenAfterANewCommitIsReconciled() throws {
        let h = try PipelineHarness(pipeline: plotPipeline, params: "train:\n  rate: 0.5\n")
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let page = out + "/index.html"
        let watch = try PlumbProcess(["reconcile", "--watch", "--interval", "1s", "--report", out], in: h.root)
        defer { watch.signal(SIGTERM); watch.wait() }
        func read() -> String { (try? String(contentsOfFile: page, encoding: .utf8)) ?? "" }

        // The first cycle records a run and writes the page showing it.
        var first = ""
        #expect(eventually(timeout: 30) {
            guard let run = try? h.state()?.lastRun else { return false }
            first = run
            return read().contains("run \(first)")
        }, "\(watch.text)")
        let before = read()
        // rate 0.5: the second row's loss is 1/(1+0.5) = 0.666667.
        #expect(before.contains("data-x=\"10.0\" data-y=\"0.666667\""), "the plot as the first run recorded it")

        try h.edit("spec/params.yaml", "train:\n  rate: 0.25\n", commit: "slower")
        let change = try h.scratch.head
        var second = ""
        #expect(eventually(timeout: 30) {
            guard let state = try? h.state(), state.lastCommit == change, let run = state.lastRun, run != first else { return false }
            second = run
            return read().contains("run \(second)")
        }, "\(watch.text)")
        let after = read()
        #expect(after != before)
        #expect(after.contains("at \(try h.scratch.head.short)"), "the page is of the commit that recorded the new run")
        #expect(after.contains("data-x=\"10.0\" data-y=\"0.8\""), "the plot as the new run recorded it (rate 0.25)")
        #expect(!after.contains("data-x=\"10.0\" data-y=\"0.666667\""))
        #expect(!after.contains("run \(first)"), "the stage's latest run is the new one")
    }
}
