import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// A bare origin seeded from a harness, and clones of it.
final class SharedRemote {
    let origin: ScratchRepository
    let seed: PipelineHarness

    init(_ seed: PipelineHarness) throws {
        self.seed = seed
        origin = try ScratchRepository(bare: true)
        try seed.repository.addRemote(name: "origin", url: origin.root)
        #expect(try seed.repository.push(refspecs: ["refs/heads/main:refs/heads/main"]) == .pushed)
    }

    var tip: ObjectID { get throws { try origin.repository.referenceTarget("refs/heads/main") } }

    /// Run records of `env` on the remote's main.
    func runs(_ env: String) throws -> [String] {
        try origin.repository.blobs(under: "history/\(env)/runs", in: try tip).map(\.path).sorted()
    }

    func state(_ env: String) throws -> RecordedState? {
        try origin.repository.file(at: RecordedState.path(for: env), in: try tip).map { try RecordedState.decode($0, path: "state.json") }
    }
}

@Suite(.serialized) struct LoopWatchTests {
    @Test func desiredStateKeyIgnoresHistoryOnlyCommits() throws {
        let h = try sleepyHarness(environments: ["dev", "staging"])
        let first = try h.scratch.head
        try h.scratch.write("history/staging/runs/x.json", "{}")
        let historyOnly = try h.scratch.commit("plumb(staging): record")
        try h.scratch.write("spec/data.txt", "changed\n")
        let specChange = try h.scratch.commit("spec")
        let key = { try WatchLoop.desiredStateKey(h.repository, commit: $0) }
        #expect(try key(first) == key(historyOnly))
        #expect(try key(first) != key(specChange))
    }

    @Test(arguments: [
        // (failures, random) → seconds, interval 60, cap 600, jitter 10%
        (0, 0.0, 60.0), (0, 1.0, 66.0), (0, -1.0, 54.0), (1, 0.0, 120.0), (3, 0.0, 480.0), (4, 0.0, 600.0), (40, 1.0, 660.0),
    ])
    func backoffDoublesPerFailureUpToTheCapWithJitter(failures: Int, random: Double, want: Double) {
        let got = WatchLoop.delay(interval: 60, failures: failures, maxBackoff: 600, jitter: 0.1, random: random)
        #expect(abs(got - want) < 1e-9)
    }

