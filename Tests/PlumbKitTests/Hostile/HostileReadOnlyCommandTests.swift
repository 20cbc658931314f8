import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// A dev and a staging environment whose deploy stage has a drift probe that leaves a marker file
/// outside the repository each time it runs (and fails while a `drift` file exists), reconciled once.
func probedHarness() throws -> PipelineHarness {
    let h = try PipelineHarness(pipeline: """
    version: 1
    stages:
      train:
        cmd: >-
          mkdir -p build && echo model > build/model.txt && echo '{"accuracy": 0.9}' > build/metrics.json
        outs: [build/model.txt]
        metrics: [build/metrics.json]
      deploy:
        cmd: echo deployed >> $SIDE.deployed; mkdir -p build && echo ok > build/deployed.txt
        deps: [build/model.txt]
        outs: [build/deployed.txt]
        check: touch $SIDE.check-ran; test ! -f $SIDE.drift
    """, files: [
        "environments/dev.yaml": "params: {}\n",
        "environments/staging.yaml": "from: dev\nruns: [deploy]\ngates:\n  - metric: train.accuracy\n    min: 0.5\n",
    ])
    let outcome = try h.reconcile(environment: "dev")
    #expect(outcome.record?.status == .succeeded)
    return h
}

@Suite struct HostileReadOnlyCommandTests {
    /// Cloning a repository and looking at it must run nothing from it: today `plumb status` runs the
    /// deploy stage's `check`. Every command that only reads leaves the probe's marker unwritten.
    @Test func readOnlyCommandsRunNoCodeFromTheRepository() throws {
        let h = try probedHarness()
        let marker = h.sideFile + ".check-ran"
        try? FileManager.default.removeItem(atPath: marker)
        let run = try #require(try h.state("dev")?.lastRun)
        let commands: [[String]] = [
            // staging is not promoted yet: its plan has an error (exit 1), and still runs nothing.
            ["validate"], ["plan"], ["plan", "--json"], ["plan", "--env", "staging"], ["reconcile", "--dry-run"],
            ["status"], ["status", "--json"], ["graph"], ["graph", "--dot"], ["history"], ["history", "--json"],
            ["show", run], ["show", run, "--json"], ["metrics"], ["metrics", "diff", "staging", "dev"],
            ["report"], ["logs", run, "deploy"],
        ]
        for arguments in commands {
            let r = try runProcess(plumbExecutable(), arguments, in: h.root)
            #expect([0, 1, 2, 3].contains(r.status), "\(arguments): \(r.status) \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: marker), "`plumb \(arguments.joined(separator: " "))` ran the repository's check")
            try? FileManager.default.removeItem(atPath: marker)
        }
        let status = try runProcess(plumbExecutable(), ["status"], in: h.root)
        #expect(status.stdout.contains("not checked (use --check)"), "\(status.stdout)")
        let json = try RecordJSON.decode([EnvironmentStatus].self, from: Data(try runProcess(plumbExecutable(), ["status", "--json"], in: h.root).stdout.utf8))
        #expect(json.allSatisfy { $0.drift == .notChecked })
    }

    /// Drift probes run where the user asks (`status --check`, `plan --refresh`) and in reconcile,
    /// which runs what drifted again (self-heal); a plain plan does not see drift.
    @Test func driftProbesRunOnlyWhereAskedAndReconcileRedeploysWhatDrifted() throws {
        let h = try probedHarness()
        let marker = h.sideFile + ".check-ran"
        try? FileManager.default.removeItem(atPath: marker)

        let checked = try runProcess(plumbExecutable(), ["status", "--check", "--json"], in: h.root)
        #expect(FileManager.default.fileExists(atPath: marker), "status --check runs the probe")
        let statuses = try RecordJSON.decode([EnvironmentStatus].self, from: Data(checked.stdout.utf8))
        #expect(statuses.first { $0.environment == "dev" }?.drift == .inSync)
        try FileManager.default.removeItem(atPath: marker)
        #expect(try runProcess(plumbExecutable(), ["plan", "--env", "dev", "--refresh", "--detailed-exitcode"], in: h.root).status == 0)
        #expect(FileManager.default.fileExists(atPath: marker), "plan --refresh runs the probe")
        try FileManager.default.removeItem(atPath: marker)

        // The deployment drifts.
        _ = FileManager.default.createFile(atPath: h.sideFile + ".drift", contents: Data())
        let plain = try runProcess(plumbExecutable(), ["plan", "--env", "dev", "--detailed-exitcode"], in: h.root)
        #expect(plain.status == 0, "a plan without --refresh runs no probe, so sees no drift: \(plain.stdout)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        let refreshed = try runProcess(plumbExecutable(), ["plan", "--env", "dev", "--refresh", "--detailed-exitcode"], in: h.root)
        #expect(refreshed.status == 2, "\(refreshed.stdout) \(refreshed.stderr)")
        #expect(refreshed.stdout.contains("deploy") && refreshed.stdout.contains("drifted: check exited 1"), "\(refreshed.stdout)")
        let drift = try RecordJSON.decode([EnvironmentStatus].self,
                                          from: Data(try runProcess(plumbExecutable(), ["status", "--check", "--json"], in: h.root).stdout.utf8))
        #expect(drift.first { $0.environment == "dev" }?.drift == .drifted)
        #expect(drift.first { $0.environment == "dev" }?.pending == 1, "a reconcile would run deploy again")

        try? FileManager.default.removeItem(atPath: h.sideFile + ".deployed")
        let reconcile = try runProcess(plumbExecutable(), ["reconcile", "--env", "dev"], in: h.root)
        #expect(reconcile.status == 0, "\(reconcile.stderr)")
        #expect(FileManager.default.fileExists(atPath: h.sideFile + ".deployed"), "reconcile deployed again")
        let run = try #require(try h.state("dev")?.lastRun)
        let record = try #require(try RunRecord.read(run, environment: "dev", at: try h.scratch.head, in: h.repository))
        #expect(record.stages["deploy"]?.reasons == ["drifted: check exited 1"])
        #expect(record.stages["train"]?.status == .unchanged)
    }
}
