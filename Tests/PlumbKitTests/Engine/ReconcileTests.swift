import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// A four-stage pipeline: prepare → train → evaluate, and an independent lint stage.
let fourStages = """
version: 1
stages:
  prepare:
    cmd: echo prepare >> $SIDE && mkdir -p build && tr a-z A-Z < spec/data.txt > build/clean.txt
    deps: [spec/data.txt]
    outs: [build/clean.txt]
  train:
    cmd: echo train >> $SIDE && sh spec/train.sh
    deps: [spec/train.sh, build/clean.txt]
    params: [train]
    outs: [build/model.txt]
  evaluate:
    cmd: >-
      echo evaluate >> $SIDE && wc -l < build/model.txt > build/score.txt &&
      echo '{"score": 0.5}' > build/metrics.json
    deps: [build/model.txt]
    outs: [build/score.txt]
    metrics: [build/metrics.json]
  lint:
    cmd: echo lint >> $SIDE && mkdir -p build && cp spec/data.txt build/lint.txt
    deps: [spec/data.txt]
    params: [lint]
    outs: [build/lint.txt]
"""

let fourStagesParams = """
train:
  depth: 4
  rate: 0.1
lint:
  strict: true
unused: 1
"""

func fourStageHarness() throws -> PipelineHarness {
    try PipelineHarness(pipeline: fourStages, params: fourStagesParams, files: [
        "spec/data.txt": "abc\n",
        "spec/train.sh": "cat build/clean.txt > build/model.txt\necho \"depth $(cat $PLUMB_PARAMS)\" > /dev/null\n",
    ])
}

@Suite struct ReconcileTests {
    @Test func firstRunRunsEverythingInDependencyOrderAndRecordsIt() throws {
        let h = try fourStageHarness()
        let outcome = try h.reconcile(jobs: 1)
        let ran = try h.ran()
        #expect(Set(ran) == ["prepare", "train", "evaluate", "lint"])
        #expect(ran.firstIndex(of: "prepare")! < ran.firstIndex(of: "train")!)
        #expect(ran.firstIndex(of: "train")! < ran.firstIndex(of: "evaluate")!)
        let head = try h.repository.commit(try h.scratch.head)
        #expect(head.summary == "plumb(default): ran lint, prepare, train, evaluate [skip ci]")
        #expect(head.message.contains("Plumb-Run: \(outcome.record!.run)"))
        #expect(head.message.contains("Plumb-Spec: \(outcome.plan.commit.hex)"))
        let state = try #require(try h.state())
        #expect(state.stages.count == 4)
        #expect(state.metrics["evaluate.score"] == 0.5)
        let runPath = RunRecord.path(for: "default", run: outcome.record!.run)
        let record = try RunRecord.decode(try #require(try h.repository.file(at: runPath, in: try h.scratch.head)), path: runPath)
        #expect(record.status == .succeeded)
        #expect(record.stages["train"]?.status == .succeeded)
        // The working tree's history/ follows the branch, and nothing else in it changed.
        #expect(try h.repository.workingTreeChanges(against: try h.scratch.head, paths: ["history", "spec"]).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: h.root + "/build"))
    }

    @Test func aLongListOfStagesIsAbbreviatedInTheCommitSubject() {
        #expect(Recorder.listed(["a", "b", "c", "d", "e"]) == "a, b, c, d, e")
        let many = (0..<1000).map { "s\($0)" }
        #expect(Recorder.listed(many) == "s0, s1, s2, s3, s4 and 995 more")
    }

    @Test func aSecondReconcileRunsAndCommitsNothing() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        _ = try h.ran()
        let commits = try h.commitCount()
        let outcome = try h.reconcile()
        #expect(try h.ran() == [])
        #expect(outcome.commit == nil)
        #expect(!outcome.plan.hasChanges)
        #expect(try h.commitCount() == commits)
    }

