import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct StageEnvironmentTests {
    @Test func aStageSeesPlumbsVariablesAndItsEffectiveParams() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          show:
            cmd: >-
              printf '%s|%s|%s|%s\\n' "$PLUMB_ENV" "$PLUMB_STAGE" "$PLUMB_RUN_ID" "$REGION" > $SIDE.vars &&
              cat "$PLUMB_PARAMS" > $SIDE.params
            params: [train.depth]
            env: {REGION: eu}
        """, params: "train:\n  depth: 4\n  rate: 0.1\n")
        let outcome = try h.reconcile()
        let vars = try String(contentsOfFile: h.sideFile + ".vars", encoding: .utf8).trimmingCharacters(in: .newlines)
        #expect(vars == "default|show|\(outcome.record!.run)|eu")
        // Only the declared key, nested as in params.yaml.
        #expect(try String(contentsOfFile: h.sideFile + ".params", encoding: .utf8) == "{\"train\":{\"depth\":4}}\n")
    }

    @Test func aFailingAttemptIsRetriedWithBackoff() throws {
        // Fails on the first attempt (no marker yet), succeeds on the second.
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          flaky:
            cmd: echo try >> $SIDE; if [ -f $SIDE.marker ]; then exit 0; else touch $SIDE.marker; exit 1; fi
            retries: 2
        """)
        let outcome = try h.reconcile()
        let flaky = try #require(outcome.result?.outcomes["flaky"])
        #expect(flaky.status == .succeeded)
        #expect(flaky.attempts == 2)
        #expect(try h.ran() == ["try", "try"])
    }

    @Test func checkoutPutsRecordedOutputsIntoTheWorkingTree() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        #expect(!FileManager.default.fileExists(atPath: h.root + "/build"))
        let all = try runProcess(plumbExecutable(), ["checkout"], in: h.root)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(try h.scratch.read("build/clean.txt") == "ABC\n")
        #expect(try h.scratch.read("build/metrics.json").contains("0.5"))
        try h.scratch.remove("build")
        let one = try runProcess(plumbExecutable(), ["checkout", "train"], in: h.root)
        #expect(one.status == 0)
        #expect(FileManager.default.fileExists(atPath: h.root + "/build/model.txt"))
        #expect(!FileManager.default.fileExists(atPath: h.root + "/build/clean.txt"))
        let unknown = try runProcess(plumbExecutable(), ["checkout", "nothing"], in: h.root)
        #expect(unknown.status == 1 && unknown.stderr.contains("no recorded stage or output 'nothing'"))
    }

    @Test func aStageThatDoesNotWriteItsOutputFailsWithItsLogKept() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          lazy:
            cmd: echo "thinking about it"
            outs: [build/never.txt]
        """)
        let outcome = try h.reconcile()
        let lazy = try #require(outcome.result?.outcomes["lazy"])
        #expect(lazy.status == .failed)
        #expect(lazy.log != nil)
        #expect(lazy.logTail?.contains("thinking about it") == true)
        #expect(lazy.logTail?.contains("did not write its declared output build/never.txt") == true)
        #expect(try h.state()?.stages["lazy"]?.status == .failed)
    }
}
