import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Stage and output options end to end (issue 17, items 4 and 5): `cmd` as a list, `wdir`,
/// `frozen`, `always_changed`, YAML metrics inside an out folder, `persist`. Real repositories,
/// real processes, real records.
@Suite struct StageOptionsTests {
    @Test func aCommandListRunsInOrderEachInItsOwnSubshellAndStopsAtTheFirstFailure() throws {
        let harness = try PipelineHarness(pipeline: """
        version: 1
        stages:
          listed:
            cmd:
              - mkdir -p build && cd build && echo first >> $SIDE  # a comment ends at the line
              - echo second >> $SIDE; pwd > build/where.txt
            outs: [build/where.txt]
          failing:
            cmd: [echo one >> $SIDE, "false", echo never >> $SIDE]

        """)
        let outcome = try harness.reconcile()
        #expect(Set(try harness.ran()) == ["first", "second", "one"])
        // The `cd` of the first command did not reach the second.
        let workspace = try harness.project().workspace(for: EnvironmentSpec.implicitName)
        let whereFile = try String(contentsOfFile: workspace + "/build/where.txt", encoding: .utf8)
        #expect(!whereFile.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("/build"))
        #expect(outcome.result?.outcomes["listed"]?.status == .succeeded)
        #expect(outcome.result?.outcomes["failing"]?.status == .failed)
        // A one-item list is the command itself: the same fingerprint as the plain string.
        let one = try PipelineHarness(pipeline: "version: 1\nstages:\n  s:\n    cmd: [echo x]\n")
        let plain = try PipelineHarness(pipeline: "version: 1\nstages:\n  s:\n    cmd: echo x\n")
        #expect(try one.plan().stages[0].fingerprint == plain.plan().stages[0].fingerprint)
    }

    @Test func wdirRunsTheCommandThereWhilePathsStayRootRelative() throws {
        let harness = try PipelineHarness(pipeline: """
        version: 1
        stages:
          copy:
            wdir: src/data
            cmd: mkdir -p ../../build && cat input.txt > ../../build/out.txt
            deps: [src/data/input.txt]
            outs: [build/out.txt]

        """, files: ["src/data/input.txt": "from src\n"])
        try harness.reconcile()
        let record = try #require(try harness.state()?.stages["copy"])
        #expect(record.command.hasPrefix("cd -- 'src/data' || exit\n"))
        let digest = try #require(record.outputs["build/out.txt"])
        #expect(try harness.project().store.data(digest) == Data("from src\n".utf8))
        #expect(try harness.plan().stages[0].action == .unchanged)
        // The folder is part of what ran: running it from elsewhere is a change of command.
        try harness.edit("spec/pipeline.yaml", try String(contentsOfFile: harness.root + "/spec/pipeline.yaml", encoding: .utf8)
            .replacingOccurrences(of: "wdir: src/data", with: "wdir: ./src/data/"))
        #expect(try harness.plan().stages[0].action == .unchanged)
        try harness.edit("spec/pipeline.yaml", try String(contentsOfFile: harness.root + "/spec/pipeline.yaml", encoding: .utf8)
            .replacingOccurrences(of: "wdir: ./src/data/", with: "wdir: src"))
        #expect(try harness.plan().stages[0].reasons.map(\.kind) == [.command])
    }

    @Test func aFrozenStageKeepsItsOutputsWhateverItsInputsBecomeUntilForced() throws {
        func pipeline(frozen: Bool) -> String {
            """
            version: 1
            stages:
              gen:
                cmd: echo gen >> $SIDE; mkdir -p build; cat spec/input.txt > build/gen.txt
                deps: [spec/input.txt]
                outs: [build/gen.txt]
                frozen: \(frozen)
              use:
                cmd: echo use >> $SIDE; mkdir -p build; cat build/gen.txt > build/use.txt
                deps: [build/gen.txt]
                outs: [build/use.txt]

            """
        }
        // Frozen before it ever ran: nothing to keep, a plan error that says what to do.
        let fresh = try PipelineHarness(pipeline: pipeline(frozen: true), files: ["spec/input.txt": "one\n"])
        let refused = try fresh.plan()
        #expect(refused.diagnostics.contains { $0.message.contains("stage 'gen' is frozen, but it never ran") && ($0.hint ?? "").contains("--force gen") })

        let harness = try PipelineHarness(pipeline: pipeline(frozen: false), files: ["spec/input.txt": "one\n"])
        try harness.reconcile()
        #expect(try harness.ran() == ["gen", "use"])
        let kept = try #require(try harness.state()?.stages["gen"])

        try harness.scratch.write("spec/input.txt", "two\n")
        try harness.edit("spec/pipeline.yaml", pipeline(frozen: true).replacingOccurrences(of: "$SIDE", with: harness.sideFile))
        let plan = try harness.plan()
        let gen = try #require(plan.stages.first { $0.name == "gen" })
        #expect(gen.action == .unchanged)
        #expect(gen.reasons.first?.kind == .frozen)
        #expect(gen.reasons.contains { $0.kind == .dep && $0.subject == "spec/input.txt" })
        #expect(plan.stages.first { $0.name == "use" }?.action == .unchanged)
        try harness.reconcile()
        #expect(try harness.ran().isEmpty)
        #expect(try harness.state()?.stages["gen"] == kept)

        // Forcing it by name runs it, with the new input.
        try harness.reconcile(forced: ["gen"])
        #expect(try harness.ran() == ["gen", "use"])
        let digest = try #require(try harness.state()?.stages["gen"]?.outputs["build/gen.txt"])
        #expect(try harness.project().store.data(digest) == Data("two\n".utf8))
    }