    @Test func aParamChangeRerunsItsStageAndWhatDependsOnIt() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        _ = try h.ran()
        try h.edit("spec/params.yaml", fourStagesParams.replacingOccurrences(of: "depth: 4", with: "depth: 6"))
        let plan = try h.plan()
        #expect(plan.stage("train")?.action == .run)
        #expect(plan.stage("train")?.reasons.map(\.description) == ["param train.depth: 4 → 6"])
        #expect(plan.stage("evaluate")?.action == .mayRun)
        #expect(plan.stage("prepare")?.action == .unchanged)
        #expect(plan.stage("lint")?.action == .unchanged)
        // train's output does not depend on depth: evaluate is cut off.
        try h.reconcile()
        #expect(try h.ran() == ["train"])
    }

    @Test func aChangeToAnUnrelatedParamRunsNothing() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        _ = try h.ran()
        try h.edit("spec/params.yaml", fourStagesParams.replacingOccurrences(of: "unused: 1", with: "unused: 2"))
        let outcome = try h.reconcile()
        #expect(try h.ran() == [])
        #expect(outcome.commit == nil)
    }

    @Test func aChangedInputThatFlowsDownstreamRerunsDependants() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        _ = try h.ran()
        try h.edit("spec/data.txt", "abcd\n")
        try h.reconcile(jobs: 1)
        let ran = try h.ran()
        #expect(Set(ran) == ["prepare", "train", "evaluate", "lint"])
    }

    @Test func earlyCutoffWhenACodeChangeLeavesTheOutputByteIdentical() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        _ = try h.ran()
        // Quoting changes prepare's command but not what it writes.
        try h.edit("spec/pipeline.yaml", fourStages.replacingOccurrences(of: "$SIDE", with: h.sideFile)
            .replacingOccurrences(of: "tr a-z A-Z", with: "tr 'a-z' 'A-Z'"))
        let plan = try h.plan()
        #expect(plan.stage("prepare")?.action == .run)
        #expect(plan.stage("train")?.action == .mayRun)
        let outcome = try h.reconcile()
        #expect(try h.ran() == ["prepare"])
        #expect(outcome.result?.outcomes["train"]?.status == .unchanged)
        #expect(outcome.result?.outcomes["evaluate"]?.status == .unchanged)
    }

    @Test func aParamSetBackToAnEarlierValueIsRestoredFromTheCache() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        try h.edit("spec/params.yaml", fourStagesParams.replacingOccurrences(of: "strict: true", with: "strict: false"))
        try h.reconcile()
        _ = try h.ran()
        try h.edit("spec/params.yaml", fourStagesParams)
        let plan = try h.plan()
        #expect(plan.stage("lint")?.action == .restore)
        let outcome = try h.reconcile()
        #expect(try h.ran() == [])
        #expect(outcome.result?.outcomes["lint"]?.status == .restored)
        #expect(outcome.commit != nil)
        // Restored, the recorded state equals the first run's for that stage.
        #expect(try h.state()?.stages["lint"]?.params["lint"] == .object(["strict": .bool(true)]))
    }

    @Test func aFailingStageBlocksDependantsAndIsRecordedThenAFixRunsOnlyWhatIsLeft() throws {
        let h = try fourStageHarness()
        try h.edit("spec/train.sh", "echo 'training blew up' >&2\nexit 1\n")
        let outcome = try h.reconcile(jobs: 1)
        #expect(Set(try h.ran()) == ["prepare", "train", "lint"])
        let result = try #require(outcome.result)
        #expect(result.status == .failed)
        #expect(result.outcomes["train"]?.status == .failed)
        #expect(result.outcomes["train"]?.exitCode == 1)
        #expect(result.outcomes["evaluate"]?.status == .blocked)
        #expect(result.outcomes["lint"]?.status == .succeeded)
        // The failure is committed, with the log's tail.
        let path = RunRecord.path(for: "default", run: outcome.record!.run)
        let record = try RunRecord.decode(try #require(try h.repository.file(at: path, in: try h.scratch.head)), path: path)
        #expect(record.status == .failed)
        #expect(record.stages["train"]?.logTail?.contains("training blew up") == true)
        #expect(try h.state()?.stages["train"]?.status == .failed)
        #expect(try h.repository.commit(try h.scratch.head).summary.contains("failed train"))

        try h.edit("spec/train.sh", "cat build/clean.txt > build/model.txt\n")
        let plan = try h.plan()
        #expect(plan.stage("prepare")?.action == .unchanged)
        #expect(plan.stage("lint")?.action == .unchanged)
        #expect(plan.stage("train")?.action == .run)
        #expect(plan.stage("evaluate")?.action == .create)
        try h.reconcile()
        #expect(try h.ran() == ["train", "evaluate"])
    }

    @Test func aFailureWithUnchangedInputsStillRunsAgain() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          flaky:
            cmd: echo flaky >> $SIDE && test -f /nonexistent-\(UUID().uuidString)
        """)
        try h.reconcile()
        let plan = try h.plan()
        #expect(plan.stage("flaky")?.action == .run)
        #expect(plan.stage("flaky")?.reasons.first?.kind == .previousFailure)
    }

    @Test func aStageThatLeavesTheSpecIsDropped() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        let without = fourStages.replacingOccurrences(of: "$SIDE", with: h.sideFile)
            .components(separatedBy: "  lint:")[0]
        try h.edit("spec/pipeline.yaml", without)
        let plan = try h.plan()
        #expect(plan.dropped == ["lint"])
        #expect(plan.hasChanges)
        try h.reconcile()
        #expect(try h.state()?.stages["lint"] == nil)
        #expect(try h.repository.commit(try h.scratch.head).summary.contains("dropped lint"))
    }

    @Test func independentStagesRunAtTheSameTime() throws {
        // Each stage records when it starts and ends; with --jobs 2 the two intervals overlap.
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          left:
            cmd: date +%s.%N > $SIDE.left-start; sleep 1; date +%s.%N > $SIDE.left-end
          right:
            cmd: date +%s.%N > $SIDE.right-start; sleep 1; date +%s.%N > $SIDE.right-end
        """)
        try h.reconcile(jobs: 2)
        func time(_ name: String) throws -> Double {
            Double(try String(contentsOfFile: h.sideFile + "." + name, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        }
        #expect(try time("left-start") < time("right-end"))
        #expect(try time("right-start") < time("left-end"))
    }

    @Test func aTimeoutKillsTheStagesWholeProcessGroup() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          slow:
            cmd: sleep 300 & echo $! > $SIDE.child; sleep 300
            timeout: 1
        """)
        let outcome = try h.reconcile()
        #expect(outcome.result?.outcomes["slow"]?.status == .failed)
        let child = try #require(Int32(try String(contentsOfFile: h.sideFile + ".child", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        // kill(pid, 0) fails with ESRCH once the process is gone (a zombie would still answer; it is reaped by init).
        var gone = false
        for _ in 0..<50 where !gone {
            gone = kill(child, 0) != 0 || processIsZombie(child)
            if !gone { usleep(100_000) }
        }
        #expect(gone)
    }

    @Test func aDryRunLeavesTheRepositoryByteIdentical() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        try h.edit("spec/params.yaml", fourStagesParams.replacingOccurrences(of: "depth: 4", with: "depth: 5"))
        try h.scratch.write("spec/data.txt", "uncommitted\n")
        let before = try snapshotTree(h.root)
        let result = try runProcess(plumbExecutable(), ["reconcile", "--dry-run", "--detailed-exitcode"], in: h.root)
        #expect(result.status == 2)
        #expect(result.stdout.contains("~ train"))
        #expect(result.stdout.contains("uncommitted edits to spec/data.txt"))
        #expect(try snapshotTree(h.root) == before)
    }
}

/// Every file under `root` except `.plumb/` (ignored local cache state), with its content.
func snapshotTree(_ root: String) throws -> [String: Data] {
    var out: [String: Data] = [:]
    let enumerator = FileManager.default.enumerator(atPath: root)!
    while let path = enumerator.nextObject() as? String {
        if path == ".plumb" || path.hasPrefix(".plumb/") { enumerator.skipDescendants(); continue }
        var isDir: ObjCBool = false
        let full = root + "/" + path
        if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue {
            out[path] = try Data(contentsOf: URL(fileURLWithPath: full))
        }
    }
    return out
}

func processIsZombie(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    return stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? false
}

/// `always_run` end to end (issue 12, item 6): the stage runs on every reconcile, and what
/// depends on it is cut off when its output comes out the same.
@Suite struct AlwaysRunTests {
    @Test func anAlwaysRunStageRunsEveryTimeAndCutsOffWhatDependsOnIt() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          fetch:
            cmd: echo fetch >> $SIDE && mkdir -p build && echo same > build/table.csv
            outs: [build/table.csv]
            always_run: true
          train:
            cmd: echo train >> $SIDE && mkdir -p build && cp build/table.csv build/model.txt
            deps: [build/table.csv]
            outs: [build/model.txt]
        """)
        try h.reconcile()
        #expect(try h.ran() == ["fetch", "train"])
        let plan = try h.plan()
        #expect(plan.stage("fetch")?.reasons.map(\.description) == ["always runs (always_run)"])
        let again = try h.reconcile()
        #expect(try h.ran() == ["fetch"])
        #expect(again.record?.stages["train"]?.status == .unchanged)
    }
}

