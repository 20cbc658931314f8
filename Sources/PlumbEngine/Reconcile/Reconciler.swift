import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// The reconcile loop's one pass, as ordered steps: read → plan → apply → record.
/// Each step returns early when there is nothing for it to do, so a second pass over
/// an unchanged repository does nothing and commits nothing.
package struct Reconciler {
    package let project: Project
    /// Told what happens, as it happens.
    package let observer: ReconcileObserver
    package var feedback: Feedback
    /// Where stages and drift probes run.
    package var runner: StageRunner
    /// How apply and record are guarded against a second writer; nil takes no lock (tests of the engine alone).
    package var locking: LockPolicy?
    /// Whether a run's objects go to the shared store (when there is one) before it is recorded;
    /// false for `--no-upload`, a machine that only reads.
    package var upload = true
    /// `plumb reconcile STAGE…`: the stages to act on, with what they need (and with `downstream`
    /// what depends on them); the others keep their records. nil: every stage.
    package var targets: Set<String>?
    package var downstream = false

    package init(project: Project, observer: ReconcileObserver = SilentObserver(), feedback: Feedback = Feedback(),
                 runner: StageRunner = RoutingRunner(), locking: LockPolicy? = LockPolicy()) {
        self.project = project
        self.runner = runner
        self.observer = observer
        self.feedback = feedback
        self.locking = locking
    }

    /// The environment lock a reconcile takes around apply and record.
    package struct LockPolicy: Sendable {
        /// Shown to whoever finds the lock taken (`plumb reconcile --env dev`).
        package var command: String
        /// Seconds to wait for the lock; nil fails at once. `.infinity` waits as long as it takes.
        package var wait: Double?
        package init(command: String = "plumb reconcile", wait: Double? = nil) {
            self.command = command
            self.wait = wait
        }
    }

    /// What one pass did.
    package struct Outcome: Sendable {
        package var snapshot: Snapshot
        package var plan: Plan
        /// Nil when there was nothing to do.
        package var result: Executor.Result?
        package var record: RunRecord?
        /// The history commit, nil when nothing was recorded.
        package var commit: ObjectID?
    }

    /// Reads the commit and plans; writes nothing. With `refresh`, first runs the drift probes of the
    /// stages that deployed something (repository code), and plans those that drifted to run again.
    /// `probed`: what the probes said when the caller already ran them (the watch loop), so they do not run twice.
    package func plan(ref: String?, environment: String?, forced: Set<String> = [], refresh: Bool = false,
                      probed: [String: String]? = nil) throws -> (Snapshot, Plan) {
        let snapshot = try Trace.measure("spec and records") { try Snapshot.read(project, ref: ref, environment: environment) }
        KeptOutputs.restore(snapshot.recorded, pin: snapshot.pin, environment: snapshot.environment.name, at: snapshot.commit,
                            in: project.repository, into: project.cache)
        // A fan-out stage's name stands for all its instances (`plumb reconcile featurize`).
        let pipeline = snapshot.spec.pipeline
        func resolve(_ asked: Set<String>, _ verb: String) throws -> Set<String> {
            var out = Set<String>()
            for name in asked.sorted() {
                let meant = pipeline.stages(answeringTo: name)
                guard meant.isEmpty else { out.formUnion(meant); continue }
                let names = pipeline.targetNames
                throw PlumbError("no stage '\(name)' to \(verb)", hint: Suggest.closest(to: name, in: names).map { "did you mean '\($0)'?" }
                                     ?? "stages: \(names.joined(separator: ", "))", kind: .usage)
            }
            return out
        }
        let forced = try resolve(forced, "force")
        let targets = try targets.map { try resolve($0, "target") }
        var input = try Trace.measure("inputs identified") { try snapshot.planningInput(project, forced: forced) }
        input.targets = targets.map { $0.union(forced) }
        input.downstream = downstream
        if refresh { input.drifted = probed ?? driftedStages(snapshot) }
        var plan = Trace.measure("plan") { Planner.plan(input, cache: project.cacheView) }
        Trace.measure("stat cache saved") { try? project.statCache.save() }
        if let branch = snapshot.branch, let follows = snapshot.environment.branch ?? project.repository.defaultBranch() {
            plan.follows = follows
            plan.offBranch = !BranchPattern.matches(follows, Snapshot.shortBranch(branch))
        }
        return (snapshot, plan)
    }

    /// The stages of `snapshot` whose drift probe says their deployment no longer matches the record,
    /// with what the probe printed. Runs repository code (the probes).
    func driftedStages(_ snapshot: Snapshot) -> [String: String] {
        DriftProbe(project: project, runner: runner).driftedStages(snapshot)
    }

    /// Plans (running the drift probes unless `refresh` is false: a stage whose deployment drifted
    /// runs again), applies and records.
    package func reconcile(ref: String?, environment: String?, forced: Set<String> = [], refresh: Bool = true,
                           probed: [String: String]? = nil, jobs: Int) throws -> Outcome {
        // Shared with other writers, exclusive with `plumb gc`, from before planning: a plan that
        // restores from the cache must still find those objects when it applies.
        let cacheLock = try locking.map { try project.lockCache(.shared, command: $0.command, wait: $0.wait) }
        defer { cacheLock?.release() }
        var (snapshot, plan) = try self.plan(ref: ref, environment: environment, forced: forced, refresh: refresh, probed: probed)
        var lock: RepositoryLock?
        defer { lock?.release() }
        if let locking, plan.errors.isEmpty, plan.hasChanges {
            // Planning takes no lock (a dry run never does); the lock guards apply and record.
            lock = try project.lock(environment: plan.environment, command: locking.command, wait: locking.wait)
            // While we waited, another writer may have recorded this environment: plan again from
            // what the branch holds now, or we would redo (and then fail to record) its work.
            if try Snapshot.read(project, ref: ref, environment: environment).commit != snapshot.commit {
                (snapshot, plan) = try self.plan(ref: ref, environment: environment, forced: forced, refresh: refresh)
            }
        }
        observer.observe(.planned(plan))
        // A signal before any stage started (during the drift probes or the wait for the lock) ends
        // the pass here: no stage ran, so there is no run to record.
        if Interruption.requested { throw PlumbError("interrupted before any stage ran; nothing was recorded", kind: .interrupted) }
        guard plan.errors.isEmpty else {
            let first = plan.diagnostics.first.map { d in (d.location.map { "\($0.file):\($0.line):\($0.column): " } ?? "") + d.message }
            throw PlumbError("the plan has errors; nothing was run", hint: first)
        }
        // A feature branch's reconcile would replace what a shared environment runs (its deployment,
        // its record on that branch) with unreviewed work; its plan is for reading only.
        if plan.offBranch, let follows = plan.follows, let branch = plan.branch {
            throw PlumbError("\(plan.environment) follows \(follows), not \(Snapshot.shortBranch(branch)): reconciling it from here would replace what \(plan.environment) runs with this branch's work; nothing was run",
                             hint: "merge into \(follows) and reconcile there (`plumb plan` shows what this branch would change), or give branches an environment of their own with `branch: \"*\"` in environments/<name>.yaml")
        }
        guard plan.hasChanges else { return Outcome(snapshot: snapshot, plan: plan) }
        // Planning took an unreachable or refusing store for an empty one; running now would do
        // the work only to fail the upload that must come before the record.
        if upload, let shared = project.sharedStore, let failure = shared.failure {
            throw PlumbError("\(failure.message); nothing was run", hint: failure.hint, kind: failure.kind)
        }
        guard let branch = snapshot.branch else {
            throw PlumbError("cannot record a run of \(plan.commit.short): it is not the tip of a branch",
                             hint: "check out a branch, or pass --ref with a branch name")
        }

        let run = Self.newRunID()
        var result: Executor.Result
        var attempt = 0
        while true {
            attempt += 1
            let executor = Executor(project: project, plan: plan, options: .init(jobs: jobs, runID: run, feedback: feedback),
                                    observer: observer, runner: runner)
            result = try executor.apply()
            try? project.statCache.save()
            // A cache object that failed verification was deleted while materializing; planning again
            // schedules the stage that produced it, and whatever already ran this time is restored from
            // the fingerprint index. Bounded: a second corruption in a row is reported, not chased.
            guard !result.corruptObjects.isEmpty, attempt < 3, !Interruption.requested else { break }
            observer.observe(.cacheObjectsCorrupt(result.corruptObjects))
            (snapshot, plan) = try self.plan(ref: ref, environment: environment, forced: forced, refresh: refresh)
        }

        let state = Recorder.nextState(after: plan, result: result, previous: snapshot.recorded, run: run)
        let record = RunRecord(
            run: run, environment: plan.environment, commit: plan.commit, branch: plan.branch,
            startedAt: result.startedAt, finishedAt: result.finishedAt, status: result.status, summary: plan.summary,
            dropped: plan.dropped, stages: result.outcomes, metrics: state.metrics, pin: plan.pin)
        let message = Recorder.message(plan: plan, result: result, run: run)
        let kept = try PlumbError.wrap("cannot record run \(run)") { try KeptOutputs.collect(plan: plan, state: state, store: project.store) }
        // Every object the record names is in the shared store before the record exists, so no
        // other machine reads a history that points at something it cannot fetch; what is kept
        // in git travels with the record instead.
        if upload, let shared = project.sharedStore {
            let observer = self.observer
            let progress: TransferObserver? = feedback.progress ? { @Sendable in observer.observe(.uploading($0)) } : nil
            let report = try PlumbError.wrap("cannot record run \(run): uploading to the shared store \(shared.remote.location) failed; nothing was recorded") {
                try shared.upload(Self.objects(of: state, record: record, keptInGit: plan), progress: progress)
            }
            observer.observe(.uploaded(store: shared.remote.location, report))
        }
        // The recorder also brings history/<env> of a checked-out working tree up to date.
        let commit = try Trace.measure("record") {
            try Recorder(repository: project.repository).record(state: state, record: record, message: message,
                                                                branch: branch, base: plan.commit, kept: kept)
        }
        try? FileManager.default.removeItem(atPath: project.logDirectory(for: run))
        observer.observe(.recorded(run: run, commit: commit))
        return Outcome(snapshot: snapshot, plan: plan, result: result, record: record, commit: commit)
    }

    /// What a record names that the shared store must hold: every output of the next state, every
    /// log of the run, and the remembered outcome (action entry) of every fingerprint in them.
    /// Without the `cache: false` outputs of `plan`'s stages, nor those stages' outcomes.
    static func objects(of state: RecordedState, record: RunRecord, keptInGit plan: Plan? = nil) -> LayeredStore.Upload {
        var references = RecordedReferences()
        references.add(state)
        references.add(record)
        var upload = references.upload
        for stage in plan?.stages ?? [] where !(stage.uncached ?? []).isEmpty {
            guard let recorded = state.stages[stage.name] else { continue }
            for path in stage.uncached ?? [] { if let digest = recorded.outputs[path] { upload.contents.remove(digest) } }
            upload.outcomes.remove(recorded.fingerprint)
        }
        return upload
    }

    /// `20261125-091502-3fa9c1`: sortable by time, unique across machines in practice.
    static func newRunID(now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let random = String(format: "%06x", UInt32.random(in: 0..<0x100_0000))
        return "\(formatter.string(from: now))-\(random)"
    }
}