    @Test func aCommitPushedToTheRemoteIsReconciledAndPushedBackWithinTwoIntervals() throws {
        let remote = try SharedRemote(try sleepyHarness())
        let watcher = try ScratchClone(of: remote.origin.root)
        let author = try ScratchClone(of: remote.origin.root)
        let watch = try PlumbProcess(["reconcile", "--watch", "--interval", "1s", "--push"], in: watcher.root)
        defer { watch.signal(SIGTERM); watch.wait() }

        // The first cycle reconciles what is there and pushes the record.
        #expect(eventually(timeout: 20) { (try? remote.state("default"))??.stages.count == 4 }, "\(watch.text)")
        let recordsBefore = try remote.runs("default").count

        try RemoteSync(repository: author.repository).pull(branch: "main")
        try author.write("spec/data.txt", "changed\n")
        let change = try author.commit("change data")
        #expect(try author.pushMain() == .pushed)
        let pushed = Date()
        var runDuration = 0.0
        let reconciled = eventually(timeout: 20) {
            guard let state = try? remote.state("default"), state.lastCommit == change else { return false }
            return true
        }
        let elapsed = Date().timeIntervalSince(pushed)
        #expect(reconciled, "\(watch.text)")
        let runs = try remote.runs("default")
        #expect(runs.count == recordsBefore + 1)
        if let last = runs.last, let data = try remote.origin.repository.file(at: last, in: try remote.tip) {
            let record = try RunRecord.decode(data, path: last)
            runDuration = record.finishedAt.timeIntervalSince(record.startedAt)
            #expect(record.status == .succeeded)
            #expect(record.commit == change)
        }
        // Two intervals (1 s, +10% jitter each) plus the run itself and a process start's worth of slack.
        #expect(elapsed < 2 * 1.1 + runDuration + 1.0, "took \(elapsed)s (run \(runDuration)s)")
        print("watch: pushed commit reconciled and pushed back after \(String(format: "%.2f", elapsed))s (run \(String(format: "%.2f", runDuration))s)")

        // Its own history commit is not a change of desired state: later cycles do nothing.
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try remote.runs("default").count == recordsBefore + 1)
        #expect(watch.text.contains("no change at"))
        #expect(watch.text.contains("next cycle at"))
        watch.signal(SIGTERM)
        #expect(watch.wait(timeout: 10) == 0)
        #expect(watch.text.contains("stopped by signal while waiting") || watch.text.contains("; stopping"))
    }

    @Test func sigtermDuringAStageRecordsAnInterruptedRunAndLeavesNoProcess() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          slow:
            cmd: echo $$ > $SIDE.pid && sleep 30 && echo never > out.txt
            outs: [out.txt]
        """)
        let watch = try PlumbProcess(["reconcile", "--watch", "--interval", "1s"], in: h.root)
        let pidFile = h.sideFile + ".pid"
        #expect(eventually(timeout: 20) {
            ((try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) != nil
        }, "\(watch.text)")
        let stagePid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        let signalled = Date()
        watch.signal(SIGTERM)
        let status = watch.wait(timeout: 15)
        #expect(status == 0, "\(watch.text)")
        #expect(Date().timeIntervalSince(signalled) < 5)

        // The stage's whole group is gone: the shell and its `sleep 30`.
        // (A killed member may linger a moment as a zombie until init reaps it; zombies run nothing.)
        #expect(eventually(timeout: 1) { liveProcesses(inGroup: stagePid).isEmpty }, "\(liveProcesses(inGroup: stagePid))")
        let head = try h.scratch.head
        let runs = try h.repository.blobs(under: "history/default/runs", in: head)
        try #require(runs.count == 1)
        let record = try RunRecord.decode(try h.repository.blob(runs[0].id), path: runs[0].path)
        #expect(record.status == .interrupted)
        #expect(record.stages["slow"]?.status == .interrupted)
        #expect(watch.text.contains("interrupted"))
    }
}

/// Self-heal in the watch loop: with the desired state unchanged, a cycle runs the drift probes and
/// runs again the stage whose deployment drifted; a cycle with nothing drifted does nothing.
@Suite struct LoopDriftHealTests {
    @Test func aWatchCycleHealsADriftedDeployment() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          deploy:
            cmd: mkdir -p build && echo v1 > build/model.txt && cp build/model.txt "$SIDE" && echo deploy >> "$SIDE.log"
            outs: [build/model.txt]
            check: echo v1 | cmp - "$SIDE"
        """)
        let loop = WatchLoop(project: try h.project(), observer: SilentObserver(),
                             options: .init(environment: nil, branch: "main"), locking: nil)
        #expect(try loop.cycle().did.contains("reconciled"))
        #expect(try loop.cycle().did.hasPrefix("no change"), "in sync: the probe passes and nothing runs")
        try "junk\n".write(toFile: h.sideFile, atomically: true, encoding: .utf8)
        let healed = try loop.cycle().did
        #expect(healed.contains("deploy drifted") && healed.contains("recorded"), "\(healed)")
        #expect(try String(contentsOfFile: h.sideFile, encoding: .utf8) == "v1\n", "the deployment was put back")
        #expect(try String(contentsOfFile: h.sideFile + ".log", encoding: .utf8) == "deploy\ndeploy\n")
        let state = try #require(try Snapshot.read(try h.project(), ref: nil, environment: nil).recorded)
        let run = try #require(try RunRecord.read(state.lastRun ?? "", environment: EnvironmentSpec.implicitName,
                                                  at: try h.scratch.head, in: h.repository))
        #expect(run.stages["deploy"]?.reasons.first?.hasPrefix("drifted: ") == true, "\(run.stages["deploy"]?.reasons ?? [])")
        #expect(try loop.cycle().did.hasPrefix("no change"))
    }
}

