import Foundation
import Synchronization
import PlumbCore
import PlumbGit
import PlumbStore

/// Carries out a plan: runs the stages that must run, in dependency order and in parallel,
/// in a workspace checked out from the planned commit. It reads only the plan (and the cache
/// for early cutoff); the reasons in the plan are never consulted.
///
/// `@unchecked Sendable`: stage threads share it; its mutable state (outcomes, outputs, running,
/// corrupt) is read and written only under `lock`, which the parallel-stage tests exercise (and
/// `scripts/sanitize.sh thread` checks).
package final class Executor: @unchecked Sendable {
    /// Settings of one apply.
    package struct Options: Sendable {
        /// How many stages may run at once (at least 1).
        package var jobs: Int
        /// The id of the run being made: names its log folder and goes into PLUMB_RUN_ID.
        package var runID: String
        /// Which costlier events (each line of output, progress) to emit.
        package var feedback: Feedback
        package init(jobs: Int = ProcessInfo.processInfo.activeProcessorCount, runID: String, feedback: Feedback = Feedback()) {
            self.jobs = max(1, jobs); self.runID = runID; self.feedback = feedback
        }
    }

    /// What an apply did.
    package struct Result: Sendable {
        /// Every planned stage's outcome, by stage name.
        package var outcomes: [String: StageOutcome]
        /// Succeeded unless a stage failed or was blocked, or the run was interrupted.
        package var status: RunRecord.Status
        /// When the apply began (before the workspace was prepared).
        package var startedAt: Date
        /// When the last stage finished.
        package var finishedAt: Date
        /// Cache objects that failed verification (and were deleted) while this apply read them.
        /// The stages that needed them failed; planning again schedules their producers.
        var corruptObjects: Set<Digest> = []
    }

    let project: Project
    let plan: Plan
    let options: Options
    let observer: ReconcileObserver
    /// Where stage commands run.
    let runner: StageRunner
    let workspace: String
    let index: FingerprintIndex
    /// Each output (and metrics file) of the plan, to the stage that writes it: built once, looked up per dep.
    private let producers: OutputProducers

    private let lock = NSCondition()
    private var outcomes: [String: StageOutcome] = [:]
    /// Output digests of finished stages, by stage and path.
    private var outputs: [String: [String: Digest]] = [:]
    private var running: [String: Date] = [:]
    /// Decides which stages start, settle or are blocked; told of each stage that finishes.
    private var scheduler: Scheduler
    private var corrupt: Set<Digest> = []
    /// Results of jobs a killed reconcile left running (`adoptOrphanedJobs`); written before any stage starts.
    private var adopted: [String: AdoptedResult] = [:]
    /// The inputs staged in the workspace; set by `prepareWorkspace`, before any stage starts.
    private var workspaceInputs: WorkspaceInputs!
    /// The commit's files stored in Git LFS, by path: not in the workspace until a stage declares them.
    private var lfsFiles: [String: LFSFile] = [:]
    /// The repository's common git directory, where Git LFS keeps its objects.
    private var commonDirectory = ""

    /// An executor for `plan` in `project`'s workspace for the plan's environment.
    package init(project: Project, plan: Plan, options: Options, observer: ReconcileObserver = SilentObserver(),
                 runner: StageRunner = RoutingRunner()) {
        self.project = project
        self.plan = plan
        self.options = options
        self.observer = observer
        self.runner = runner
        workspace = project.workspace(for: plan.environment)
        index = FingerprintIndex(store: project.store)
        producers = OutputProducers(plan.stages.map { ($0.name, $0.storedOutputs) })
        scheduler = Scheduler(plan: plan, jobs: options.jobs)
    }

    /// Applies the plan. Refuses a plan with errors.
    func apply() throws -> Result {
        guard plan.errors.isEmpty else {
            throw PlumbError("the plan has errors; nothing was run:\n  " + plan.errors.joined(separator: "\n  "))
        }
        let started = Date()
        adoptOrphanedJobs()
        try prepareWorkspace()
        let progressTicker = startProgressTicker()
        defer {
            if let progressTicker { progressTicker.cancel(); observer.observe(.progress(running: [:])) }
        }

        let stages = Dictionary(plan.stages.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        lock.lock()
        while true {
            if Interruption.requested { scheduler.interrupt() }
            for decision in scheduler.next() {
                switch decision {
                case let .start(name):
                    let stage = stages[name]!
                    running[name] = Date()
                    let thread = Thread { [self] in
                        let result = self.execute(stage)
                        self.lock.lock()
                        self.outcomes[name] = result
                        self.outputs[name] = result.outputs
                        self.running[name] = nil
                        self.scheduler.finished(name, result.status)
                        self.lock.broadcast()
                        self.lock.unlock()
                    }
                    thread.start()
                case let .settle(name, status):
                    let stage = stages[name]!
                    outputs[name] = stage.cachedOutputs
                    outcomes[name] = outcome(stage, status, outputs: stage.cachedOutputs, metrics: stage.cachedMetrics,
                                             plotsRun: stage.cachedRun)
                    if status == .restored { observer.observe(.stageFinished(stage: name, .restored(run: stage.cachedRun))) }
                case let .block(name, up, status):
                    outcomes[name] = outcome(stages[name]!, .blocked, reasons: ["blocked: \(up) \(status.rawValue)"])
                    observer.observe(.stageFinished(stage: name, .blocked(by: up)))
                case let .interrupt(name):
                    outcomes[name] = outcome(stages[name]!, .interrupted)
                case let .strand(name):
                    outcomes[name] = outcome(stages[name]!, .blocked, reasons: ["upstream never finished"])
                }
            }
            if scheduler.isComplete { break }
            // Only a finishing stage changes what can be decided.
            lock.wait()
        }
        lock.unlock()
        let failed = outcomes.values.contains { $0.status == .failed || $0.status == .blocked }
        let status: RunRecord.Status = Interruption.requested ? .interrupted : failed ? .failed : .succeeded
        return Result(outcomes: outcomes, status: status, startedAt: started, finishedAt: Date(), corruptObjects: corrupt)
    }

    // MARK: - Workspace

    /// The planned commit in the workspace, exactly as a fresh checkout gives it: a repository of its own at
    /// that commit, holding its blobs' bytes (see `Repository.checkOutWorkspace`), updated in place from the
    /// last reconcile's when that one can be trusted (`Repository.prepareWorkspace`). The tracked deps of the stages that may run are made
    /// read-only before any starts; untracked data, Git LFS content and cached outputs are staged for each
    /// stage as it starts (`stageInputs`), an untracked data folder from the copy the last run kept (`KeptInputs`).
    func prepareWorkspace() throws {
        let fm = FileManager.default
        Self.stopLeftoverProcesses(in: workspace)
        // Out of the sweep's reach before the update: the copies of untracked data folders this plan's
        // stages read, which the next staging syncs instead of copying again.
        let kept = KeptInputs(workspace: workspace)
        Trace.measure("kept inputs withdrawn") { kept.withdraw(keeping: Set(plan.stages.flatMap(\.externalDeps))) }
        let (checkout, lfs) = try PlumbError.wrap("cannot check out \(plan.commit.short) into \(workspace)") {
            var how = "workspace"
            let prepared = try Trace.measure(how) {
                let prepared = try project.repository.prepareWorkspace(plan.commit, at: workspace)
                how = prepared.incremental ? "workspace updated in place" : "workspace checked out afresh"
                return prepared
            }
            return (prepared.workspace, prepared.lfs)
        }
        workspaceInputs = WorkspaceInputs(root: workspace, store: project.store, checkout: checkout, commit: plan.commit, lfs: lfs,
                                          producers: producers, digester: project.digester, kept: kept)
        lfsFiles = Dictionary(lfs.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        commonDirectory = project.repository.commonDirectory
        // The environment's params, where scripts that read the file themselves look for them
        // (JSON is YAML); before the tracked deps are made read-only.
        if let params = plan.effectiveParams {
            let path = try ContainedPath.prepare(SpecPaths.params, under: workspace, create: true)
            try? fm.removeItem(atPath: path)
            try Data((params.canonical + "\n").utf8).write(to: URL(fileURLWithPath: path))
        }
        var tracked: Set<String> = []
        for stage in plan.stages where stage.action.isChange {
            for (dep, source) in stage.deps where producers.producer(of: dep) == nil && !dep.hasPrefix("/")
                && !stage.externalDeps.contains(dep) && lfsFiles[dep] == nil {
                if case .known = source { tracked.insert(dep) }
            }
        }
        for dep in tracked.sorted() { try workspaceInputs.adopt(dep, tracked: true) }
        try fm.createDirectory(atPath: project.logDirectory(for: options.runID), withIntermediateDirectories: true)
    }

    /// Kills the process groups of processes still working in `workspace`: stages of a Plumb that
    /// died without stopping them (SIGKILL, power cut of the parent only, OOM killer). The caller
    /// holds the environment's lock, so no live Plumb runs stages there; a leftover writing into the
    /// fresh workspace would otherwise mix stale output into this run. Found through
    /// `/proc/<pid>/cwd` (Linux), so nothing has to be written down before a crash for it to work.
    static func stopLeftoverProcesses(in workspace: String) {
        let base = URL(fileURLWithPath: workspace).resolvingSymlinksInPath().path
        let ownGroup = getpgrp()
        func leftovers() -> [pid_t] {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
            return entries.compactMap { pid_t($0) }.filter { pid in
                guard pid != getpid(), let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd") else { return false }
                return cwd == base || cwd.hasPrefix(base + "/")
            }
        }
        var found = leftovers()
        guard !found.isEmpty else { return }
        let deadline = Date().addingTimeInterval(2)
        while !found.isEmpty && Date() < deadline {
            for pid in found {
                let group = getpgid(pid)
                if group > 0 && group != ownGroup { kill(-group, SIGKILL) } else { kill(pid, SIGKILL) }
            }
            Thread.sleep(forTimeInterval: 0.02)
            // A killed child stays a zombie until its (new) parent reaps it; zombies have no cwd link.
            found = leftovers()
        }
    }

    /// Stages every input of `stage` in the workspace (each once, however many stages share it; a stage
    /// that finds one changed by another stage stages it again) and returns them as staged, for the
    /// check after the stage. Returns when all are complete.
    private func stageInputs(of stage: PlannedStage) throws -> [WorkspaceInputs.Staged] {
        var sources: [String: WorkspaceInputs.Source] = [:]
        for (dep, source) in stage.deps {
            if let (producer, output) = producers.producer(of: dep) {
                lock.lock()
                let digest = outputs[producer]?[output]
                lock.unlock()
                guard let digest else { throw PlumbError("'\(producer)' recorded no output \(output)") }
                sources[output] = .cache(digest)
            } else if dep.hasPrefix("/") {
                continue // outside the workspace: read where it is
            } else if stage.externalDeps.contains(dep) {
                guard case let .known(id) = source, id.hasPrefix("sha256:"), let digest = Digest(hex: String(id.dropFirst(7))) else {
                    throw PlumbError("the plan identifies \(dep) by '\(source)', not by its SHA-256")
                }
                sources[dep] = .data(path: project.root + "/" + dep, digest: digest)
            } else {
                if lfsFiles[dep] == nil { sources[dep] = .checkout }
                // The file itself, or the LFS files inside a tracked folder: their content, never their pointers.
                for file in lfsFiles.values where file.path == dep || file.path.hasPrefix(dep + "/") {
                    sources[file.path] = .lfs(file, object: LFSPointer.objectPath(file.pointer.oid, commonDirectory: commonDirectory))
                }
            }
        }
        return try sources.sorted(by: { $0.key < $1.key }).map { path, source in try workspaceInputs.stage(path, from: source) }
    }

    // MARK: - One stage

    private func execute(_ stage: PlannedStage) -> StageOutcome {
        do {
            // Resolve every dep another stage produces; outputs that stage did not write in this
            // run (unchanged, restored, pinned) come into the workspace from the cache.
            var inputs: [String: String] = [:]
            for (dep, source) in stage.deps {
                if case let .known(id) = source { inputs[dep] = id }
                guard case .output = source, let (producer, output) = producers.producer(of: dep) else { continue }
                lock.lock()
                let digest = outputs[producer]?[output]
                lock.unlock()
                guard let digest else { throw PlumbError("'\(producer)' recorded no output \(output)") }
                inputs[dep] = ContentID.produced(dep, output: output, digest: digest)
            }

            let fingerprint = stage.fingerprint
                ?? FingerprintInputs(command: stage.command, env: stage.env, params: stage.params, inputs: inputs,
                                     hardware: stage.resources?.fingerprintPart ?? [:]).fingerprint
            // Early cutoff: upstream outputs came out as recorded, or as an earlier run had them.
            if stage.fingerprint == nil, let earlier = index.outcome(for: fingerprint) {
                let same = fingerprint == stage.recordedFingerprint
                observer.observe(.stageFinished(stage: stage.name, same ? .unchanged : .restored(run: earlier.run)))
                var o = outcome(stage, same ? .unchanged : .restored, fingerprint: fingerprint,
                                outputs: earlier.outputs, metrics: earlier.metrics, plotsRun: earlier.run)
                o.inputs = inputs
                return o
            }
            if let result = adopted[stage.name], result.fingerprint == fingerprint {
                observer.observe(.stageStarted(stage: stage.name))
                observer.observe(.stageFinished(stage: stage.name, .succeeded(duration: result.duration, outputs: result.outputs)))
                var o = outcome(stage, .succeeded, fingerprint: fingerprint, outputs: result.outputs, metrics: result.metrics)
                o.exitCode = 0
                o.duration = result.duration
                o.attempts = 1
                o.log = result.log
                o.placement = result.placement
                o.plots = result.plots
                o.inputs = inputs
                return o
            }
            let staged = try stageInputs(of: stage)
            var o = try run(stage, fingerprint: fingerprint, inputs: inputs, staged: staged)
            o.inputs = inputs
            return o
        } catch {
            if case let CacheError.corrupt(digest) = error {
                lock.lock(); corrupt.insert(digest); lock.unlock()
            }
            observer.observe(.stageFinished(stage: stage.name, .error("\(error)")))
            return outcome(stage, .failed, logTail: Redactor.process.redact("\(error)"))
        }
    }

    /// Starts an attempt's part of a stage's log with `── attempt 2 of 3 ──`: runners append to the
    /// log, so without it `plumb logs` would run every attempt's lines together. Only for a stage
    /// that may retry, so the first attempt says there may be others.
    static func markAttempt(_ attempt: Int, of attempts: Int, in logFile: String) throws {
        let log = try StageProcess.openLog(logFile)
        let header = "── attempt \(attempt) of \(attempts) ──\n"
        do {
            try Array(header.utf8).withUnsafeBytes { try log.writeAll($0) }
        } catch {
            throw PlumbError("cannot write to the log \(logFile): \(error)")
        }
    }

    private func run(_ stage: PlannedStage, fingerprint: Digest, inputs: [String: String], staged firstStaged: [WorkspaceInputs.Staged]) throws -> StageOutcome {
        let fm = FileManager.default
        // Stale outputs must not pass for new ones. Removed only once no folder above them is a link
        // (a committed `build -> /elsewhere` would make this delete outside the workspace).
        for out in stage.storedOutputs {
            let stale = try ContainedPath.prepare(out, under: workspace, create: false)
            try? fm.removeItem(atPath: stale)
        }
        try restorePersisted(of: stage)
        let paramsFile = project.logDirectory(for: options.runID) + "/\(stage.name).params.json"
        try Data((stage.paramsDocument.canonical + "\n").utf8).write(to: URL(fileURLWithPath: paramsFile))
        let environment = stageEnvironment(stage, extra: ["PLUMB_RUN_ID": options.runID, "PLUMB_PARAMS": paramsFile])
        let logFile = project.logDirectory(for: options.runID) + "/\(stage.name).log"
        let observer = self.observer
        let name = stage.name

        observer.observe(.stageStarted(stage: stage.name))
        var attempt = 0
        var result: ProcessOutcome
        var staged = firstStaged
        let started = Date()
        repeat {
            attempt += 1
            if attempt > 1 {
                let delay = min(30.0, pow(2.0, Double(attempt - 2)))
                observer.observe(.stageRetrying(stage: stage.name, delay: delay, attempt: attempt, attempts: stage.retries + 1))
                Thread.sleep(forTimeInterval: delay)
                // A failed attempt may have changed its inputs: the next one reads them as staged.
                staged = try stageInputs(of: stage)
            }
            if stage.retries > 0 { try Self.markAttempt(attempt, of: stage.retries + 1, in: logFile) }
            let request = ProcessRequest(
                command: stage.command, workingDirectory: workspace, environment: environment.variables, timeout: stage.timeout,
                logFile: logFile, redactions: environment.secretValues,
                onLine: options.feedback.streamOutput ? { @Sendable line in observer.observe(.stageOutput(stage: name, line: line)) } : nil,
                job: JobRequest(stage: stage.name, environment: plan.environment, fingerprint: fingerprint,
                                executor: stage.executor ?? .local, resources: stage.resources ?? StageResources()))
            result = try runner.run(request)
        } while !result.succeeded && attempt <= stage.retries && !Interruption.requested
        let duration = Date().timeIntervalSince(started)

        // Streamed into the cache, and only the end read back for the record: a stage may print gigabytes.
        let logDigest = try? project.store.store(logFile)
        // The stage is over and its log complete: what `plumb logs -f` waits for.
        _ = FileManager.default.createFile(atPath: LogFollower.endMarker(ofLog: logFile), contents: nil)
        let logTail = Self.tail(ofLogAt: logFile)
        guard result.succeeded else {
            let end: ProcessEnd = result.timedOut ? .timedOut(after: stage.timeout ?? 0)
                : result.signal.map { .signal($0) } ?? .exit(result.exitCode)
            let status: StageOutcome.Status = Interruption.requested ? .interrupted : .failed
            observer.observe(.stageFinished(stage: stage.name, .failed(end, duration: duration, interrupted: status == .interrupted)))
            var o = outcome(stage, status, fingerprint: fingerprint, logTail: environment.redactor.redact(logTail))
            o.exitCode = result.exitCode
            o.duration = duration
            o.attempts = attempt
            o.log = logDigest
            o.placement = result.placement
            return o
        }

        var produced: [String: Digest] = [:]
        var metrics: [String: Double] = [:]
        do {
            // What it read must be what the record will name: no input may have changed while it ran.
            let changed = workspaceInputs.changed(staged)
            if !changed.isEmpty {
                throw PlumbError("the inputs of stage '\(stage.name)' changed while it ran: \(changed.joined(separator: ", "))",
                                 hint: "inputs are read-only in the workspace; a stage may write only its declared outputs (this one or one running beside it wrote a dep)")
            }
            (produced, metrics) = try collectOutputs(of: stage)
        } catch {
            // The command ran: keep its log and exit code with the failure, so `plumb logs` can show what it did.
            observer.observe(.stageFinished(stage: stage.name, .rejected("\(error)")))
            var o = outcome(stage, .failed, fingerprint: fingerprint, logTail: environment.redactor.redact(logTail + "\n\(error)"))
            o.exitCode = 0
            o.duration = duration
            o.attempts = attempt
            o.log = logDigest
            o.placement = result.placement
            return o
        }
        // Handed to the stages that read them as they are, read-only from now on.
        for out in stage.storedOutputs.sorted() { try workspaceInputs.adopt(out, tracked: false) }
        try index.remember(CachedOutcome(outputs: produced, metrics: metrics, run: options.runID), for: fingerprint)
        observer.observe(.stageFinished(stage: stage.name, .succeeded(duration: duration, outputs: produced)))
        var o = outcome(stage, .succeeded, fingerprint: fingerprint, outputs: produced, metrics: metrics)
        o.exitCode = 0
        o.duration = duration
        o.attempts = attempt
        o.log = logDigest
        o.placement = result.placement
        o.plots = readPlots(of: stage)
        return o
    }

    /// Puts back what the last successful run recorded for the stage's `persist: true` outputs,
    /// writable, so the command resumes from it (a checkpoint). One not at hand is a warning: the
    /// stage starts without it, as it did the first time.
    private func restorePersisted(of stage: PlannedStage) throws {
        for (out, digest) in (stage.persisted ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = try ContainedPath.prepare(out, under: workspace, create: true)
            do {
                try project.store.materialize(digest, at: path)
            } catch {
                observer.observe(.stageWarning(stage: stage.name, "persistent output \(out) (\(digest.short)) could not be put back, so the stage starts without it: \(PlumbError.readable(error))"))
            }
        }
    }

    /// Stores what a stage that exited 0 left as its declared outputs, and reads its metrics.
    private func collectOutputs(of stage: PlannedStage) throws -> (outputs: [String: Digest], metrics: [String: Double]) {
        let fm = FileManager.default
        var produced: [String: Digest] = [:]
        var metrics: [String: Double] = [:]
        for out in stage.storedOutputs {
            let path = workspace + "/" + out
            guard fm.fileExists(atPath: path) || (try? fm.destinationOfSymbolicLink(atPath: path)) != nil else {
                throw PlumbError("stage '\(stage.name)' exited 0 but did not write its declared output \(out)")
            }
            try Self.checkInsideWorkspace(path, workspace: workspace, output: out, stage: stage.name)
            // Handed over: read-only from here on (`adopt` below), so the file may become the object itself.
            produced[out] = try project.store.store(path, shareable: true)
        }
        for file in stage.metricsFiles {
            let data = try Data(contentsOf: URL(fileURLWithPath: workspace + "/" + file))
            let reading: MetricsFile.Reading
            do { reading = try MetricsFile.read(data, prefix: stage.name, yaml: MetricsFile.isYAML(file)) } catch {
                throw PlumbError("stage '\(stage.name)' wrote its metrics file \(file), which \(error.reason)",
                                 hint: MetricsFile.isYAML(file) ? "a YAML metrics file holds a mapping of numbers, e.g. 'accuracy: 0.81'"
                                     : "a metrics file holds a JSON object of numbers, e.g. {\"accuracy\": 0.81}")
            }
            if let ignored = reading.ignoredSummary { observer.observe(.stageWarning(stage: stage.name, "\(file): \(ignored)")) }
            metrics.merge(reading.metrics) { a, _ in a }
        }
        return (produced, metrics)
    }

    /// The numbers of the stage's plot files, read once it succeeded; problems are warnings.
    private func readPlots(of stage: PlannedStage) -> [String: PlotData]? {
        guard let plots = stage.plots else { return nil }
        return PlotCollection.read(plots, workspace: workspace) { observer.observe(.stageWarning(stage: stage.name, $0)) }
    }

    // MARK: - Jobs a killed reconcile left running

    /// A stage's result taken from a job a killed reconcile left running.
    struct AdoptedResult {
        var fingerprint: Digest
        var outputs: [String: Digest]
        var metrics: [String: Double]
        var placement: Placement?
        var log: Digest?
        var duration: Double
        var plots: [String: PlotData]?
    }

    /// Before the workspace is replaced: waits for the jobs a killed reconcile left running in it
    /// for stages this plan runs with the same fingerprint, and keeps the results of those that
    /// succeeded (outputs stored, fingerprint remembered), so each stage has one job, not two.
    /// One that failed, or left no outputs, simply runs again.
    func adoptOrphanedJobs() {
        guard let adopting = runner as? OrphanAdopting else { return }
        let candidates = plan.stages.filter { $0.action.isChange && $0.executor == .slurm && $0.fingerprint != nil }
        guard !candidates.isEmpty, FileManager.default.fileExists(atPath: workspace) else { return }
        let jobs = candidates.map { stage in
            JobRequest(stage: stage.name, environment: plan.environment, fingerprint: stage.fingerprint!, executor: .slurm,
                       resources: stage.resources ?? StageResources())
        }
        for job in adopting.adoptOrphans(jobs, workspace: workspace) {
            guard job.outcome.succeeded, let stage = candidates.first(where: { $0.name == job.stage }), let fingerprint = stage.fingerprint else { continue }
            do {
                let (outputs, metrics) = try collectOutputs(of: stage)
                var log: Digest?
                if let output = job.output, FileManager.default.fileExists(atPath: output) {
                    // The job's own output file is not redacted: it goes through the same sink as a live job's.
                    let redacted = project.logDirectory(for: options.runID) + "/\(stage.name).log"
                    try FileManager.default.createDirectory(atPath: project.logDirectory(for: options.runID), withIntermediateDirectories: true)
                    let file = try StageProcess.openLog(redacted)
                    let sink = LineSink(log: file.rawValue, redactor: Redactor(secrets: stageEnvironment(stage).secretValues).merging(.process), onLine: nil)
                    var tail = OutputTail(path: output)
                    tail.feed(into: sink)
                    sink.finish()
                    log = try? project.store.store(redacted)
                }
                try index.remember(CachedOutcome(outputs: outputs, metrics: metrics, run: options.runID), for: fingerprint)
                adopted[stage.name] = AdoptedResult(fingerprint: fingerprint, outputs: outputs, metrics: metrics,
                                                    placement: job.outcome.placement, log: log,
                                                    duration: job.outcome.placement?.ran ?? job.outcome.duration,
                                                    plots: readPlots(of: stage))
            } catch {
                continue
            }
        }
    }

    /// The environment a stage's command gets in this workspace (and the secret values to mask).
    private func stageEnvironment(_ stage: PlannedStage, extra: [String: String] = [:]) -> StageEnvironment {
        StageEnvironment.forStage(stage.name, declared: stage.env, secrets: stage.secrets, environment: plan.environment, repository: project.root,
                                  workspace: workspace, commit: plan.commit, runsIn: workspace, extra: extra)
    }

    /// Rejects an output that is a symlink leading out of the workspace: its content would not be the stage's.
    static func checkInsideWorkspace(_ path: String, workspace: String, output: String, stage: String) throws {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let base = URL(fileURLWithPath: workspace).resolvingSymlinksInPath().path
        guard resolved == base || resolved.hasPrefix(base + "/") else {
            throw PlumbError("stage '\(stage)' declares output \(output), which leads out of the workspace (to \(resolved))",
                             hint: "write outputs inside the workspace; symlinks to elsewhere are not outputs")
        }
    }

    /// The last `lines` lines of the log at `path`, read from at most its last `maximumBytes`.
    static func tail(ofLogAt path: String, lines: Int = 20, maximumBytes: Int = 64 * 1024) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return "" }
        let start = max(0, Int(size) - maximumBytes)
        var bytes = [UInt8](repeating: 0, count: Int(size) - start)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        guard n > 0 else { return "" }
        var text = bytes[..<n]
        // Begun mid-file: drop the partial first line.
        if start > 0, let newline = text.firstIndex(of: 10) { text = text[(newline + 1)...] }
        return tail(String(decoding: text, as: UTF8.self), lines: lines)
    }

    static func tail(_ text: String, lines: Int = 20) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).joined(separator: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `plotsRun`: for a stage that keeps or takes outputs, the run that recorded their plots (when it declares any).
    private func outcome(_ stage: PlannedStage, _ status: StageOutcome.Status, reasons: [String]? = nil, fingerprint: Digest? = nil,
                         outputs: [String: Digest] = [:], metrics: [String: Double] = [:], logTail: String? = nil,
                         plotsRun: String? = nil) -> StageOutcome {
        var o = StageOutcome(action: stage.action, reasons: reasons ?? stage.reasons.map(\.description), status: status,
                             logTail: logTail, fingerprint: fingerprint ?? stage.fingerprint, outputs: outputs, metrics: metrics)
        if stage.plots != nil, plotsRun != options.runID { o.plotsRun = plotsRun }
        return o
    }

    // MARK: - Progress

    /// While stages run, the running set about once a second, for a live status line.
    private func startProgressTicker() -> DispatchSourceTimer? {
        guard options.feedback.progress else { return nil }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [self] in
            lock.lock()
            let now = running
            lock.unlock()
            observer.observe(.progress(running: now))
        }
        timer.resume()
        return timer
    }
}

/// Set when plumb receives SIGINT or SIGTERM: no new stage starts, running ones are stopped,
/// and the run is recorded as interrupted.
package enum Interruption {
    /// An atomic, so the signal handler's store and every thread's load are not a data race.
    private static let flag = Atomic<Int>(0)
    /// Whether a stop was asked for.
    package static var requested: Bool { flag.load(ordering: .relaxed) != 0 }
    /// Asks for a stop; only the signal handler calls this. Lock-free, so safe in a signal handler.
    package static func request() { flag.store(1, ordering: .relaxed) }
}
