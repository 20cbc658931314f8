import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbCLI

/// A stage's output as people read it (issue 13, item 7), through the built binary: a retried
/// stage's log says which attempt wrote which lines.
@Suite struct StageOutputTests {
    /// Fails on its first attempt, succeeds on its second (a counter outside the workspace).
    @Test func aRetriedStagesLogSeparatesItsAttempts() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          flaky:
            cmd: >-
              echo try >> $SIDE && echo "attempt output $(wc -l < $SIDE | tr -d ' ')" &&
              test "$(wc -l < $SIDE)" -ge 2 && mkdir -p build && echo ok > build/ok.txt
            outs: [build/ok.txt]
            retries: 2
        """)
        let run = try runProcess(plumbExecutable(), ["reconcile"], in: h.root)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try h.ran() == ["try", "try"])
        let logs = try runProcess(plumbExecutable(), ["logs", "latest", "flaky"], in: h.root)
        #expect(logs.status == 0, "\(logs.stderr)")
        let lines = logs.stdout.split(separator: "\n").map(String.init)
        #expect(lines == ["── attempt 1 of 3 ──", "attempt output 1", "── attempt 2 of 3 ──", "attempt output 2"], "\(logs.stdout)")
    }
}
