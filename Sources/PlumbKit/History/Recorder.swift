import Foundation

/// Records a run in git: one commit holding the new `history/<env>/state.json` and the run's
/// record, made from trees (no index, no working tree), moving the branch only if it still
/// points where it did.
public struct Recorder {
    public let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    /// The state after a run: succeeded, restored, unchanged and pinned stages take their new
    /// record; failed stages keep their fingerprint marked failed; dropped stages go.
    public static func nextState(after plan: Plan, result: Executor.Result, previous: RecordedState?, run: String) -> RecordedState {
        var state = previous ?? RecordedState(environment: plan.environment)
        state.formatVersion = RecordedState.formatVersion
        for name in plan.dropped { state.stages[name] = nil }
        for stage in plan.stages {
            guard let outcome = result.outcomes[stage.name], let fingerprint = outcome.fingerprint else { continue }
            var inputs = outcome.inputs
            for (dep, source) in stage.deps { if case let .known(id) = source { inputs[dep] = id } }
            let status: StageRecord.Status
            switch outcome.status {
            case .succeeded, .restored, .unchanged, .pinned: status = .succeeded
            case .failed: status = .failed
            case .blocked, .interrupted: continue
            }
            if outcome.status == .unchanged, let old = state.stages[stage.name], old.fingerprint == fingerprint { continue }
            let runOfOutputs = outcome.status == .succeeded || outcome.status == .failed ? run
                : (stage.cachedRun ?? state.stages[stage.name]?.run ?? run)
            state.stages[stage.name] = StageRecord(
                status: status, fingerprint: fingerprint, command: stage.command, env: stage.env, params: stage.params,
                inputs: inputs, outputs: outcome.outputs, metrics: outcome.metrics,
                run: runOfOutputs)
        }
        state.lastRun = run
        state.lastCommit = plan.commit
        return state
    }

    /// `plumb(dev): ran train, evaluate, deploy; 1 unchanged [skip ci]` with trailers.
    /// How many stage names one list in a commit subject shows; the rest are counted ("and 995 more"),
    /// so a run of 1,000 stages keeps a one-line subject. The run record has every stage.
    static let namesInSubject = 5

    /// `a, b, c` — or the first `namesInSubject` names and how many more.
    static func listed(_ names: [String]) -> String {
        guard names.count > namesInSubject else { return names.joined(separator: ", ") }
        return names.prefix(namesInSubject).joined(separator: ", ") + " and \(names.count - namesInSubject) more"
    }

    public static func message(plan: Plan, result: Executor.Result, run: String) -> String {
        func names(_ statuses: StageOutcome.Status...) -> [String] {
            plan.stages.map(\.name).filter { result.outcomes[$0].map { statuses.contains($0.status) } ?? false }
        }
        var parts: [String] = []
        let ran = names(.succeeded), failed = names(.failed), blocked = names(.blocked), restored = names(.restored)
        if !ran.isEmpty { parts.append("ran " + listed(ran)) }
        if !restored.isEmpty { parts.append("restored " + listed(restored)) }
        if !failed.isEmpty { parts.append("failed " + listed(failed)) }
        if !blocked.isEmpty { parts.append("blocked " + listed(blocked)) }
        if !plan.dropped.isEmpty { parts.append("dropped " + listed(plan.dropped)) }
        let unchanged = names(.unchanged, .pinned).count
        if unchanged > 0 { parts.append("\(unchanged) unchanged") }
        if result.status == .interrupted { parts.insert("interrupted", at: 0) }
        let subject = "plumb(\(plan.environment)): " + (parts.isEmpty ? "recorded state" : parts.joined(separator: "; ")) + " [skip ci]"
        return """
        \(subject)

        Plumb-Env: \(plan.environment)
        Plumb-Run: \(run)
        Plumb-Spec: \(plan.commit.hex)

        """
    }

    /// Commits the run on `branch` (a full reference name). If the branch moved since `plan.commit`
    /// and the new commits did not touch `history/<env>/`, the commit is re-made on the new tip.
    /// Returns the new commit.
    public func record(state: RecordedState, record: RunRecord, message: String, branch: String, base: ObjectID) throws -> ObjectID {
        let env = record.environment
        let changes: [Repository.TreeChange] = [
            (RecordedState.path(for: env), try RecordJSON.encode(state)),
            (RunRecord.path(for: env, run: record.run), try RecordJSON.encode(record)),
        ]
        let author = repository.defaultSignature()
        var tip = base
        for _ in 0..<5 {
            let tree = try repository.tree(updating: tip, with: changes)
            let commit = try repository.createCommit(tree: tree, parents: [tip], message: message, author: author)
            if try repository.updateReference(branch, to: commit, expected: tip, message: "plumb: record run \(record.run)") {
                return commit
            }
            // The branch moved: rebase the record onto the new tip if nobody else recorded this environment.
            let now = try repository.referenceTarget(branch)
            guard try repository.isAncestor(tip, of: now) else {
                throw PlumbError("cannot record run \(record.run): \(branch) was rewritten while the run was going",
                                 hint: "the run's outputs are in the cache; reconcile again to record it")
            }
            let historyPath = SpecPaths.history(env)
            let before = try repository.entry(at: historyPath, in: tip)?.id
            let after = try repository.entry(at: historyPath, in: now)?.id
            guard before == after else {
                throw PlumbError("cannot record run \(record.run): someone else recorded \(historyPath) meanwhile",
                                 hint: "reconcile again: it plans from their record, and outputs already in the cache are reused")
            }
            tip = now
        }
        throw PlumbError("cannot record run \(record.run): \(branch) keeps moving")
    }
}

