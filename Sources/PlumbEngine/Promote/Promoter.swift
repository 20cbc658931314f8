import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Promotes what one environment validated into the next: one read of the repository at HEAD,
/// the pure gate evaluation (`Promotion`), then one commit of `environments/<to>.pin.json`.
package struct Promoter {
    package let project: Project

    package init(project: Project) { self.project = project }

    /// What to promote, and where the commit goes.
    package struct Request: Sendable {
        package var from: String
        package var to: String
        package var dryRun = false
        /// Put the commit on this new branch (for a pull request) instead of the current one.
        package var branch: String?
        package var pull = false
        package var push = false
        package var remote = "origin"
        /// Promote even a run the target pinned before and was rolled back from.
        package var force = false
        package init(from: String, to: String) { self.from = from; self.to = to }
    }

    /// What a promotion did; `plumb promote --json` prints it.
    package struct Outcome: Sendable, Codable {
        package var from: String
        package var to: String
        package var gates: [GateResult]
        package var passed: Bool
        /// The pin written (or that would be, on a dry run); nil when a gate failed.
        package var pin: Pin?
        /// The promotion commit; nil on a dry run, a gate failure, or when nothing changed.
        package var commit: ObjectID?
        /// The branch the commit is on.
        package var branch: String?
        /// True when the target already pins these very artifacts: nothing was written.
        package var alreadyPinned: Bool
        /// Set when the target pinned these artifacts before and went back from them (a rollback or
        /// a revert): the commit that still had them. Nothing is written unless forced.
        package var rolledBackFrom: ObjectID?
        package var pushed: Bool
        package var dryRun: Bool
    }

    /// Checks, evaluates and (when the gates pass) commits the pin.
    package func promote(_ request: Request) throws -> Outcome {
        let repo = project.repository
        guard request.from != request.to else {
            throw PlumbError("cannot promote \(request.from) into itself", kind: .usage)
        }
        let current = try repo.head().branchName
        let pinPath = SpecPaths.pin(request.to)
        let sync = RemoteSync(repository: repo, remote: request.remote)
        if request.pull {
            guard let current else { throw PlumbError("--pull needs a branch; HEAD is detached", hint: "check out a branch") }
            try sync.pull(branch: current, ownedPaths: ["history", pinPath])
        }

        let source = try Snapshot.read(project, ref: nil, environment: request.from)
        let target = try Snapshot.read(project, ref: nil, environment: request.to)
        if let expected = target.environment.from, expected != request.from {
            throw PlumbError("\(request.to) takes promotions from \(expected), not \(request.from)",
                             hint: "run `plumb promote \(expected) \(request.to)`, or change `from:` in \(SpecPaths.environment(request.to))")
        }
        let state = try Self.checkSource(source, project: project)
        let missing = Promotion.missingStages(target: target.environment, pipeline: target.spec.pipeline, state: state)
        guard missing.isEmpty else {
            throw PlumbError("\(request.from) has no successful record of \(missing.joined(separator: ", ")), which \(request.to) takes from the pin",
                             hint: "reconcile \(request.from) first: `plumb reconcile --env \(request.from)`")
        }

        let gates = Promotion.evaluate(gates: target.environment.gates, source: state.metrics,
                                       baseline: Promotion.baseline(recorded: target.recorded, pin: target.pin))
        var outcome = Outcome(from: request.from, to: request.to, gates: gates, passed: Promotion.passed(gates), pin: nil,
                              commit: nil, branch: request.branch ?? current, alreadyPinned: false, rolledBackFrom: nil, pushed: false, dryRun: request.dryRun)
        guard outcome.passed else { return outcome }

        let pin = Promotion.pin(source: request.from, state: state, gates: gates, promotedBy: Self.actor(repo), at: Date())
        outcome.pin = pin
        if let existing = target.pin, Promotion.sameArtifacts(existing, pin) {
            // Idempotent: CI runs this on every push, and a new commit each time would loop.
            outcome.alreadyPinned = true
            outcome.pin = existing
            return outcome
        }
        if !request.force, target.pin != nil,
           let earlier = try Rollback(project: project).pinHistory(environment: request.to, head: target.commit)
               .dropFirst().first(where: { Promotion.sameArtifacts($0.pin, pin) }) {
            // Someone went back from this very run on purpose; the next push to main must not
            // quietly undo their rollback. A new run of the source, or --force, promotes again.
            outcome.rolledBackFrom = earlier.commit
            return outcome
        }
        try Self.checkShared(pin, project: project, to: request.to)
        if request.dryRun { return outcome }
        try Self.stopIfInterrupted()

        let message = Self.message(pin: pin, to: request.to)
        let written = try PlumbError.wrap("cannot commit the promotion") {
            try PinWriter(project: project).write(environment: request.to, content: try RecordJSON.encode(pin), message: message,
                                                  base: source.commit, onBranch: current, newBranch: request.branch)
        }
        outcome.commit = written.commit
        outcome.branch = written.branch
        if request.push {
            try Self.stopIfInterrupted(committed: written.commit, on: written.branch)
            outcome.commit = try sync.push(branch: written.branch, ownedPaths: [pinPath])
            outcome.pushed = true
        }
        return outcome
    }

    /// The source's recorded state, if it is fit to promote from: its last run succeeded and its
    /// record is as new as its spec (planning it now would run nothing).
    static func checkSource(_ source: Snapshot, project: Project) throws -> RecordedState {
        let env = source.environment.name
        guard let state = source.recorded, let lastRun = state.lastRun else {
            throw PlumbError("\(env) has no recorded run to promote", hint: "reconcile it first: `plumb reconcile --env \(env)`")
        }
        if let record = try RunRecord.read(lastRun, environment: env, at: source.commit, in: project.repository) {
            guard record.status == .succeeded else {
                throw PlumbError("\(env)'s last run \(lastRun) \(record.status.rawValue); fix and reconcile \(env) first",
                                 hint: "see what went wrong with `plumb show \(lastRun)`")
            }
        }
        if let failed = state.stages.filter({ $0.value.status == .failed }).keys.sorted().first {
            throw PlumbError("\(env)'s stage '\(failed)' failed in its last attempt; fix and reconcile \(env) first")
        }
        let (plan, decisions) = Planner.decidedPlan(try source.planningInput(project), cache: project.cacheView)
        try? project.statCache.save()
        let stale = Self.staleStages(plan, decisions: decisions)
        guard stale.isEmpty else {
            let count = stale.count == 1 ? "1 stage would run" : "\(stale.count) stages would run"
            throw PlumbError("\(env)'s recorded state is older than its spec: \(count) (\(stale.joined(separator: ", "))); reconcile \(env) first",
                             hint: "`plumb plan --env \(env)` shows why")
        }
        return state
    }

    /// With a shared store, every pinned object must be in it before the pin exists: the target is
    /// reconciled by machines that have only the store and the repository.
    static func checkShared(_ pin: Pin, project: Project, to target: String) throws {
        guard let shared = project.sharedStore else { return }
        let digests = Set(pin.stages.values.flatMap(\.outputs.values))
        let missing = Set(try PlumbError.wrap("cannot check the shared store \(shared.remote.location) for \(pin.source)'s artifacts") {
            try shared.missingFromRemote(digests)
        })
        guard !missing.isEmpty else { return }
        let named = pin.stages.sorted { $0.key < $1.key }.flatMap { name, stage in
            stage.outputs.sorted { $0.key < $1.key }.filter { missing.contains($0.value) }.map { "\(name): \($0.key) \($0.value.short)" }
        }
        throw PlumbError("cannot promote \(pin.source) run \(pin.run) to \(target): the shared store \(shared.remote.location) lacks \(named.count == 1 ? "a pinned object" : "\(named.count) pinned objects") (\(named.joined(separator: ", ")))",
                         hint: "upload them from a machine that has them with `plumb push --env \(pin.source)`, or reconcile \(pin.source) there without --no-upload")
    }

    /// Stages whose desired state differs from the record (`StageDecision.makesRecordStale`), then
    /// the recorded stages that left the spec.
    static func staleStages(_ plan: Plan, decisions: [String: StageDecision]) -> [String] {
        plan.stages.filter { decisions[$0.name]?.makesRecordStale ?? true }.map(\.name) + plan.dropped
    }

    /// Ends a promotion or rollback that SIGINT/SIGTERM asked to stop, at a point where stopping is
    /// safe: before its commit (nothing written) or after it (commit and working tree done, not pushed).
    static func stopIfInterrupted(committed commit: ObjectID? = nil, on branch: String? = nil) throws {
        guard Interruption.requested else { return }
        if let commit {
            throw PlumbError("interrupted after committing \(commit.short) on \(branch ?? "?"); it was not pushed",
                             hint: "push it with `git push`, or run the command again with --push", kind: .interrupted)
        }
        throw PlumbError("interrupted; nothing was written", kind: .interrupted)
    }

    /// Who promotes: the CI's user when there is one, else git's configured identity.
    static func actor(_ repo: Repository) -> String {
        let env = ProcessInfo.processInfo.environment
        for key in ["PLUMB_ACTOR", "GITHUB_ACTOR", "GITLAB_USER_LOGIN"] {
            if let value = env[key], !value.isEmpty { return value }
        }
        let signature = repo.defaultSignature()
        return "\(signature.name) <\(signature.email)>"
    }

    /// The promotion commit's message. No `[skip ci]`: the commit must trigger CI, which
    /// reconciles the target and so deploys the pin.
    static func message(pin: Pin, to: String) -> String {
        var body = "Pins the artifacts \(pin.source) recorded in run \(pin.run) (spec \(pin.commit.short)):\n"
        for (name, stage) in pin.stages.sorted(by: { $0.key < $1.key }) {
            for (path, digest) in stage.outputs.sorted(by: { $0.key < $1.key }) { body += "  \(name): \(path) \(digest.short)\n" }
        }
        let passed = pin.gates.filter(\.passed).count
        body += pin.gates.isEmpty ? "No gates.\n" : "Gates: \(passed) of \(pin.gates.count) passed.\n"
        return """
        plumb(promote): \(pin.source) → \(to), run \(pin.run)

        \(body)
        Plumb-Promote-From: \(pin.source)
        Plumb-Promote-To: \(to)
        Plumb-Run: \(pin.run)

        """
    }
}

