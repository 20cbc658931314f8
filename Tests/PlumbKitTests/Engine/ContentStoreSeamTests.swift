import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// The engine through the content-store seam: every read and write goes through the store it is
/// given, and it recovers from what a store reports.
@Suite struct ContentStoreSeamTests {
    static func pipeline(_ trainCommand: String) -> String {
        """
        version: 1
        stages:
          prepare:
            cmd: echo "prepare" >> $SIDE; mkdir -p build && echo rows > build/data.txt
            outs: [build/data.txt]
          train:
            cmd: echo "train" >> $SIDE; mkdir -p build && \(trainCommand) build/data.txt > build/model.txt
            deps: [build/data.txt]
            outs: [build/model.txt]
        """
    }

    func spied(_ h: PipelineHarness) throws -> (Project, SpyStore) {
        var spy: SpyStore?
        let project = try Project(path: h.root) { cache in let s = SpyStore(cache); spy = s; return s }
        return (project, try #require(spy))
    }

    @Test func everyOutputAndLogIsWrittenThroughTheStoreAndAnUnchangedReconcileReadsNoContent() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline("cat"))
        let (project, spy) = try spied(h)
        let first = try Reconciler(project: project).reconcile(ref: nil, environment: nil, jobs: 1)
        #expect(first.record?.status == .succeeded)
        // Two outputs and two logs.
        #expect(spy.count(.store) == 4)
        #expect(spy.count(.remember) == 2)
        spy.resetCounts()
        let second = try Reconciler(project: project).reconcile(ref: nil, environment: nil, jobs: 1)
        #expect(second.record == nil)
        #expect(spy.count(.store) == 0 && spy.count(.materialize) == 0 && spy.count(.data) == 0)
    }

    @Test func aCorruptObjectReportedByTheStoreRebuildsItsProducerAndTheRunSucceeds() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline("cat"))
        try h.reconcile()
        #expect(try h.ran() == ["prepare", "train"])
        let data = try #require(try h.state()?.stages["prepare"]?.outputs["build/data.txt"])
        // Only train's command changes: prepare's output comes from the store, which says it is corrupt.
        try h.edit("spec/pipeline.yaml", Self.pipeline("cat -n").replacingOccurrences(of: "$SIDE", with: h.sideFile))
        let (project, spy) = try spied(h)
        spy.corruptNextRead(of: data)
        let log = EventLog()
        let outcome = try Reconciler(project: project, observer: log).reconcile(ref: nil, environment: nil, jobs: 1)
        #expect(log.lines.contains("corrupt"))
        #expect(outcome.record?.status == .succeeded)
        #expect(try h.ran() == ["prepare", "train"], "prepare ran again to rebuild the object; train ran once it had it")
        #expect(spy.inner.contains(data))
    }

    @Test func gcCountsAndRemovesThroughTheStoreAndADryRunRemovesNothing() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline("cat"))
        try h.reconcile()
        try h.edit("spec/pipeline.yaml", Self.pipeline("cat -n").replacingOccurrences(of: "$SIDE", with: h.sideFile))
        try h.reconcile()
        let (project, spy) = try spied(h)
        let dry = try GarbageCollector(project: project).collect(onlyCurrent: true, dryRun: true)
        #expect(dry.removed > 0 && spy.count(.remove) == 0)
        let real = try GarbageCollector(project: project).collect(onlyCurrent: true, dryRun: false)
        #expect(real.removed == dry.removed && spy.count(.remove) == real.removed + real.removedFingerprints)
        let again = try GarbageCollector(project: project).collect(onlyCurrent: true, dryRun: true)
        #expect(again.removed == 0 && again.kept == real.kept)
    }
}
