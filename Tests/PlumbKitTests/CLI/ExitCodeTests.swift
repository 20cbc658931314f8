import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Issue 13, item 5: exit codes a script can trust — `status --detailed-exitcode`, a
/// `--detailed-exitcode` that cannot silently become a real run, and 130 for Ctrl-C — through the
/// built binary on real scratch repositories.
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

    static func status(_ name: String, pending: Int = 0, planErrors: [String] = [], awaitingPromotion: Bool = false,
                       drift: EnvironmentStatus.Drift = .notChecked) -> EnvironmentStatus {
        EnvironmentStatus(environment: name, from: nil, pin: nil, model: nil, modelDigest: nil, lastRun: nil, lastResult: nil,
                          lastFinished: nil, pending: pending, planErrors: planErrors, awaitingPromotion: awaitingPromotion,
                          drift: drift, driftDetail: nil)
    }

    @Test func statusDetailedExitCodeTable() {
        let cases: [(String, [EnvironmentStatus], Int32)] = [
            ("all in sync", [Self.status("dev"), Self.status("prod", drift: .inSync)], 0),
            ("a probe that cannot tell is not drift", [Self.status("dev", drift: .unknown)], 0),
            ("stages to run", [Self.status("dev"), Self.status("prod", pending: 1)], 2),
            ("drifted", [Self.status("dev", drift: .drifted)], 2),
            ("waiting for its first promotion", [Self.status("dev"), Self.status("staging", planErrors: ["no pin"], awaitingPromotion: true)], 2),
            ("a plan error", [Self.status("dev", pending: 3), Self.status("prod", planErrors: ["not in cache"])], 1),
            ("no environments", [], 0),
        ]
        for (name, statuses, want) in cases {
            #expect(StatusCommand.exitCode(for: statuses, detailed: true) == want, "\(name)")
            #expect(StatusCommand.exitCode(for: statuses, detailed: false) == 0, "\(name), without the flag")
        }
    }

    @Test func statusDetailedExitCodeIsZeroInSyncTwoPendingOrDriftedOneOnError() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline, files: ["environments/dev.yaml": "env: {}\n"])
        func status(_ extra: String...) throws -> Int32 {
            let r = try runProcess(plumbExecutable(), ["status"] + extra, in: h.root)
            return r.status
        }
        #expect(try status() == 0)
        #expect(try status("--detailed-exitcode") == 2, "never reconciled: two stages to run")
        #expect(try runProcess(plumbExecutable(), ["reconcile", "-q"], in: h.root).status == 0)
        #expect(try status("--detailed-exitcode") == 0)
        #expect(try status("--detailed-exitcode", "--json") == 0)
        // The deploy probe runs only with --check: failing, it is drift (2); passing, in sync (0).
        #expect(try status("--detailed-exitcode", "--check") == 2)
        _ = FileManager.default.createFile(atPath: h.sideFile + ".healthy", contents: nil)
        #expect(try status("--detailed-exitcode", "--check") == 0)
        // A staging that takes the build from a promotion nobody made yet waits for one: pending, not an error.
        try h.edit("environments/staging.yaml", "from: dev\nruns: [deploy]\n")
        let waiting = try runProcess(plumbExecutable(), ["status", "--detailed-exitcode"], in: h.root)
        #expect(waiting.status == 2, "\(waiting.stdout)\(waiting.stderr)")
        #expect(waiting.stdout.contains("awaits a promotion") && waiting.stdout.contains("staging: not promoted yet; `plumb promote dev staging`"), "\(waiting.stdout)")
        // A spec that does not load is an error.
        try h.edit("spec/pipeline.yaml", "version: 1\nstages: [\n")
        #expect(try status("--detailed-exitcode") == 1)
    }

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
        let help = try runProcess(plumbExecutable(), ["reconcile", "--help"], in: h.root).stdout
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("the run is committed all the same, as an interrupted run"), "\(help)")
        #expect(help.contains("A signal before any stage started (while the drift probes run, or while --wait-for-lock waits) commits nothing and exits 130"),
                "\(help)")
    }

    /// A signal before any stage started ends the reconcile with 130 and records nothing: while it
    /// waits for another writer's lock (which it would otherwise keep waiting for, then run), and
    /// while its drift probes run (which it would otherwise record as an interrupted run).
    @Test func ctrlCBeforeAnyStageStartedCommitsNothingAndExits130() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          deploy:
            cmd: echo deploy >> $SIDE
            deps: [spec/model.txt]
            check: echo $$ > $SIDE.pid && if [ -f $SIDE.slow ]; then sleep 30; fi
        """, files: ["spec/model.txt": "1\n"])
        #expect(try runProcess(plumbExecutable(), ["reconcile", "-q"], in: h.root).status == 0)
        #expect(try h.ran() == ["deploy"])

        // Another writer holds the environment's lock (this test process, through the same lock).
        try h.edit("spec/model.txt", "2\n")
        let held = try h.project().lock(environment: EnvironmentSpec.implicitName, command: "test", wait: nil)
        let pidFile = h.sideFile + ".pid"
        let waiting = try PlumbProcess(["reconcile", "--wait-for-lock"], in: h.root)
        // Its probe ran (quickly: in sync), its handlers are in: it plans, then waits for the lock.
        #expect(eventually(timeout: 20) { FileManager.default.fileExists(atPath: pidFile) && HostileConcurrencyTests.handlesSIGTERM(waiting.pid) },
                "\(waiting.text)")
        Thread.sleep(forTimeInterval: 0.5)
        waiting.signal(SIGINT)
        #expect(waiting.wait(timeout: 10) == 130, "\(waiting.text)")
        #expect(waiting.text.contains("interrupted while waiting for the lock 'default'"), "\(waiting.text)")
        held.release()
        #expect(try h.ran().isEmpty)
        #expect(try h.commitCount() == 3, "initial, first record, the edit: nothing recorded")

        // Reconcile runs the deploy stage's probe first (its last run succeeded); this time it is slow.
        try FileManager.default.removeItem(atPath: pidFile)
        _ = FileManager.default.createFile(atPath: h.sideFile + ".slow", contents: nil)
        let probing = try PlumbProcess(["reconcile"], in: h.root)
        #expect(eventually(timeout: 20) { (try? String(contentsOfFile: pidFile, encoding: .utf8))?.hasSuffix("\n") == true }, "\(probing.text)")
        probing.signal(SIGINT)
        #expect(probing.wait(timeout: 10) == 130, "\(probing.text)")
        #expect(probing.text.contains("interrupted before any stage ran; nothing was recorded"), "\(probing.text)")
        #expect(try h.ran().isEmpty)
        #expect(try h.commitCount() == 3)
    }

    /// Drift probes run in their own process groups, so Ctrl-C reaches only plumb: it must stop them
    /// itself and exit 130, not die and leave them running.
    @Test func ctrlCDuringTheDriftProbesOfStatusAndPlanStopsThemAndExits130() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          deploy:
            cmd: echo deploy >> $SIDE
            check: echo $$ > $SIDE.pid && sleep 30
        """)
        #expect(try runProcess(plumbExecutable(), ["reconcile", "-q"], in: h.root).status == 0)
        for arguments in [["status", "--check"], ["plan", "--refresh"]] {
            let pidFile = h.sideFile + ".pid"
            try? FileManager.default.removeItem(atPath: pidFile)
            let command = try PlumbProcess(arguments, in: h.root)
            #expect(eventually(timeout: 20) { (try? String(contentsOfFile: pidFile, encoding: .utf8))?.hasSuffix("\n") == true },
                    "\(arguments): \(command.text)")
            let probeGroup = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            let signalled = Date()
            command.signal(SIGINT)
            #expect(command.wait(timeout: 15) == 130, "\(arguments): \(command.text)")
            #expect(Date().timeIntervalSince(signalled) < 5)
            #expect(command.text.contains("interrupted; the drift probes were stopped"), "\(arguments): \(command.text)")
            #expect(eventually(timeout: 1) { liveProcesses(inGroup: probeGroup).isEmpty }, "\(arguments): the probe outlived plumb")
        }
        #expect(try h.commitCount() == 2, "neither wrote anything")
    }
}
