import Foundation
import PlumbCore

/// Runs one prepared stage command and says how it ended: the seam between deciding what runs
/// (the executor, drift probes) and where it runs (a local process today; a cluster job later).
///
/// A request is complete in itself — command, working folder, the whole environment, timeout,
/// where the log goes, what to redact — so a runner never reaches back into the executor. A runner
/// leaves the command's output, redacted, in `request.logFile` by the time it returns, calls
/// `request.onLine` for each line if it can stream, and stops its work when `Interruption` is
/// requested (the executor does not wait for a runner that does not).
package protocol StageRunner: Sendable {
    /// Blocks until the command ended. Throws only when it could not be started at all.
    func run(_ request: ProcessRequest) throws -> ProcessOutcome
}

/// What a runner that places work elsewhere needs to know of a stage besides its command.
package struct JobRequest: Sendable, Hashable {
    package var stage: String
    package var environment: String
    /// Names the batch job, so a restarted reconcile can find it.
    package var fingerprint: Digest
    package var executor: ExecutorKind
    package var resources: StageResources

    package init(stage: String, environment: String, fingerprint: Digest, executor: ExecutorKind, resources: StageResources) {
        self.stage = stage; self.environment = environment; self.fingerprint = fingerprint
        self.executor = executor; self.resources = resources
    }
}

/// A runner whose work can outlive the plumb that started it (a batch job). A reconcile asks it,
/// before it replaces the workspace, for jobs still running there for the stages it is about to
/// run: it waits for them and keeps their results instead of running the stages again.
package protocol OrphanAdopting: Sendable {
    /// For each of `jobs` with a job still live in `workspace`: blocks until it ends, and says how.
    func adoptOrphans(_ jobs: [JobRequest], workspace: String) -> [AdoptedJob]
}

/// A job a killed reconcile left running, followed to its end.
package struct AdoptedJob: Sendable {
    package var stage: String
    package var outcome: ProcessOutcome
    /// What the job printed, not yet redacted (the file its scheduler wrote).
    package var output: String?
}

/// Sends each stage to the runner its `executor` names: local processes, or Slurm jobs (the
/// Slurm runner is made on first use, so a pipeline without Slurm stages never looks for it).
package final class RoutingRunner: StageRunner, OrphanAdopting, Sendable {
    private let local: StageRunner
    private let slurm: Locked<StageRunner?>
    private let makeSlurm: @Sendable () throws -> StageRunner

    package init(local: StageRunner = LocalProcessRunner(), slurm: @escaping @Sendable () throws -> StageRunner = { try SlurmRunner() }) {
        self.local = local
        self.slurm = Locked(nil)
        self.makeSlurm = slurm
    }

    package func run(_ request: ProcessRequest) throws -> ProcessOutcome {
        guard request.job?.executor == .slurm else { return try local.run(request) }
        return try slurmRunner().run(request)
    }

    package func adoptOrphans(_ jobs: [JobRequest], workspace: String) -> [AdoptedJob] {
        let onSlurm = jobs.filter { $0.executor == .slurm }
        guard !onSlurm.isEmpty, let runner = try? slurmRunner() as? OrphanAdopting else { return [] }
        return runner.adoptOrphans(onSlurm, workspace: workspace)
    }

    private func slurmRunner() throws -> StageRunner {
        try slurm.withLock { runner in
            if let runner { return runner }
            let made = try makeSlurm()
            runner = made
            return made
        }
    }
}

/// Runs stages as process groups on this machine (`StageProcess`).
package struct LocalProcessRunner: StageRunner {
    package init() {}
    package func run(_ request: ProcessRequest) throws -> ProcessOutcome { try StageProcess.run(request) }
}
