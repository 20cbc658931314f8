import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Issue 13, item 5: exit codes a script can trust — a `--detailed-exitcode` that cannot silently
/// become a real run, and 130 for Ctrl-C — through the built binary on real scratch repositories.
@Suite struct ExitCodeTests {
    /// A build and a deploy whose drift probe passes while `$SIDE.healthy` exists.
    static let pipeline = """
    version: 1
    stages:
      build:
        cmd: mkdir -p build && echo model > build/model.txt && echo build >> $SIDE
        outs: [build/model.txt]
      deploy:
        cmd: echo deploy >> $SIDE
        deps: [build/model.txt]
        check: test -f $SIDE.healthy
    """

    @Test func detailedExitCodeWithoutADryRunIsAUsageErrorAndRunsNothing() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline)
        let refused = try runProcess(plumbExecutable(), ["reconcile", "--detailed-exitcode"], in: h.root)
        #expect(refused.status == 64, "\(refused.stderr)")
        #expect(refused.stderr.contains("--detailed-exitcode needs --dry-run"), "\(refused.stderr)")
        #expect(try h.ran().isEmpty)
        #expect(try h.commitCount() == 1)
        #expect(try runProcess(plumbExecutable(), ["reconcile", "--dry-run", "--detailed-exitcode"], in: h.root).status == 2)
        #expect(try runProcess(plumbExecutable(), ["reconcile", "-n", "--detailed-exitcode"], in: h.root).status == 2)
        #expect(try runProcess(plumbExecutable(), ["reconcile", "-q"], in: h.root).status == 0)
        #expect(try runProcess(plumbExecutable(), ["reconcile", "-n", "--detailed-exitcode"], in: h.root).status == 0)
        // promote has no such flag: asking for it is a usage error too, never a promotion.
        let promote = try runProcess(plumbExecutable(), ["promote", "default", "staging", "--detailed-exitcode"], in: h.root)
        #expect(promote.status == 64, "\(promote.stderr)")
    }

    @Test func ctrlCDuringAReconcileCommitsTheInterruptedRunAndExits130() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          fast:
            cmd: mkdir -p build && echo fast > build/fast.txt
            outs: [build/fast.txt]
          slow:
            cmd: echo $$ > $SIDE.pid && sleep 30 && echo never > out.txt
            deps: [build/fast.txt]
            outs: [out.txt]
        """)
        let reconcile = try PlumbProcess(["reconcile"], in: h.root)
        let pidFile = h.sideFile + ".pid"
        #expect(eventually(timeout: 20) { FileManager.default.fileExists(atPath: pidFile) && (try? String(contentsOfFile: pidFile, encoding: .utf8))?.hasSuffix("\n") == true },
                "\(reconcile.text)")
        let stageGroup = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        reconcile.signal(SIGINT)
        #expect(reconcile.wait(timeout: 15) == 130, "\(reconcile.text)")
        #expect(eventually(timeout: 1) { liveProcesses(inGroup: stageGroup).isEmpty })
        // Committed all the same, as the help says: the finished stage with its output, the other interrupted.
        let state = try #require(try h.state())
        let run = try #require(state.lastRun)
        let record = try #require(try RunRecord.read(run, environment: EnvironmentSpec.implicitName, at: try h.scratch.head, in: h.repository))
        #expect(record.status == .interrupted)
        #expect(record.stages["fast"]?.status == .succeeded)
        #expect(record.stages["slow"]?.status == .interrupted)
        #expect(try h.commitCount() == 2)
        let help = try runProcess(plumbExecutable(), ["reconcile", "--help"], in: h.root)
        #expect(help.stdout.contains("the run\nis committed all the same, as an interrupted run") && help.stdout.contains("It exits 130."),
                "\(help.stdout)")
    }
}