/// `stale_after` in the watch loop: time passing is a change, with no commit.
@Suite struct LoopStaleTests {
    @Test func theWatchLoopRerunsAStageThatWentStale() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          fetch:
            cmd: echo fetch >> $SIDE && mkdir -p build && date +%s%N > build/table.csv
            outs: [build/table.csv]
            stale_after: 2s
        """)
        let watch = try PlumbProcess(["reconcile", "--watch", "--interval", "1s"], in: h.root)
        defer { watch.signal(SIGTERM); watch.wait() }
        // The cycle's line is printed after its stage ran: wait for the line, then count the runs.
        #expect(eventually(timeout: 30) { watch.text.contains("fetch: last ran ") }, "\(watch.text)")
        #expect(((try? String(contentsOfFile: h.sideFile, encoding: .utf8)) ?? "").split(separator: "\n").count >= 2)
    }
}

/// New data retrains: the watch loop polls the deps outside git (through the stat cache) and
/// reconciles when one changed, with no commit; the record says which digest changed.
@Suite struct LoopDataTests {
    @Test func changedUntrackedDataIsReconciledByTheNextCycles() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          train:
            cmd: echo train >> $SIDE && mkdir -p build && cat data/in.csv > build/model.txt
            deps: [data/in.csv]
            outs: [build/model.txt]
        """, files: [".gitignore": ".plumb/\ndata/\n"])
        try h.scratch.write("data/in.csv", "1\n")
        func runs() -> Int { ((try? String(contentsOfFile: h.sideFile, encoding: .utf8)) ?? "").split(separator: "\n").count }
        let watch = try PlumbProcess(["reconcile", "--watch", "--interval", "1s"], in: h.root)
        defer { watch.signal(SIGTERM); watch.wait() }
        #expect(eventually(timeout: 30) { runs() == 1 && watch.text.contains("no change") }, "\(watch.text)")

        try h.scratch.write("data/in.csv", "1\n2\n")
        #expect(eventually(timeout: 30) { runs() == 2 && watch.text.contains("train: dep data/in.csv changed") }, "\(watch.text)")
        let state = try #require(try h.state())
        let run = try #require(try RunRecord.read(state.lastRun ?? "", environment: EnvironmentSpec.implicitName, at: try h.scratch.head, in: h.repository))
        let reason = try #require(run.stages["train"]?.reasons.first)
        #expect(reason.hasPrefix("dep data/in.csv changed: sha256:") && reason.contains(" → sha256:"), "\(reason)")
        #expect(try h.scratch.read("data/in.csv") == "1\n2\n")
    }

    /// A folder dep under inotify marks: idle cycles do not walk it, and a change deep inside it, a file
    /// replaced by rename with its mtime kept, and a new subfolder each still wake a reconcile.
    @Test func changesDeepInAnUntrackedFolderWakeTheWatchedLoop() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          train:
            cmd: echo train >> $SIDE && mkdir -p build && cat data/*/*/*.csv > build/model.txt
            deps: [data]
            outs: [build/model.txt]
        """, files: [".gitignore": ".plumb/\ndata/\n"])
        try h.scratch.write("data/a/deep/in.csv", "1\n")
        try h.scratch.write("data/b/deep/in.csv", "2\n")
        func runs() -> Int { ((try? String(contentsOfFile: h.sideFile, encoding: .utf8)) ?? "").split(separator: "\n").count }
        let watch = try PlumbProcess(["reconcile", "--watch", "--interval", "0.2s"], in: h.root)
        defer { watch.signal(SIGTERM); watch.wait() }
        #expect(eventually(timeout: 30) { runs() == 1 && watch.text.components(separatedBy: "no change").count > 3 }, "\(watch.text)")

        try h.scratch.write("data/b/deep/in.csv", "3\n")
        #expect(eventually(timeout: 30) { runs() == 2 }, "\(watch.text)")
        let reference = h.root + "/data/a/deep/in.csv"
        try h.scratch.write("incoming.csv", "9\n")
        #expect(try runProcess("/usr/bin/touch", ["-r", reference, h.root + "/incoming.csv"], in: h.root).status == 0)
        #expect(eventually(timeout: 10) { watch.text.components(separatedBy: "no change").count > 6 }, "\(watch.text)")
        #expect(rename(h.root + "/incoming.csv", reference) == 0)
        #expect(eventually(timeout: 30) { runs() == 3 }, "\(watch.text)")
        try h.scratch.write("data/c/new/in.csv", "4\n")
        #expect(eventually(timeout: 30) { runs() == 4 }, "\(watch.text)")
        let state = try #require(try h.state())
        let run = try #require(try RunRecord.read(state.lastRun ?? "", environment: EnvironmentSpec.implicitName, at: try h.scratch.head, in: h.repository))
        #expect(run.stages["train"]?.reasons.first?.hasPrefix("dep data changed: sha256:") == true, "\(run.stages["train"]?.reasons ?? [])")
    }
}