/// Issue 12, item 4: an environment's variables for one stage are that stage's alone.
@Suite struct ScopedVariableTests {
    @Test func movingTheDeployTargetRerunsDeployAlone() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          train:
            cmd: echo train >> $SIDE && mkdir -p build && echo model > build/model.txt
            outs: [build/model.txt]
          deploy:
            cmd: echo "deploy $TARGET" >> $SIDE && mkdir -p build && cp build/model.txt build/deployed.txt
            deps: [build/model.txt]
            outs: [build/deployed.txt]
        """, files: ["environments/dev.yaml": "env: {LEVEL: 1}\nstages:\n  deploy:\n    env: {TARGET: deployments/a}\n"])
        try h.reconcile()
        #expect(try h.ran() == ["train", "deploy deployments/a"])
        #expect(try h.state("dev")?.stages["train"]?.env == ["LEVEL": "1"], "train does not receive deploy's variable")
        try h.edit("environments/dev.yaml", "env: {LEVEL: 1}\nstages:\n  deploy:\n    env: {TARGET: deployments/b}\n")
        let plan = try h.plan()
        #expect(plan.stage("train")?.action == .unchanged)
        #expect(plan.stage("deploy")?.reasons.map(\.description) == ["variable TARGET changed: deployments/a → deployments/b"])
        try h.reconcile()
        #expect(try h.ran() == ["deploy deployments/b"])
    }

    @Test func aScopedStageThatDoesNotExistIsAnError() throws {
        let result = SpecLoader.load(from: MemorySpecSource([
            SpecPaths.pipeline: "version: 1\nstages:\n  deploy: {cmd: x}\n",
            "environments/dev.yaml": "stages:\n  deplyo:\n    env: {TARGET: x}\n",
        ]))
        let error = try #require(result.diagnostics.first { $0.severity == .error })
        #expect(error.message == "environment 'dev' sets variables for 'deplyo', which is not a stage")
        #expect(error.hint == "did you mean 'deploy'?")
        #expect(error.location?.line == 2)
    }
}

/// Issue 12, item 5 (first half): a script that reads spec/params.yaml itself, as DVC-style
/// projects do, sees the environment's overrides its record says it ran with.
@Suite struct WorkspaceParamsTests {
    @Test func theWorkspacesParamsFileHoldsTheEnvironmentsEffectiveParams() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          train:
            cmd: mkdir -p build && cp spec/params.yaml build/seen.txt
            params: [train]
            outs: [build/seen.txt]
        """, params: "# tuned by hand\ntrain:\n  depth: 4\n  rate: 0.1\n", files: [
            "environments/dev.yaml": "params: {train: {depth: 6}}\n",
            "environments/plain.yaml": "{}\n",
        ])
        let dev = try h.reconcile(environment: "dev")
        let seen = try String(contentsOfFile: h.root + "/.plumb/work/dev/build/seen.txt", encoding: .utf8)
        #expect(seen == "{\"train\":{\"depth\":6,\"rate\":0.1}}\n", "\(seen)")
        #expect(dev.record?.stages["train"]?.status == .succeeded)
        #expect(try h.state("dev")?.stages["train"]?.params["train"] == .object(["depth": .int(6), "rate": .double(0.1)]))
        // Without overrides the file is the committed one, comments and all.
        try h.reconcile(environment: "plain")
        #expect(try String(contentsOfFile: h.root + "/.plumb/work/plain/build/seen.txt", encoding: .utf8) == "# tuned by hand\ntrain:\n  depth: 4\n  rate: 0.1\n")
        // The repository's own file is never touched.
        #expect(try String(contentsOfFile: h.root + "/spec/params.yaml", encoding: .utf8).hasPrefix("# tuned by hand"))
    }
}
