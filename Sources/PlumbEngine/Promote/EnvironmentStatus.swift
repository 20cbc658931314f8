import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// One environment at a glance: `plumb status`.
package struct EnvironmentStatus: Sendable, Codable {
    /// What the environment is pinned to.
    package struct PinSummary: Sendable, Codable {
        package var source: String
        package var run: String
        package var commit: ObjectID
    }
    /// The result of the deploy stage's drift probe; `notChecked` unless it was asked for (`status --check`).
    package enum Drift: String, Sendable, Codable { case inSync = "in-sync", drifted, unknown, notChecked = "not-checked" }

    package var environment: String
    package var from: String?
    package var pin: PinSummary?
    /// The artifact the deploy stage installs (`build/model.pkl`) and its digest, pinned or recorded.
    package var model: String?
    package var modelDigest: Digest?
    package var lastRun: String?
    package var lastResult: RunRecord.Status?
    var lastFinished: Date?
    /// Stages a reconcile would run (or drop) now.
    package var pending: Int
    package var planErrors: [String]
    /// Whether the environment takes stages from a promotion that no pin provides yet (the
    /// planner's `unpinned`): it waits for `plumb promote`, and its plan errors say so.
    package var awaitingPromotion: Bool
    package var drift: Drift
    /// The probe's first line of output, or why it could not run.
    package var driftDetail: String?
}

