import Foundation

/// One environment at a glance: `plumb status`.
public struct EnvironmentStatus: Sendable, Codable {
    /// What the environment is pinned to.
    public struct PinSummary: Sendable, Codable {
        public var source: String
        public var run: String
        public var commit: ObjectID
    }
    /// The result of the deploy stage's drift probe.
    public enum Drift: String, Sendable, Codable { case inSync = "in-sync", drifted, unknown, skipped }

    public var environment: String
    public var from: String?
    public var pin: PinSummary?
    /// The artifact the deploy stage installs (`build/model.pkl`) and its digest, pinned or recorded.
    public var model: String?
    public var modelDigest: Digest?
    public var lastRun: String?
    public var lastResult: RunRecord.Status?
    public var lastFinished: Date?
    /// Stages a reconcile would run (or drop) now.
    public var pending: Int
    public var planErrors: [String]
    public var drift: Drift
    /// The probe's first line of output, or why it could not run.
    public var driftDetail: String?
}

/// Gathers `EnvironmentStatus` for every environment: plans each, and runs the deploy stage's `check`.
public struct StatusReader {
    public let project: Project

    public init(project: Project) { self.project = project }

    /// Environments in promotion order (dev before staging before prod), then by name.
    public static func order(_ environments: [String: EnvironmentSpec]) -> [String] {
        func depth(_ name: String) -> Int {
            var seen: Set<String> = [], n = 0, current = name
            while let from = environments[current]?.from, !seen.contains(from) { seen.insert(from); n += 1; current = from }
            return n
        }
        return environments.keys.sorted { (depth($0), $0) < (depth($1), $1) }
    }

    public func statuses(checkDrift: Bool) throws -> [EnvironmentStatus] {
        let head = try Snapshot.read(project, ref: nil, environment: Snapshot.chooseEnvironment(nil, in: try specAtHead()))
        return try Self.order(head.spec.environments).map { try status(of: $0, checkDrift: checkDrift) }
    }

    func specAtHead() throws -> Spec {
        guard let commit = try project.repository.head().commit else { throw PlumbError("the repository has no commits yet") }
        let loaded = SpecLoader.load(from: CommitSpecSource(repository: project.repository, commit: commit))
        guard let spec = loaded.spec else { throw DiagnosticsError(loaded.diagnostics) }
        return spec
    }

    public func status(of name: String, checkDrift: Bool) throws -> EnvironmentStatus {
        let snapshot = try Snapshot.read(project, ref: nil, environment: name)
        let plan = Planner.plan(try snapshot.planningInput(project), cache: project.cacheView)
        var status = EnvironmentStatus(
            environment: name, from: snapshot.environment.from,
            pin: snapshot.pin.map { .init(source: $0.source, run: $0.run, commit: $0.commit) },
            model: nil, modelDigest: nil, lastRun: snapshot.recorded?.lastRun, lastResult: nil, lastFinished: nil,
            pending: plan.stages.filter(\.action.isChange).count + plan.dropped.count, planErrors: plan.errors,
            drift: checkDrift ? .unknown : .skipped, driftDetail: nil)
        if let run = status.lastRun, let record = try RunRecord.read(run, environment: name, at: snapshot.commit, in: project.repository) {
            status.lastResult = record.status
            status.lastFinished = record.finishedAt
        }
        let deploy = Self.deployStage(snapshot.spec.pipeline)
        if let deploy, let (path, digest) = Self.deployedArtifact(deploy, snapshot: snapshot) {
            status.model = path
            status.modelDigest = digest
        }
        if checkDrift {
            if snapshot.recorded?.stages[deploy?.name ?? ""] == nil {
                // Nothing was ever deployed here: there is no recorded state to drift from.
                status.driftDetail = "never deployed"
            } else if let deploy, let check = deploy.check {
                (status.drift, status.driftDetail) = probe(check, stage: deploy, snapshot: snapshot, expected: status.modelDigest)
            } else {
                status.driftDetail = "no stage declares a `check`"
            }
        }
        return status
    }

    /// The stage that deploys: the one with a drift `check`, else one named `deploy`.
    static func deployStage(_ pipeline: Pipeline) -> Stage? {
        pipeline.stages.first { $0.check != nil } ?? pipeline.stage("deploy")
    }

    /// The first dep of the deploy stage that another stage produces, with its digest from the
    /// pin (for a pinned environment) or the recorded state.
    static func deployedArtifact(_ deploy: Stage, snapshot: Snapshot) -> (String, Digest)? {
        let graph = StageGraph(snapshot.spec.pipeline)
        for dep in deploy.deps.sorted() {
            guard let (producer, output) = graph.producer(of: dep), output == dep else { continue }
            let runsHere = snapshot.environment.runs.map { $0.contains(producer) } ?? true
            let digest = runsHere ? snapshot.recorded?.stages[producer]?.outputs[dep] : snapshot.pin?.stages[producer]?.outputs[dep]
            if let digest { return (dep, digest) }
        }
        return nil
    }

    /// Runs the check with the variables the deploy stage had, plus PLUMB_EXPECTED_MODEL.
    func probe(_ check: String, stage: Stage, snapshot: Snapshot, expected: Digest?) -> (EnvironmentStatus.Drift, String?) {
        var environment = ProcessInfo.processInfo.environment
        environment.merge(stage.variables(in: snapshot.environment)) { _, new in new }
        environment["PLUMB_REPO"] = project.root
        environment["PLUMB_ENV"] = snapshot.environment.name
        environment["PLUMB_STAGE"] = stage.name
        if let expected { environment["PLUMB_EXPECTED_MODEL"] = expected.hex }
        let workspace = project.workspace(for: snapshot.environment.name)
        let directory = FileManager.default.fileExists(atPath: workspace) ? workspace : project.root
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("plumb-check-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        do {
            let outcome = try StageProcess.run(ProcessRequest(command: check, workingDirectory: directory, environment: environment,
                                                              timeout: stage.timeout ?? 60, logFile: log))
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let first = output.split(separator: "\n").first.map(String.init)
            if outcome.succeeded { return (.inSync, first) }
            if outcome.timedOut { return (.unknown, "check timed out") }
            return (.drifted, first ?? "check exited \(outcome.exitCode.map(String.init) ?? "on a signal")")
        } catch {
            return (.unknown, "cannot run check: \(error)")
        }
    }
}