    @Test func alwaysChangedIsAlwaysRun() throws {
        let harness = try PipelineHarness(pipeline: """
        version: 1
        stages:
          poll:
            cmd: echo poll >> $SIDE
            always_changed: true

        """)
        try harness.reconcile()
        try harness.reconcile()
        #expect(try harness.ran() == ["poll", "poll"])
        #expect(try harness.plan().stages[0].reasons.map(\.kind) == [.alwaysRun])
    }

    @Test func yamlMetricsInsideAnOutFolderAreReadAndStoredWithTheFolder() throws {
        let harness = try PipelineHarness(pipeline: """
        version: 1
        stages:
          train:
            cmd: "mkdir -p dvclive && printf 'acc: 0.5\\nnested:\\n  f1: 0.25\\nnote: text\\n' > dvclive/metrics.yaml && echo w > dvclive/weights"
            outs: [dvclive]
            metrics: [dvclive/metrics.yaml]

        """)
        let outcome = try harness.reconcile()
        let record = try #require(try harness.state()?.stages["train"])
        #expect(record.metrics == ["train.acc": 0.5, "train.nested.f1": 0.25])
        #expect(Array(record.outputs.keys) == ["dvclive"])
        #expect(outcome.result?.outcomes["train"]?.status == .succeeded)
        // Unchanged next time: the folder holds the metrics file, and nothing is missing.
        #expect(try harness.plan().stages[0].action == .unchanged)
    }

    @Test func aPersistentOutputIsPutBackBeforeTheStageRunsEvenInANewWorkspace() throws {
        let harness = try PipelineHarness(pipeline: """
        version: 1
        stages:
          count:
            cmd: mkdir -p build; n=$(cat build/count 2>/dev/null || echo 0); echo $((n + 1)) > build/count; echo $((n + 1)) > build/last
            outs:
              - build/count: {persist: true}
              - build/last
            always_run: true

        """)
        try harness.reconcile()
        try harness.reconcile()
        // A workspace rebuilt from scratch (another machine, a cleaned .plumb): the record's content comes back.
        try FileManager.default.removeItem(atPath: try harness.project().workspace(for: EnvironmentSpec.implicitName))
        try harness.reconcile()
        let record = try #require(try harness.state()?.stages["count"])
        let store = try harness.project().store
        #expect(try store.data(#require(record.outputs["build/count"])) == Data("3\n".utf8))
        #expect(try store.data(#require(record.outputs["build/last"])) == Data("3\n".utf8))
        // What it resumes from is not in its fingerprint, so its results are never restored by one.
        #expect(try harness.plan().stages[0].persisted?["build/count"] == record.outputs["build/count"])
    }
}

