import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Records a run in git: one commit holding the new `history/<env>/state.json` and the run's
/// record, made from trees (no index, no working tree), moving the branch only if it still
/// points where it did.
struct Recorder {
    package let repository: Repository

    package init(repository: Repository) { self.repository = repository }

    /// The state after a run: succeeded, restored, unchanged and pinned stages take their new
    /// record; failed stages keep their fingerprint marked failed; dropped stages go.
    static func nextState(after plan: Plan, result: Executor.Result, previous: RecordedState?, run: String) -> RecordedState {
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
            let hardware = stage.resources?.fingerprintPart ?? [:]
            state.stages[stage.name]?.hardware = hardware.isEmpty ? nil : hardware
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

    package static func message(plan: Plan, result: Executor.Result, run: String) -> String {
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
    ///
    /// When `branch` is checked out, `history/<env>/` of the working tree and index is brought to the
    /// record before the branch moves (see `Repository.moveBranch`): a process killed in between never
    /// leaves an index whose next `git commit` would revert the record.
    /// `kept`: the bytes of the `cache: false` outputs, by path (`KeptOutputs`).
    package func record(state: RecordedState, record: RunRecord, message: String, branch: String, base: ObjectID,
                        kept: [String: Data] = [:]) throws -> ObjectID {
        let historyPath = SpecPaths.history(record.environment)
        do {
            return try commit(state: state, record: record, message: message, branch: branch, base: base, historyPath: historyPath, kept: kept)
        } catch let stale as RecordedButStale {
            throw PlumbError("recorded run \(record.run) in \(stale.commit.short), but cannot update \(historyPath) in the working tree: \(stale.reason)",
                             hint: "the index has the record, so `git commit` keeps it; bring the files back with `git checkout HEAD -- \(historyPath)` before `git commit -a`")
        } catch {
            return try PlumbError.wrap("cannot record run \(record.run)") { () throws -> ObjectID in throw error }
        }
    }

    /// The branch moved to `commit`, but the working tree's files could not follow.
    private struct RecordedButStale: Error {
        var commit: ObjectID
        var reason: String
    }

    private func commit(state: RecordedState, record: RunRecord, message: String, branch: String, base: ObjectID,
                        historyPath: String, kept: [String: Data]) throws -> ObjectID {
        let env = record.environment
        let records: [Repository.TreeChange] = [
            (RecordedState.path(for: env), try RecordJSON.encode(state)),
            (RunRecord.path(for: env, run: record.run), try RecordJSON.encode(record)),
        ]
        let author = repository.defaultSignature()
        var tip = base
        for _ in 0..<5 {
            let changes = records + (try KeptOutputs.changes(kept, environment: env, on: tip, in: repository))
            let tree = try repository.tree(updating: tip, with: changes)
            let commit = try repository.createCommit(tree: tree, parents: [tip], message: message, author: author)
            let moved: Bool
            do {
                moved = try repository.moveBranch(branch, to: commit, expected: tip, message: "plumb: record run \(record.run)",
                                                  workingTree: .paths([historyPath]))
            } catch let stale as StaleWorkingTree {
                throw RecordedButStale(commit: commit, reason: stale.reason)
            }
            if moved { return commit }
            // The branch moved: rebase the record onto the new tip if nobody else recorded this environment.
            let now = try repository.referenceTarget(branch)
            guard try repository.isAncestor(tip, of: now) else {
                throw PlumbError("\(branch) was rewritten while the run was going",
                                 hint: "the run's outputs are in the cache; reconcile again to record it")
            }
            let before = try repository.entry(at: historyPath, in: tip)?.id
            let after = try repository.entry(at: historyPath, in: now)?.id
            guard before == after else {
                throw PlumbError("someone else recorded \(historyPath) meanwhile",
                                 hint: "reconcile again: it plans from their record, and outputs already in the cache are reused")
            }
            tip = now
        }
        throw PlumbError("\(branch) keeps moving")
    }
}