/// Commits a new content of `environments/<env>.pin.json`, made from trees like every commit
/// Plumb writes: on the current branch by compare-and-swap, or on a new branch for a pull request.
struct PinWriter {
    let project: Project

    /// Returns the commit and the (short) branch name it is on.
    func write(environment: String, content: Data, message: String, base: ObjectID, onBranch current: String?,
               newBranch: String?) throws -> (commit: ObjectID, branch: String) {
        let repo = project.repository
        let path = SpecPaths.pin(environment)
        let tree = try repo.tree(updating: base, with: [(path, content)])
        let commit = try repo.createCommit(tree: tree, parents: [base], message: message, author: repo.defaultSignature())
        if let newBranch {
            guard try repo.updateReference("refs/heads/\(newBranch)", to: commit, expected: nil, message: "plumb: pin \(environment)") else {
                throw PlumbError("branch \(newBranch) already exists", hint: "choose another name, or delete it with `git branch -D \(newBranch)`")
            }
            return (commit, newBranch)
        }
        guard let current else {
            throw PlumbError("HEAD is detached", hint: "check out a branch, or pass --branch NAME to put the commit on a new branch")
        }
        let reference = "refs/heads/\(current)"
        // Only the pin file in the working tree follows, before the branch moves: a kill in between
        // must not leave the old pin in the index for the next `git commit` to restore.
        let moved: Bool
        do {
            moved = try repo.moveBranch(reference, to: commit, expected: base, message: "plumb: pin \(environment)", workingTree: .paths([path]))
        } catch let stale as StaleWorkingTree {
            throw PlumbError("committed \(commit.short), but cannot update \(path) in the working tree: \(stale.reason)",
                             hint: "the index has the new pin, so `git commit` keeps it; bring the file back with `git checkout HEAD -- \(path)`")
        }
        guard moved else {
            throw PlumbError("\(current) moved while the pin was being written", hint: "run the command again")
        }
        return (commit, current)
    }
}
