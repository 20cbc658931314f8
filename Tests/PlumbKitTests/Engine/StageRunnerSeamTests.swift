import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// The executor through the stage-runner seam, with a scripted runner: what it asks a runner to run
/// and what it makes of each answer.
@Suite struct StageRunnerSeamTests {
    static let pipeline = """
    version: 1
    stages:
      prepare:
        cmd: ./prepare.sh
        outs: [build/data.txt]
        retries: 1
        env: {MODE: fast}
      train:
        cmd: ./train.sh
        deps: [build/data.txt]
        outs: [build/model]
        timeout: 90
      report:
        cmd: ./report.sh
        after: [train]
    """

    func reconcile(_ h: PipelineHarness, _ runner: ScriptedRunner, log: EventLog = EventLog()) throws -> Reconciler.Outcome {
        try Reconciler(project: try h.project(), observer: log, runner: runner).reconcile(ref: nil, environment: nil, jobs: 2)
    }

    @Test func aFailedAttemptIsRetriedAndTheRecordCountsTheAttempts() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline)
        let runner = ScriptedRunner { stage, attempt in
            switch (stage, attempt) {
            case ("prepare", 1): .init(exitCode: 1, log: "flaky\n")
            case ("prepare", _): .init(files: ["build/data.txt": "rows\n"])
            case ("train", _): .init(files: ["build/model/w.bin": "weights"])
            default: .init()
            }
        }
        let log = EventLog()
        let outcome = try reconcile(h, runner, log: log)
        #expect(outcome.record?.status == .succeeded)
        #expect(outcome.record?.stages["prepare"]?.attempts == 2)
        #expect(runner.received(for: "prepare").count == 2 && runner.received(for: "train").count == 1)
        let retried = log.lines.filter { $0 == "retrying prepare 2/2" }
        #expect(retried.count == 1)
        // Stages ran in dependency order: train only after prepare's second attempt.
        let order = runner.received.map { $0.environment["PLUMB_STAGE"] ?? "?" }
        #expect(order == ["prepare", "prepare", "train", "report"])
    }

    @Test func aTimedOutStageFailsWithItsTimeoutAndBlocksWhatWaitsForIt() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline)
        let runner = ScriptedRunner { stage, _ in
            stage == "train" ? .init(exitCode: nil, signal: 15, timedOut: true) : .init(files: ["build/data.txt": "rows\n"])
        }
        let log = EventLog()
        let outcome = try reconcile(h, runner, log: log)
        #expect(outcome.record?.status == .failed)
        #expect(outcome.record?.stages["train"]?.status == .failed)
        #expect(outcome.record?.stages["report"]?.status == .blocked)
        #expect(runner.received(for: "report").isEmpty, "a blocked stage is never handed to the runner")
        let trainEnd = log.all.compactMap { event -> StageEnd? in
            if case let .stageFinished("train", end) = event { return end }
            return nil
        }
        guard trainEnd.count == 1, case let .failed(how, _, interrupted) = trainEnd[0] else {
            Issue.record("train did not finish once as failed: \(trainEnd)"); return
        }
        #expect(how == .timedOut(after: 90) && !interrupted)
        #expect(runner.received(for: "train").first?.timeout == 90)
    }

    @Test func aStageThatExitsZeroButLeavesNoOutputFailsThoughTheRunnerSucceeded() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline)
        let runner = ScriptedRunner { _, _ in .init() }
        let outcome = try reconcile(h, runner)
        #expect(outcome.record?.stages["prepare"]?.status == .failed)
        let tail = outcome.record?.stages["prepare"]?.logTail ?? ""
        #expect(tail.contains("did not write its declared output build/data.txt"))
        #expect(outcome.record?.stages["train"]?.status == .blocked)
    }

    @Test func theRequestCarriesTheWholeStageEnvironmentAndNoPlumbCredential() throws {
        setenv("PLUMB_GIT_TOKEN", "ghp_runner_seam_secret", 1)
        defer { unsetenv("PLUMB_GIT_TOKEN") }
        let h = try PipelineHarness(pipeline: Self.pipeline)
        let runner = ScriptedRunner { stage, _ in
            stage == "prepare" ? .init(files: ["build/data.txt": "rows\n"]) : .init(exitCode: 1)
        }
        let outcome = try reconcile(h, runner)
        let request = try #require(runner.received(for: "prepare").first)
        let project = try h.project()
        let workspace = project.workspace(for: EnvironmentSpec.implicitName)
        #expect(request.command == "./prepare.sh")
        #expect(request.workingDirectory == workspace)
        #expect(request.environment["MODE"] == "fast")
        #expect(request.environment["PLUMB_ENV"] == EnvironmentSpec.implicitName)
        #expect(request.environment["PLUMB_COMMIT"] == outcome.plan.commit.hex)
        #expect(request.environment["PLUMB_RUN_ID"] == outcome.record?.run)
        #expect(request.environment["PLUMB_WORKSPACE"] == workspace)
        #expect(request.environment["GIT_CEILING_DIRECTORIES"] == (workspace as NSString).deletingLastPathComponent)
        #expect(request.environment["PLUMB_GIT_TOKEN"] == nil)
        let leaked = request.environment.values.filter { $0.contains("ghp_runner_seam_secret") }
        #expect(leaked.isEmpty)
        #expect(request.logFile.hasPrefix(project.logDirectory(for: outcome.record?.run ?? "?")))
    }

    /// A probe the shell cannot run (126, 127) knows nothing about the deployment: unknown, never
    /// drifted, so a fresh clone without the probe's interpreter does not redeploy. A real process.
    @Test func aProbeThatCannotRunIsUnknownNotDrifted() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          deploy:
            cmd: mkdir -p build && echo v1 > build/deployed.txt
            outs: [build/deployed.txt]
            check: ./no-such-probe.sh
        """)
        try h.reconcile()
        let project = try h.project()
        let snapshot = try Snapshot.read(project, ref: nil, environment: nil)
        let stage = try #require(snapshot.spec.pipeline.stage("deploy"))
        let (drift, detail) = DriftProbe(project: project).probe("./no-such-probe.sh", stage: stage, snapshot: snapshot)
        #expect(drift == .unknown)
        #expect(detail?.hasPrefix("check cannot run (exit 127)") == true, "\(detail ?? "nil")")
        #expect(DriftProbe(project: project).driftedStages(snapshot).isEmpty)
        let notExecutable = ScriptedRunner { _, _ in .init(exitCode: 126, log: "permission denied\n") }
        #expect(DriftProbe(project: project, runner: notExecutable).driftedStages(snapshot).isEmpty)
        let outcome = try h.reconcile()
        #expect(outcome.record == nil, "nothing drifted, so nothing runs")
    }

    @Test func aDriftProbeGetsTheSameEnvironmentBuilderAsItsStage() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          deploy:
            cmd: mkdir -p build && echo v1 > build/deployed.txt
            outs: [build/deployed.txt]
            check: ./probe.sh
            env: {TARGET: staging}
        """)
        try h.reconcile()
        let runner = ScriptedRunner { _, _ in .init(exitCode: 1, log: "model differs\n") }
        let project = try h.project()
        let snapshot = try Snapshot.read(project, ref: nil, environment: nil)
        let drifted = DriftProbe(project: project, runner: runner).driftedStages(snapshot)
        #expect(drifted == ["deploy": "model differs"])
        let request = try #require(runner.received.first)
        #expect(request.command == "./probe.sh")
        #expect(request.environment["TARGET"] == "staging")
        #expect(request.environment["PLUMB_STAGE"] == "deploy")
        #expect(request.environment["PLUMB_COMMIT"] == snapshot.commit.hex)
        #expect(request.timeout == 60)
    }
}
