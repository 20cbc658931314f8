import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Goes back to an earlier promotion by committing its pin again.
///
/// The pin file is desired state, so a rollback is an earlier content of
/// `environments/<env>.pin.json` committed anew, marked `rolledBackFrom` the run it replaces.
/// The mark makes rollbacks step back: the promotions still in force form a stack (a rollback
/// pops back to the pin it restores), and the next rollback goes to the one below, never forward
/// to the run just rolled back from. `git revert` of a promotion commit restores the older file
/// without the mark and also works, as a promotion of the older run.
package struct Rollback {
    package let project: Project

    package init(project: Project) { self.project = project }

    /// One content of an environment's pin in the history of the branch.
    struct PinVersion: Sendable, Codable {
        /// The newest commit that has this content (for the oldest content: the one that wrote it).
        package var commit: ObjectID
        package var pin: Pin
    }

    /// What a rollback did; `plumb rollback --json` prints it.
    package struct Outcome: Sendable, Codable {
        package var environment: String
        package var from: PinReference
        package var to: PinReference
        /// The commit the restored pin was taken from.
        package var restoredFrom: ObjectID
        package var commit: ObjectID?
        package var branch: String?
        package var pushed: Bool
        package var dryRun: Bool
    }

    /// Every distinct pin content on the first-parent history of `head`, newest first.
    /// A pin that differs only in who promoted it, and when, counts as the same.
    func pinHistory(environment: String, head: ObjectID) throws -> [PinVersion] {
        let repo = project.repository
        try repo.requireFullHistory("the promotion history of \(environment)")
        let path = SpecPaths.pin(environment)
        var versions: [PinVersion] = []
        var commit: ObjectID? = head
        while let id = commit {
            let info = try repo.commit(id)
            guard let data = try repo.file(at: path, in: id) else { break }
            let pin = try Pin.decode(data, path: "\(path) at \(id.short)")
            if let last = versions.last, Promotion.sameArtifacts(last.pin, pin) {
                // Older commit with the same artifacts: keep the newest commit, the oldest bytes do not matter.
            } else {
                versions.append(PinVersion(commit: id, pin: pin))
            }
            commit = info.parents.first
        }
        return versions
    }

    /// Re-commits the previous distinct pin, or the one named by `to` (a run of the source, by
    /// any name `RunReference` takes, or a commit: its pin is taken).
    package func rollback(environment: String, to: String?, dryRun: Bool, branch newBranch: String?, pull: Bool, push: Bool,
                         remote: String) throws -> Outcome {
        let repo = project.repository
        let path = SpecPaths.pin(environment)
        let current = try repo.head().branchName
        let sync = RemoteSync(repository: repo, remote: remote)
        if pull {
            guard let current else { throw PlumbError("--pull needs a branch; HEAD is detached", hint: "check out a branch") }
            try sync.pull(branch: current, ownedPaths: ["history", path])
        }
        let snapshot = try Snapshot.read(project, ref: nil, environment: environment)
        guard let pin = snapshot.pin else {
            throw PlumbError("\(environment) has no pin: nothing was ever promoted into it", hint: "promote with `plumb promote <from> \(environment)`")
        }
        let history = try pinHistory(environment: environment, head: snapshot.commit)
        let chosen: PinVersion
        if let to {
            chosen = try find(to, history: history, environment: environment, snapshot: snapshot, source: pin.source)
        } else {
            let stack = Self.promotionsInForce(history)
            guard stack.count > 1 else {
                throw PlumbError("\(environment) has no earlier promotion in force to go back to (it pins \(pin.source) run \(pin.run))",
                                 hint: "pick one with `plumb rollback \(environment) --to RUN`")
            }
            chosen = stack[stack.count - 2]
        }
        let currentRef = PinReference(source: pin.source, commit: pin.commit, run: pin.run)
        let target = PinReference(source: chosen.pin.source, commit: chosen.pin.commit, run: chosen.pin.run)
        var outcome = Outcome(environment: environment, from: currentRef, to: target, restoredFrom: chosen.commit,
                              commit: nil, branch: newBranch ?? current, pushed: false, dryRun: dryRun)
        if Promotion.sameArtifacts(chosen.pin, pin) {
            throw PlumbError("\(environment) already pins \(pin.source) run \(pin.run)", hint: "nothing to roll back to")
        }
        if dryRun { return outcome }
        try Promoter.stopIfInterrupted()
        let message = """
        plumb(rollback): \(environment) back to \(chosen.pin.source) run \(chosen.pin.run)

        Restores \(path) as of \(chosen.commit.short); it pinned \(pin.source) run \(pin.run).

        Plumb-Rollback-Env: \(environment)
        Plumb-Rollback-From: \(pin.run)
        Plumb-Run: \(chosen.pin.run)

        """
        var restored = chosen.pin
        restored.rolledBackFrom = pin.run
        let content = try RecordJSON.encode(restored)
        let written = try PlumbError.wrap("cannot commit the rollback") {
            try PinWriter(project: project).write(environment: environment, content: content, message: message,
                                                  base: snapshot.commit, onBranch: current, newBranch: newBranch)
        }
        outcome.commit = written.commit
        outcome.branch = written.branch
        if push {
            try Promoter.stopIfInterrupted(committed: written.commit, on: written.branch)
            outcome.commit = try sync.push(branch: written.branch, ownedPaths: [path])
            outcome.pushed = true
        }
        return outcome
    }

    /// The promotions still in force, oldest first, from the pin history (newest first): each
    /// promotion is pushed; a rollback pops back to the entry with its artifacts (pushed, when `--to`
    /// went somewhere not on the stack). The last entry is the current pin.
    static func promotionsInForce(_ history: [PinVersion]) -> [PinVersion] {
        var stack: [PinVersion] = []
        for version in history.reversed() {
            if version.pin.rolledBackFrom != nil, let keep = stack.lastIndex(where: { Promotion.sameArtifacts($0.pin, version.pin) }) {
                stack.removeSubrange((keep + 1)...)
            } else {
                stack.append(version)
            }
        }
        return stack
    }

    /// The version named by `reference`: a run of a pin in the history (its id, or any name
    /// `RunReference` takes; `latest` is the current pin's source environment's), else a commit whose pin is taken.
    func find(_ reference: String, history: [PinVersion], environment: String, snapshot: Snapshot, source: String) throws -> PinVersion {
        if let version = history.first(where: { $0.pin.run == reference }) { return version }
        // Text that cannot name a run may still be a commit (HEAD~2).
        if RunReference.isWellFormed(reference) {
            let parsed = try RunReference(parsing: reference)
            let latest: Bool
            if case .latest = parsed { latest = true } else { latest = false }
            let resolver = try RunResolver(repository: project.repository, commit: snapshot.commit, spec: snapshot.spec,
                                           environment: latest ? source : nil)
            if let found = try resolver.match(parsed) {
                guard let version = history.first(where: { $0.pin.run == found.run }) else {
                    throw PlumbError("\(found.environment) run \(found.run) ('\(reference)') was never pinned in \(environment)",
                                     hint: "runs pinned so far: \(history.map(\.pin.run).joined(separator: ", "))", kind: .usage)
                }
                return version
            }
        }
        let repo = project.repository
        let path = SpecPaths.pin(environment)
        guard let commit = try? repo.resolveCommit(reference) else {
            throw PlumbError("no promotion of run '\(reference)' in the history of \(path), and no commit '\(reference)'",
                             hint: "runs pinned so far: \(history.map(\.pin.run).joined(separator: ", "))", kind: .usage)
        }
        guard let data = try repo.file(at: path, in: commit) else {
            throw PlumbError("commit \(commit.short) has no \(path)", hint: "give a promotion commit or a run id")
        }
        return PinVersion(commit: commit, pin: try Pin.decode(data, path: "\(path) at \(commit.short)"))
    }
}
