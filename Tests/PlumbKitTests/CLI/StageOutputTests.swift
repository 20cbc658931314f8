import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbCLI

/// A stage's output as people read it (issue 13, item 7), through the built binary: grouped after
/// the stage off a terminal, folded into the live block on one, and a retried stage's log says
/// which attempt wrote which lines.
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

    /// Two stages printing at the same time, a line every 0.2 s, the second starting 0.1 s later.
    static let parallel = """
    version: 1
    stages:
      left:
        cmd: for i in 1 2 3 4; do echo left $i; sleep 0.2; done; mkdir -p build; echo l > build/l.txt
        outs: [build/l.txt]
      right:
        cmd: sleep 0.1; for i in 1 2 3 4; do echo right $i; sleep 0.2; done; mkdir -p build; echo r > build/r.txt
        outs: [build/r.txt]
    """

    /// Piped, with --verbose: each stage's lines come together right under its end line, although
    /// the two stages printed them interleaved.
    @Test func offATerminalEachStagesOutputIsGroupedAfterIt() throws {
        let h = try PipelineHarness(pipeline: Self.parallel)
        let run = try runProcess(plumbExecutable(), ["reconcile", "--verbose", "--jobs", "2"], in: h.root)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        for stage in ["left", "right"] {
            let end = try #require(lines.firstIndex { $0.hasPrefix("✔ \(stage) done") }, "\(run.stdout)")
            #expect(Array(lines[(end + 1)...].prefix(4)) == (1...4).map { "\(stage) │ \(stage) \($0)" }, "\(run.stdout)")
        }
        #expect(!run.stdout.contains("\u{1B}"), "no colour and no redraws when piped")
        // Without --verbose, off a terminal: the end lines only.
        let quiet = try runProcess(plumbExecutable(), ["reconcile", "--force", "left"], in: h.root)
        #expect(!quiet.stdout.contains("│"), "\(quiet.stdout)")
    }

    /// A stage printing far more than a group keeps: the last lines, and how many came before.
    @Test func aVeryChattyStagesGroupKeepsItsLastLinesAndCountsTheRest() throws {
        let h = try PipelineHarness(pipeline: "version: 1\nstages:\n  chatty:\n    cmd: seq 12345\n")
        let run = try runProcess(plumbExecutable(), ["reconcile", "--verbose"], in: h.root)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("chatty │ ") }
        #expect(lines.first == "chatty │ … 7345 earlier lines; the full log is in `plumb logs`")
        #expect(lines.count == TerminalReconcileView.groupedLines + 1)
        #expect(lines.dropFirst().first == "chatty │ 7346" && lines.last == "chatty │ 12345")
    }

    /// On a terminal (a pseudo-terminal through script(1)): the output is drawn in the live block and
    /// redrawn in place (cursor up, erase line), then erased before the end line, which stays.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func onATerminalAChattyStageIsFoldedIntoTheLiveBlock() throws {
        let h = try PipelineHarness(pipeline: Self.parallel)
        let command = "\(plumbExecutable()) reconcile --jobs 2"
        let run = try runProcess("/usr/bin/script", ["-qec", command, "/dev/null"], in: h.root, environment: ["TERM": "xterm", "COLUMNS": "80"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("left │ left 4") && run.stdout.contains("right │ right 4"), "\(run.stdout)")
        #expect(run.stdout.contains("\u{1B}[1A\u{1B}[2K"), "the block is redrawn in place")
        #expect(run.stdout.contains("✔ left") && run.stdout.contains("✔ right"))
        #expect(!run.stdout.contains("\u{1B}[36m"), "NO_COLOR is set: no colour even on a terminal")
        // The log keeps every line.
        let logs = try runProcess(plumbExecutable(), ["logs", "latest", "left"], in: h.root)
        #expect(logs.stdout == (1...4).map { "left \($0)\n" }.joined(), "\(logs.stdout)")
    }
}
