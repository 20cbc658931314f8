import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite(.serialized) struct LoopCrashTests {
    /// The sleepy pipeline with one side file shared by every repository of the test, so that the
    /// command text (and so every fingerprint) is the same in the control repository and the killed ones.
    /// Each line carries the run id, to tell the converging run's stages from a killed run's.
    static func harness(side: String) throws -> PipelineHarness {
        let pipeline = sleepyPipeline
            .replacingOccurrences(of: "echo a >> $SIDE", with: "echo a $PLUMB_RUN_ID >> \(side)")
            .replacingOccurrences(of: "echo b >> $SIDE", with: "echo b $PLUMB_RUN_ID >> \(side)")
            .replacingOccurrences(of: "echo c >> $SIDE", with: "echo c $PLUMB_RUN_ID >> \(side)")
            .replacingOccurrences(of: "echo d >> $SIDE", with: "echo d $PLUMB_RUN_ID >> \(side)")
        return try PipelineHarness(pipeline: pipeline, params: "c:\n  n: 1\n", files: ["spec/data.txt": "hello\n"])
    }

    @Test func sigkillAtFiftyRandomMomentsNeverCorruptsAndTheNextReconcileConverges() throws {
        let sideFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: sideFolder) }
        let side = sideFolder + "/ran"

        // The uninterrupted result, and how long a whole run takes through the binary.
        let control = try Self.harness(side: side)
        let started = Date()
        let full = try runProcess(plumbExecutable(), ["reconcile", "--quiet"], in: control.root)
        let runTime = Date().timeIntervalSince(started)
        #expect(full.status == 0, "\(full.stderr)")
        let want = recordedResult(try control.state())
        #expect(want.count == 4)
        let fingerprints = try #require(try control.state()).stages.mapValues(\.fingerprint)

        var rng = SeededGenerator(seed: 20_261_125)
        var killedBeforeRecord = 0, killedAfterRecord = 0, restoredStages = 0
        let testStart = Date()
        for iteration in 0..<50 {
            let h = try Self.harness(side: side)
            try? FileManager.default.removeItem(atPath: side)
            // Past the end too: the last moments (recording, syncing history/) matter most.
            let delay = Double.random(in: 0...(runTime * 1.3), using: &rng)
            let victim = try PlumbProcess(["reconcile", "--quiet"], in: h.root)
            Thread.sleep(forTimeInterval: delay)
            victim.signal(SIGKILL)
            victim.wait()
            let context = "iteration \(iteration), killed after \(String(format: "%.3f", delay))s"

            // Nothing a crash may break.
            #expect(try RepositoryInvariants.refsPointToCommits(h.repository) == [], "\(context)")
            let head = try h.scratch.head
            #expect(try RepositoryInvariants.historyParses(h.repository, at: head) == [], "\(context)")
            let cache = try RepositoryInvariants.cacheObjectsMatch(h.root)
            #expect(cache.bad == [], "\(context)")
            if try h.state() == nil { killedBeforeRecord += 1 } else { killedAfterRecord += 1 }

            // What the killed run finished is remembered in the cache and must be restored, not rerun.
            let project = try h.project()
            let index = FingerprintIndex(store: project.store)
            let finished = Set(fingerprints.filter { index.outcome(for: $0.value) != nil }.keys)

            let outcome = try h.reconcile()
            let run = outcome.record?.run
            let rerun = Set(try h.ran().filter { run != nil && $0.hasSuffix(" " + run!) }.map { String($0.prefix(1)) })
            #expect(rerun.isDisjoint(with: finished), "\(context): reran \(rerun.sorted()) though \(finished.sorted()) were cached")
            restoredStages += finished.count
            #expect(recordedResult(try h.state()) == want, "\(context)")
            #expect(!(try h.plan().hasChanges), "\(context): converged state must leave nothing to do")
            #expect(try RepositoryInvariants.refsPointToCommits(h.repository) == [], "\(context)")
            #expect(try RepositoryInvariants.cacheObjectsMatch(h.root).bad == [], "\(context)")
        }
        let elapsed = Date().timeIntervalSince(testStart)
        print("crash: 50 SIGKILLs over a \(String(format: "%.2f", runTime))s run: \(killedBeforeRecord) before the record, \(killedAfterRecord) after; \(restoredStages) finished stages restored, not rerun; \(String(format: "%.1f", elapsed))s")
        // Both sides of the single recording point must have been hit, or the schedule tested little.
        #expect(killedBeforeRecord > 0)
        #expect(killedAfterRecord > 0)
        #expect(restoredStages > 0)
    }
}
