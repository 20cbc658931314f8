import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine

/// The four-stage pipeline of the engine's tests, every stage a Slurm job of the real
/// single-node cluster (`executor: slurm` for the whole environment).
func slurmHarness(_ environment: String = "executor: slurm\n") throws -> PipelineHarness {
    try PipelineHarness(pipeline: fourStages, params: fourStagesParams, files: [
        "spec/data.txt": "abc\n",
        "spec/train.sh": "cat build/clean.txt > build/model.txt\necho \"depth $(cat $PLUMB_PARAMS)\" > /dev/null\n",
        "environments/default.yaml": environment,
    ])
}

/// Issue 15's "Must show": the engine's scenarios with every stage on Slurm.
@Suite(.serialized) struct SlurmRunnerTests {
    static func cluster() throws -> SlurmCluster {
        try #require(SlurmCluster.shared, "Slurm is not installed and could not be installed; scripts/slurm-cluster.sh installs it")
    }

    /// Starts `plumb reconcile` and returns once the stage's job has touched `$SIDE.started`.
    static func reconcileUntilTheJobStarts(_ h: PipelineHarness, _ cluster: SlurmCluster) throws -> Process {
        let process = configuredProcess(plumbExecutable(), ["reconcile"], in: h.root, environment: cluster.environment)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: h.sideFile + ".started") && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        return process
    }

    @Test func theEngineScenariosPassWithEveryStageAsASlurmJob() throws {
        let cluster = try Self.cluster()
        let h = try slurmHarness()
        let runner = cluster.runner

        // First run: everything, in dependency order, each stage a job of its own.
        let first = try h.reconcile(runner: runner)
        #expect(Set(try h.ran()) == ["prepare", "train", "evaluate", "lint"])
        let record = try #require(first.record)
        let placements = record.stages.compactMapValues(\.placement)
        #expect(placements.count == 4 && placements.values.allSatisfy { $0.runner == "slurm" && $0.node == "localhost" && $0.state == "COMPLETED" })
        #expect(Set(placements.values.compactMap(\.job)).count == 4, "one job per stage: \(placements)")
        #expect(try h.state()?.metrics["evaluate.score"] == 0.5)

        // No-op: nothing is submitted.
        let again = try h.reconcile(runner: runner)
        #expect(!again.plan.hasChanges && again.record == nil)
        #expect(try h.ran().isEmpty)

        // A param change reruns its stage; train's output does not depend on depth, so evaluate is cut off.
        try h.edit("spec/params.yaml", fourStagesParams.replacingOccurrences(of: "depth: 4", with: "depth: 6"))
        try h.reconcile(runner: runner)
        #expect(try h.ran() == ["train"])

        // Early cutoff: a code change that leaves prepare's output byte-identical stops there.
        try h.edit("spec/pipeline.yaml", fourStages.replacingOccurrences(of: "$SIDE", with: h.sideFile)
            .replacingOccurrences(of: "tr a-z A-Z < spec/data.txt", with: "tr 'a-z' 'A-Z' < spec/data.txt"))
        try h.reconcile(runner: runner)
        #expect(try h.ran() == ["prepare"])

        // Restore: the param set back is found in the cache, and no job is submitted for it.
        try h.edit("spec/params.yaml", fourStagesParams)
        let restored = try h.reconcile(runner: runner)
        #expect(try h.ran().isEmpty)
        #expect(restored.record?.stages["train"]?.status == .restored)
        #expect(restored.record?.stages["train"]?.placement == nil)

        // Failure and resume: the failing job's exit code is recorded, dependants are blocked,
        // and the fix runs only what is left.
        try h.edit("spec/train.sh", "exit 7\n")
        let failed = try h.reconcile(runner: runner)
        #expect(failed.record?.stages["train"]?.status == .failed)
        #expect(failed.record?.stages["train"]?.exitCode == 7)
        #expect(failed.record?.stages["train"]?.placement?.state == "FAILED")
        #expect(failed.record?.stages["evaluate"]?.status == .blocked)
        #expect(try h.ran() == ["train"], "the rest is blocked")
        try h.edit("spec/train.sh", "cat build/clean.txt > build/model.txt\necho changed > /dev/null\n")
        let resumed = try h.reconcile(runner: runner)
        // The model is the one evaluate last saw: early cutoff, without a job.
        #expect(try h.ran() == ["train"])
        #expect(resumed.record?.stages["evaluate"]?.status == .unchanged)
        #expect(try h.state()?.stages.values.allSatisfy { $0.status == .succeeded } == true)
    }

    @Test func independentStagesRunAsConcurrentJobs() throws {
        let cluster = try Self.cluster()
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          left:
            cmd: date +%s.%N > $SIDE.left-start && sleep 2 && date +%s.%N > $SIDE.left-end
          right:
            cmd: date +%s.%N > $SIDE.right-start && sleep 2 && date +%s.%N > $SIDE.right-end
        """, files: ["environments/default.yaml": "executor: slurm\n"])
        try h.reconcile(jobs: 2, runner: cluster.runner)
        func time(_ name: String) throws -> Double { try #require(Double(try String(contentsOfFile: h.sideFile + "." + name, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))) }
        #expect(try time("left-start") < (try time("right-end")) && (try time("right-start")) < (try time("left-end")), "the two jobs overlapped in time")
    }

    @Test func aStageOverItsTimeLimitIsReportedTimedOutAndItsJobIsCancelled() throws {
        let cluster = try Self.cluster()
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          slow:
            cmd: echo started && sleep 60
            timeout: 2s
            executor: slurm
        """)
        let started = Date()
        let outcome = try h.reconcile(runner: cluster.runner)
        #expect(Date().timeIntervalSince(started) < 20)
        let stage = try #require(outcome.record?.stages["slow"])
        #expect(stage.status == .failed)
        #expect(stage.logTail?.contains("started") == true, "the job's output is the stage's log: \(stage.logTail ?? "")")
        #expect(try cluster.liveJobs().filter { $0.contains("-slow") && ($0.contains("RUNNING") || $0.contains("PENDING")) }.isEmpty)
    }

    @Test func sigtermOfPlumbLeavesNoJobInTheQueue() throws {
        let cluster = try Self.cluster()
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          long:
            cmd: touch $SIDE.started && sleep 60
            executor: slurm
        """)
        let process = try Self.reconcileUntilTheJobStarts(h, cluster)
        #expect(try cluster.liveJobs().contains { $0.contains("-long") && $0.contains("RUNNING") })
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let left = try cluster.liveJobs().filter { $0.contains("-long") && ($0.contains("RUNNING") || $0.contains("PENDING")) }
        #expect(left.isEmpty, "\(left)")
        #expect(try h.state()?.stages["long"] == nil, "an interrupted stage is not recorded as done")
    }

    @Test func aReconcileKilledMidJobIsFollowedAgainByTheNextOneWithOneJobInTheRecord() throws {
        let cluster = try Self.cluster()
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          train:
            cmd: touch $SIDE.started && sleep 4 && mkdir -p build && echo "$SLURM_JOB_ID" > build/model.txt && echo trained
            outs: [build/model.txt]
            executor: slurm
        """)
        let process = try Self.reconcileUntilTheJobStarts(h, cluster)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let orphan = try #require(try cluster.liveJobs().first { $0.contains("-train") && $0.contains("RUNNING") }?.split(separator: " ").first.map(String.init))

        let outcome = try h.reconcile(runner: cluster.runner)
        let stage = try #require(outcome.record?.stages["train"])
        #expect(stage.status == .succeeded)
        #expect(stage.placement?.job == orphan, "the job the killed reconcile started, not a second one")
        let model = try #require(stage.outputs["build/model.txt"])
        #expect(String(decoding: try h.project().store.data(model), as: UTF8.self) == "\(orphan)\n", "the orphan's output is recorded")
        let sameName = try SlurmTools.run("/usr/bin/squeue", ["-h", "-t", "all", "-n", SlurmRunner.jobName(JobRequest(
            stage: "train", environment: "default", fingerprint: try #require(stage.fingerprint), executor: .slurm, resources: StageResources())), "-o", "%i"],
            environment: cluster.environment).stdout.split(separator: "\n")
        #expect(sameName == [Substring(orphan)], "one job for the stage: \(sameName)")
        let log = try #require(stage.log, "the job's output, redacted, is the stage's log")
        #expect(String(decoding: try h.project().store.data(log), as: UTF8.self).contains("trained"))
    }

    /// PLUMB_WORK_DIR puts the workspaces (where jobs run) and the logs of runs in progress on
    /// storage the nodes mount, a folder per clone; the records and the cache stay in the clone.
    @Test func workspacesCanLiveInASharedFolder() throws {
        let cluster = try Self.cluster()
        let shared = try temporaryFolder()
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          train:
            cmd: mkdir -p build && pwd > build/where.txt
            outs: [build/where.txt]
            executor: slurm
        """)
        var environment = cluster.environment
        environment["PLUMB_WORK_DIR"] = shared
        let run = try measuredPlumb(["reconcile"], in: h.root, environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        let folders = try FileManager.default.contentsOfDirectory(atPath: shared)
        #expect(folders.count == 1)
        let workspace = "\(shared)/\(folders[0])/work/default"
        #expect(try String(contentsOfFile: workspace + "/build/where.txt", encoding: .utf8) == workspace + "\n")
        #expect(!FileManager.default.fileExists(atPath: h.root + "/.plumb/work"))
        #expect(try h.state()?.stages["train"]?.status == .succeeded)
        let relative = try measuredPlumb(["plan"], in: h.root, environment: ["PLUMB_WORK_DIR": "scratch"])
        #expect(relative.status == 64 && relative.stderr.contains("PLUMB_WORK_DIR"), "\(relative.stderr)")
    }

    @Test func aMixedPipelineRunsPreprocessHereAndTrainOnTheCluster() throws {
        let cluster = try Self.cluster()
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          preprocess:
            cmd: mkdir -p build && echo "$SLURM_JOB_ID" > build/where.txt
            outs: [build/where.txt]
          train:
            cmd: mkdir -p build && echo "$SLURM_JOB_ID" > build/job.txt && cat build/where.txt >> build/job.txt
            deps: [build/where.txt]
            outs: [build/job.txt]
            executor: slurm
            resources: {cpus: 1, memory: 64M, time: 5m, partition: debug}
        """)
        let outcome = try h.reconcile(runner: cluster.runner)
        let record = try #require(outcome.record)
        #expect(record.stages["preprocess"]?.placement == nil, "a local stage")
        let job = try #require(record.stages["train"]?.placement?.job)
        let text = try String(contentsOfFile: h.root + "/.plumb/work/default/build/job.txt", encoding: .utf8)
        #expect(text == "\(job)\n\n", "train ran as job \(job), preprocess outside any job: \(text)")
    }
}

