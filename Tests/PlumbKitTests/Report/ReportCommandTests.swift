import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbCLI

/// `plumb report --html` and `reconcile --report` on the command line: what they refuse, and where the page goes.
struct ReportCommandTests {
    @Test(arguments: [
        (["report", "--out", "x"], "--out only applies to --html"),
        (["report", "--html", "--md"], "--md and --html are different outputs"),
        (["report", "--html", "--target", "staging"], "--target applies to the Markdown report"),
        (["reconcile", "--dry-run", "--report", "x"], "a dry run records none"),
    ])
    func optionsThatCannotGoTogetherAreUsageErrors(_ arguments: [String], _ message: String) throws {
        let harness = try PipelineHarness(pipeline: "version: 1\nstages:\n  a:\n    cmd: echo a >> $SIDE\n")
        let result = try runProcess(plumbExecutable(), arguments, in: harness.root)
        #expect(result.status == 64)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: harness.root + "/x"))
    }

    @Test func thePageGoesToPlumbReportByDefaultAndWritesNothingElse() throws {
        let harness = try PipelineHarness(pipeline: "version: 1\nstages:\n  a:\n    cmd: echo a >> $SIDE\n")
        try harness.reconcile()
        let before = try harness.commitCount()
        let result = try runProcess(plumbExecutable(), ["report", "--html"], in: harness.root)
        #expect(result.status == 0, "\(result.stderr)")
        let page = try String(contentsOfFile: harness.root + "/.plumb/report/index.html", encoding: .utf8)
        #expect(page.contains("data-stage=\"a\" data-status=\"succeeded\""))
        #expect(try harness.commitCount() == before, "the report commits nothing")
        #expect(try harness.ran() == ["a"], "and runs no stage")
    }
}