/// Gathers `EnvironmentStatus` for every environment: plans each, and with `checkDrift` runs the deploy
/// stage's `check` (repository code, so only when asked).
package struct StatusReader {
    package let project: Project

    package init(project: Project) { self.project = project }

    /// Environments in promotion order (dev before staging before prod), then by name.
    package static func order(_ environments: [String: EnvironmentSpec]) -> [String] {
        func depth(_ name: String) -> Int {
            var seen: Set<String> = [], n = 0, current = name
            while let from = environments[current]?.from, !seen.contains(from) { seen.insert(from); n += 1; current = from }
            return n
        }
        return environments.keys.sorted { (depth($0), $0) < (depth($1), $1) }
    }

    package func statuses(checkDrift: Bool) throws -> [EnvironmentStatus] {
        let head = try Snapshot.read(project, ref: nil, environment: Snapshot.chooseEnvironment(nil, in: try specAtHead()))
        return try Self.order(head.spec.environments).map { try status(of: $0, checkDrift: checkDrift) }
    }

    func specAtHead() throws -> Spec {
        guard let commit = try project.repository.head().commit else { throw PlumbError("the repository has no commits yet") }
        let loaded = SpecLoader.load(from: CommitSpecSource(repository: project.repository, commit: commit))
        guard let spec = loaded.spec else { throw DiagnosticsError(loaded.diagnostics) }
        return spec
    }

    package func status(of name: String, checkDrift: Bool) throws -> EnvironmentStatus {
        let snapshot = try Snapshot.read(project, ref: nil, environment: name)
        let deploy = Self.deployStage(snapshot.spec.pipeline)
        var drift: (EnvironmentStatus.Drift, String?) = (.notChecked, nil)
        if checkDrift {
            if snapshot.recorded?.stages[deploy?.name ?? ""] == nil {
                // Nothing was ever deployed here: there is no recorded state to drift from.
                drift = (.unknown, "never deployed")
            } else if let deploy, let check = deploy.check {
                drift = DriftProbe(project: project).probe(check, stage: deploy, snapshot: snapshot)
            } else {
                drift = (.unknown, "no stage declares a `check`")
            }
        }
        var input = try snapshot.planningInput(project)
        // What a reconcile would run now: it would run a drifted deploy stage again.
        if let deploy, drift.0 == .drifted, snapshot.stagesRunHere.contains(where: { $0.name == deploy.name }) {
            input.drifted = [deploy.name: drift.1 ?? "check failed"]
        }
        let plan = Planner.plan(input, cache: project.cacheView)
        var status = EnvironmentStatus(
            environment: name, from: snapshot.environment.from,
            pin: snapshot.pin.map { .init(source: $0.source, run: $0.run, commit: $0.commit) },
            model: nil, modelDigest: nil, lastRun: snapshot.recorded?.lastRun, lastResult: nil, lastFinished: nil,
            pending: plan.stages.filter(\.action.isChange).count + plan.dropped.count, planErrors: plan.errors,
            awaitingPromotion: Self.awaitingPromotion(snapshot), drift: drift.0, driftDetail: drift.1)
        if let run = status.lastRun, let record = try RunRecord.read(run, environment: name, at: snapshot.commit, in: project.repository) {
            status.lastResult = record.status
            status.lastFinished = record.finishedAt
        }
        if let deploy, let (path, digest) = Self.deployedArtifact(deploy, snapshot: snapshot) {
            status.model = path
            status.modelDigest = digest
        }
        return status
    }

    /// Whether some stage the environment does not run itself has no pinned result: the rule the
    /// planner's `unpinned` decision follows.
    static func awaitingPromotion(_ snapshot: Snapshot) -> Bool {
        let runsHere = Set(snapshot.stagesRunHere.map(\.name))
        return snapshot.spec.pipeline.stages.contains { !runsHere.contains($0.name) && snapshot.pin?.stages[$0.name] == nil }
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
}

/// A stage's drift probe, its `check`: exit 0 means what it deployed is still as recorded.
///
/// The probe is repository code. It runs in `reconcile` (which runs repository code anyway), and where
/// the user asks for it: `plan --refresh` and `status --check`; never in a read-only command otherwise,
/// so that cloning a repository and looking at it runs nothing from it.
struct DriftProbe {
    package let project: Project
    let runner: StageRunner

    package init(project: Project, runner: StageRunner = LocalProcessRunner()) { self.project = project; self.runner = runner }

    /// The stages of `snapshot` whose probe says they drifted, with the probe's first line of output:
    /// every stage with a `check` that this environment runs and whose last recorded run succeeded.
    func driftedStages(_ snapshot: Snapshot) -> [String: String] {
        var drifted: [String: String] = [:]
        for stage in snapshot.stagesRunHere {
            guard let check = stage.check, snapshot.recorded?.stages[stage.name]?.status == .succeeded else { continue }
            let (drift, detail) = probe(check, stage: stage, snapshot: snapshot)
            if drift == .drifted { drifted[stage.name] = detail ?? "check failed" }
        }
        return drifted
    }

    /// Runs `check` with the environment the stage runs with (`StageEnvironment`), plus
    /// PLUMB_EXPECTED_MODEL: the digest of the artifact it deployed, from the pin or the record.
    package func probe(_ check: String, stage: Stage, snapshot: Snapshot) -> (EnvironmentStatus.Drift, String?) {
        var extra: [String: String] = [:]
        if let (_, expected) = StatusReader.deployedArtifact(stage, snapshot: snapshot) { extra["PLUMB_EXPECTED_MODEL"] = expected.hex }
        let workspace = project.workspace(for: snapshot.environment.name)
        let directory = FileManager.default.fileExists(atPath: workspace) ? workspace : project.root
        let environment = StageEnvironment.forStage(
            stage.name, declared: stage.variables(in: snapshot.environment), secrets: stage.secrets(in: snapshot.environment),
            environment: snapshot.environment.name, repository: project.root, workspace: workspace, commit: snapshot.commit,
            runsIn: directory, extra: extra)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("plumb-check-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        do {
            let outcome = try runner.run(ProcessRequest(
                command: check, workingDirectory: directory, environment: environment.variables,
                timeout: stage.timeout ?? 60, logFile: log, redactions: environment.secretValues))
            // The log is already redacted; only its first line is read, however much the probe printed.
            let first = Self.firstLine(ofFileAt: log).map(environment.redactor.redact)
            if outcome.succeeded { return (.inSync, first) }
            if outcome.timedOut { return (.unknown, "check timed out") }
            // 126/127: the shell could not run the probe (not executable, not found, no interpreter,
            // as on a fresh clone without the example's virtual environment). That says nothing
            // about the deployment, so it is not drift and must not trigger a redeploy.
            if let code = outcome.exitCode, code == 126 || code == 127 {
                return (.unknown, "check cannot run (exit \(code))" + (first.map { ": \($0)" } ?? ""))
            }
            return (.drifted, first ?? "check exited \(outcome.exitCode.map(String.init) ?? "on a signal")")
        } catch {
            return (.unknown, environment.redactor.redact("cannot run check: \(error)"))
        }
    }

    /// The first non-empty line among the first 4 KiB of a file.
    static func firstLine(ofFileAt path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        return String(decoding: head, as: UTF8.self).split(separator: "\n").first.map(String.init)
    }
}