/// The Slurm runner's pure parts: sbatch options and scontrol's answer.
@Suite struct SlurmMappingTests {
    @Test func resourcesBecomeSbatchOptions() {
        let r = StageResources(cpus: 8, memory: "32G", gpus: 2, gpuType: "a100", time: 5400, partition: "gpu", account: "ml", sbatch: ["--qos=high"])
        #expect(SlurmTools.options(r, timeout: nil) == ["--cpus-per-task=8", "--mem=32G", "--gpus=a100:2", "--time=90", "--partition=gpu", "--account=ml", "--qos=high"])
        #expect(SlurmTools.options(StageResources(), timeout: 61) == ["--time=2"], "the stage's timeout, rounded up to minutes")
        #expect(SlurmTools.options(StageResources(gpus: 1), timeout: nil) == ["--gpus=1"])
    }

    @Test func onlyTheGPUsEnterTheFingerprint() {
        let base = FingerprintInputs(command: "x", env: [:], params: [:], inputs: [:])
        var placed = base
        placed.hardware = StageResources(cpus: 64, memory: "1T", partition: "big", account: "a").fingerprintPart
        #expect(placed.fingerprint == base.fingerprint, "where it runs does not change what it computes")
        var gpu = base
        gpu.hardware = StageResources(gpus: 1, gpuType: "h100").fingerprintPart
        var other = base
        other.hardware = StageResources(gpus: 1, gpuType: "a100").fingerprintPart
        #expect(gpu.fingerprint != base.fingerprint && gpu.fingerprint != other.fingerprint)
    }