/// `cache: false`: kept in git with the record, not in the artifact store (KeptOutputs).
@Suite struct KeptOutputTests {
    @Test func anUncachedOutputTravelsWithTheRecordAndAFreshCloneChecksItOut() throws {
        let store = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: store) }
        let harness = try PipelineHarness(pipeline: """
        version: 1
        cache: {url: "file://\(store)"}
        stages:
          score:
            cmd: mkdir -p build && printf '{"acc"%s 0.75}\\n' ':' > build/score.json && echo weights > build/model.bin
            outs: [build/model.bin]
            metrics:
              - build/score.json: {cache: false}

        """)
        try harness.reconcile()
        let record = try #require(try harness.state()?.stages["score"])
        let digest = try #require(record.outputs["build/score.json"])
        let kept = KeptOutputs.path("build/score.json", environment: EnvironmentSpec.implicitName)
        #expect(kept == "history/default/outputs/build/score.json")
        #expect(try harness.repository.file(at: kept, in: try harness.scratch.head) == Data("{\"acc\": 0.75}\n".utf8))
        #expect(try String(contentsOfFile: harness.root + "/" + kept, encoding: .utf8) == "{\"acc\": 0.75}\n")
        // The model went to the shared store; the kept file and the stage's outcome did not.
        let stored = try FileManager.default.subpathsOfDirectory(atPath: store)
        #expect(stored.contains { $0.hasSuffix(String(try! #require(record.outputs["build/model.bin"]).hex.dropFirst(2))) })
        #expect(!stored.contains { $0.hasSuffix(String(digest.hex.dropFirst(2))) })
        #expect(!stored.contains { $0.hasSuffix(String(record.fingerprint.hex.dropFirst(2))) })

        // A clone with an empty cache takes it from git: checkout writes it, the plan finds it.
        let clone = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: clone) }
        _ = try Repository.clone(url: harness.root, to: clone + "/repo")
        let checkout = try runProcess(plumbExecutable(), ["checkout", "build/score.json"], in: clone + "/repo")
        #expect(checkout.status == 0, "\(checkout.stderr)")
        #expect(try String(contentsOfFile: clone + "/repo/build/score.json", encoding: .utf8) == "{\"acc\": 0.75}\n")
        let plan = try Reconciler(project: try Project(path: clone + "/repo")).plan(ref: nil, environment: nil).1
        #expect(plan.stages[0].action == .unchanged)

        // A copy in git that does not match the record is never used.
        let tampered = try PipelineHarness(pipeline: "version: 1\nstages:\n  s:\n    cmd: mkdir -p b && echo 1 > b/x\n    outs: [{b/x: {cache: false}}]\n")
        try tampered.reconcile()
        try tampered.edit(KeptOutputs.path("b/x", environment: EnvironmentSpec.implicitName), "2\n")
        try FileManager.default.removeItem(atPath: tampered.root + "/.plumb")
        #expect(try tampered.plan().stages[0].reasons.map(\.kind) == [.outputMissing])
    }

    /// Promoted, the copy is the source environment's: a machine with an empty cache finds it there.
    @Test func aPromotedUncachedOutputIsTakenFromTheSourceEnvironmentsCopy() throws {
        let harness = try PipelineHarness(pipeline: """
        version: 1
        stages:
          score:
            cmd: mkdir -p build && echo 0.75 > build/score.txt
            outs:
              - build/score.txt: {cache: false}

        """, files: ["environments/dev.yaml": "{}\n", "environments/staging.yaml": "from: dev\nruns: []\n"])
        #expect(try runProcess(plumbExecutable(), ["reconcile", "-q", "--env", "dev"], in: harness.root).status == 0)
        let promoted = try runProcess(plumbExecutable(), ["promote", "dev", "staging"], in: harness.root)
        #expect(promoted.status == 0, "\(promoted.stderr)")
        let clone = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: clone) }
        _ = try Repository.clone(url: harness.root, to: clone + "/repo")
        let plan = try Reconciler(project: try Project(path: clone + "/repo")).plan(ref: nil, environment: "staging").1
        #expect(plan.diagnostics.isEmpty, "\(plan.diagnostics)")
        let reconciled = try runProcess(plumbExecutable(), ["reconcile", "-q", "--env", "staging"], in: clone + "/repo")
        #expect(reconciled.status == 0, "\(reconciled.stderr)")
        try FileManager.default.removeItem(atPath: clone + "/repo/.plumb")
        let checkout = try runProcess(plumbExecutable(), ["checkout", "--env", "staging", "build/score.txt"], in: clone + "/repo")
        #expect(checkout.status == 0, "\(checkout.stderr)")
        #expect(try String(contentsOfFile: clone + "/repo/build/score.txt", encoding: .utf8) == "0.75\n")
    }

    @Test func aFolderCannotBeKeptInGitAndNothingIsRecorded() throws {
        let harness = try PipelineHarness(pipeline: """
        version: 1
        stages:
          folder:
            cmd: mkdir -p build/dir && echo x > build/dir/a
            outs:
              - build/dir: {cache: false}

        """)
        let before = try harness.commitCount()
        let error = #expect(throws: PlumbError.self) { try harness.reconcile() }
        #expect(error?.message.contains("declares the folder build/dir with 'cache: false'; only files are kept in git") == true)
        #expect(try harness.commitCount() == before)
    }
}
