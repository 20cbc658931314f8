import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// The engine reads and writes outputs, logs and fingerprint entries only through its `ContentStore`:
/// with a store in memory, the reconcile, its early cutoff, a corrupt object and gc all behave as with
/// the cache folder (which the other engine tests use end to end), and the folder stays empty.
@Suite struct InMemoryStoreTests {
    /// Reconciles `h` through `store`, as `plumb reconcile` does.
    @discardableResult
    func reconcile(_ h: PipelineHarness, _ store: InMemoryStore, observer: ReconcileObserver = SilentObserver()) throws -> Reconciler.Outcome {
        try Reconciler(project: try Project(path: h.root, store: { _ in store }), observer: observer)
            .reconcile(ref: nil, environment: nil, jobs: 2)
    }

    /// The names of the files under `.plumb/cache/<folder>` (shards and objects).
    func folderCache(_ h: PipelineHarness) -> [String] {
        ["objects", "manifests", "fingerprints"].flatMap { folder in
            (FileManager.default.subpaths(atPath: h.root + "/.plumb/cache/" + folder) ?? []).map { folder + "/" + $0 }
        }
    }

    @Test func outputsLogsAndTheEarlyCutoffGoThroughTheStoreAndNeverThroughTheFolder() throws {
        let h = try fourStageHarness()
        let store = InMemoryStore()
        let first = try reconcile(h, store)
        #expect(first.record?.status == .succeeded)
        let state = try #require(try h.state())
        for (stage, record) in state.stages {
            for (path, digest) in record.outputs { #expect(store.contains(digest), "\(stage): \(path)") }
        }
        let log = try #require(first.record?.stages["train"]?.log)
        #expect(store.contains(log))

        // lint's params set back to the first value: its outcome comes from the store's fingerprint entry.
        try h.edit("spec/params.yaml", fourStagesParams.replacingOccurrences(of: "strict: true", with: "strict: false"))
        try reconcile(h, store)
        _ = try h.ran()
        try h.edit("spec/params.yaml", fourStagesParams)
        let restored = try reconcile(h, store)
        #expect(try h.ran() == [])
        #expect(restored.result?.outcomes["lint"]?.status == .restored)
        #expect(try h.state()?.stages["lint"]?.outputs == state.stages["lint"]?.outputs)
        #expect(folderCache(h) == [], "nothing was written beside the store")
    }

    @Test func aCorruptObjectFailsTheStageThatReadsItIsReportedByDigestAndItsProducerRunsAgain() throws {
        let h = try fourStageHarness()
        let store = InMemoryStore()
        try reconcile(h, store)
        _ = try h.ran()
        let clean = try #require(try h.state()?.stages["prepare"]?.outputs["build/clean.txt"])
        store.corrupt(clean)
        // A param change makes train run, which stages prepare's output from the store.
        try h.edit("spec/params.yaml", fourStagesParams.replacingOccurrences(of: "depth: 4", with: "depth: 5"))
        let events = EventLog()
        let outcome = try reconcile(h, store, observer: events)

        let reported = events.all.compactMap { event -> Set<Digest>? in
            if case let .cacheObjectsCorrupt(digests) = event { return digests }
            return nil
        }
        #expect(reported == [[clean]])
        let trainErrors = events.all.compactMap { event -> String? in
            if case let .stageFinished("train", .error(message)) = event { return message }
            return nil
        }
        #expect(trainErrors.count == 1 && trainErrors[0].contains(clean.short), "\(trainErrors)")
        // train's model comes out as before, so evaluate is cut off early.
        let ran = try h.ran()
        #expect(ran == ["prepare", "train"], "\(ran)")
        #expect(outcome.record?.status == .succeeded)
        #expect(try store.data(clean) == Data("ABC\n".utf8), "rebuilt with the right content")
    }

    @Test func gcDryRunCountsWhatItWouldRemoveAndRemovesNothing() throws {
        let h = try fourStageHarness()
        let store = InMemoryStore()
        try reconcile(h, store)
        let orphan = try store.storeData(Data("left by a killed run\n".utf8))
        let stale = SHA256Hasher.digest("a fingerprint whose output is gone")
        try store.remember(CachedOutcome(outputs: ["build/x": orphan], metrics: [:], run: "r0"), for: stale)
        let objects = store.objectCount
        let project = try Project(path: h.root, store: { _ in store })

        let dry = try GarbageCollector(project: project).collect(onlyCurrent: false, dryRun: true)
        #expect((dry.kept, dry.removed, dry.freedBytes, dry.removedFingerprints) == (objects - 1, 1, 21, 1))
        #expect(store.objectCount == objects)
        #expect(store.outcome(for: stale) != nil)

        let report = try GarbageCollector(project: project).collect(onlyCurrent: false, dryRun: false)
        #expect((report.kept, report.removed, report.freedBytes, report.removedFingerprints) == (objects - 1, 1, 21, 1))
        #expect(!store.contains(orphan))
        #expect(store.outcome(for: stale) == nil)
        #expect(store.objectCount == objects - 1)
        #expect(try Reconciler(project: project).plan(ref: nil, environment: nil).1.hasChanges == false, "nothing recorded was removed")
    }
}
