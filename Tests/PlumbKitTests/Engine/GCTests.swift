import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct GCTests {
    @Test func gcRemovesOnlyWhatNoRecordNeeds() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        let project = try h.project()
        let orphan = try project.cache.storeData(Data("left by a killed run".utf8))
        let recorded = try #require(try h.state()?.stages["train"]?.outputs["build/model.txt"])

        let dry = try GarbageCollector(project: project).collect(onlyCurrent: false, dryRun: true)
        #expect(dry.removed == 1)
        #expect(project.cache.contains(orphan))

        let report = try GarbageCollector(project: project).collect(onlyCurrent: false, dryRun: false)
        #expect(report.removed == 1)
        #expect(!project.cache.contains(orphan))
        #expect(project.cache.contains(recorded))
        // Logs of recorded runs stay too, and nothing needs to run again.
        #expect(try h.plan().hasChanges == false)
    }

    @Test func onlyCurrentDropsOlderRunsOutputsWhichThenMustBeRebuilt() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          make:
            cmd: mkdir -p build && cat "$PLUMB_PARAMS" > build/out.txt
            params: [p]
            outs: [build/out.txt]
        """, params: "p: 1\n")
        try h.reconcile()
        try h.edit("spec/params.yaml", "p: 2\n")
        try h.reconcile()
        try h.edit("spec/params.yaml", "p: 1\n")
        #expect(try h.plan().stage("make")?.action == .restore)
        // Kept by default: the first run's record still refers to its output.
        #expect(try GarbageCollector(project: try h.project()).collect(onlyCurrent: false, dryRun: false).removed == 0)
        #expect(try h.plan().stage("make")?.action == .restore)
        let report = try GarbageCollector(project: try h.project()).collect(onlyCurrent: true, dryRun: false)
        #expect(report.removed > 0)
        #expect(report.removedFingerprints == 1)
        #expect(try h.plan().stage("make")?.action == .run)
    }
}