    @Test func scontrolsLineGivesExitCodeNodeAndTimes() {
        let line = "JobId=12 JobName=plumb-x JobState=FAILED Reason=NonZeroExitCode ExitCode=7:0 SubmitTime=2026-12-03T10:00:00 "
            + "StartTime=2026-12-03T10:00:03 EndTime=2026-12-03T10:01:03 NodeList=gpu07 BatchHost=gpu07"
        let details = SlurmJobDetails(scontrolLine: line)
        #expect(details.exitCode == 7 && details.signal == nil && details.node == "gpu07")
        #expect(details.queued == 3 && details.ran == 60)
        let killed = SlurmJobDetails(scontrolLine: "ExitCode=0:9 NodeList=(null)")
        #expect(killed.exitCode == nil && killed.signal == 9 && killed.node == nil)
    }

    @Test(arguments: [
        ("COMPLETED", Int32(0), false, true), ("FAILED", Int32(3), false, false), ("TIMEOUT", Int32(0), true, false),
        ("OUT_OF_MEMORY", Int32(0), false, false), ("NODE_FAIL", Int32(0), false, false), ("PREEMPTED", Int32(0), false, false),
        ("CANCELLED", Int32(0), false, false),
    ])
    func jobStatesMapToStageResults(state: String, exit: Int32, timedOut: Bool, succeeded: Bool) {
        var details = SlurmJobDetails()
        details.exitCode = exit
        let outcome = SlurmRunner.outcome(state: state, details: details, cancelled: nil, job: "1", duration: 1)
        #expect(outcome.succeeded == succeeded && outcome.timedOut == timedOut, "\(state)")
        #expect(outcome.placement?.state == state)
    }
}
