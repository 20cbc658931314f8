import Foundation

/// Keeps a branch in step with its remote: `--pull` before planning, `--push` after recording.
///
/// Plumb's own commits touch only paths it owns (`history/<env>/` for a reconcile,
/// `environments/<env>.pin.json` for a promotion). When the remote moved meanwhile and nobody
/// else touched those paths, the local commits are re-made on the remote's tip and pushed again;
/// otherwise Plumb stops with a clear message, and nothing local is lost.
public struct RemoteSync {
    public let repository: Repository
    public let remote: String
    public var maxAttempts = 5

    public init(repository: Repository, remote: String = "origin") {
        self.repository = repository
        self.remote = remote
    }

    /// What a pull did.
    public enum PullResult: Sendable, Equatable {
        case upToDate
        case fastForwarded(to: ObjectID)
        /// Local commits (Plumb's own, on owned paths) were re-made on the remote's tip.
        case replayed(onto: ObjectID, as: ObjectID)
        case noRemoteBranch
    }

    /// Fetches `branch` and brings the local branch up to the remote's tip.
    /// Local commits that only touch `ownedPaths` are kept, re-made on the remote's tip.
    @discardableResult
    public func pull(branch: String, ownedPaths: [String] = []) throws -> PullResult {
        guard repository.remoteURL(remote) != nil else {
            throw PlumbError("no remote '\(remote)' to pull from", hint: "add one with `git remote add \(remote) URL`")
        }
        guard let tip = try PlumbError.wrap("cannot fetch \(branch) from \(remote)", { try repository.fetch(remote: remote, branch: branch) }) else {
            return .noRemoteBranch
        }
        switch try repository.fastForward(branch: branch, to: tip) {
        case .upToDate: return .upToDate
        case .fastForwarded: return .fastForwarded(to: tip)
        case .diverged:
            let local = try repository.referenceTarget("refs/heads/\(branch)")
            let replayed = try replay(branch: branch, local: local, onto: tip, ownedPaths: ownedPaths)
            return .replayed(onto: tip, as: replayed)
        }
    }

    /// Pushes `branch`; on a rejection because the remote moved, re-makes the local commits on
    /// the new tip (when the remote did not touch `ownedPaths`) and tries again, with backoff.
    public func push(branch: String, ownedPaths: [String]) throws {
        let reference = "refs/heads/\(branch)"
        for attempt in 1...maxAttempts {
            let result = try PlumbError.wrap("cannot push \(branch) to \(remote)") {
                try repository.push(remote: remote, refspecs: ["\(reference):\(reference)"])
            }
            if result == .pushed { return }
            guard attempt < maxAttempts else { break }
            guard let tip = try repository.fetch(remote: remote, branch: branch) else { continue }
            let local = try repository.referenceTarget(reference)
            if try repository.isAncestor(tip, of: local) { continue }
            _ = try replay(branch: branch, local: local, onto: tip, ownedPaths: ownedPaths)
            // Backoff with jitter, so writers racing for the same remote spread out.
            let delay = min(8.0, 0.2 * pow(2.0, Double(attempt - 1))) * Double.random(in: 0.5...1.5)
            Thread.sleep(forTimeInterval: delay)
        }
        throw PlumbError("cannot push \(branch) to \(remote): the remote kept moving (\(maxAttempts) attempts)",
                         hint: "the commit is kept locally; push again later with `plumb reconcile --push`")
    }

    /// Re-makes the local commits since the merge base as one commit on `tip`, if they touch
    /// only `ownedPaths` and the remote did not touch those. Moves the local branch there.
    func replay(branch: String, local: ObjectID, onto tip: ObjectID, ownedPaths: [String]) throws -> ObjectID {
        let base = try repository.mergeBase(local, tip)
        let ours = try repository.changedPaths(from: base, to: local)
        func owned(_ path: String) -> Bool { ownedPaths.contains { path == $0 || path.hasPrefix($0 + "/") } }
        let foreign = ours.filter { !owned($0) }
        guard foreign.isEmpty else {
            throw PlumbError("\(branch) has diverged from \(remote)/\(branch), and the local commits change \(foreign.prefix(3).joined(separator: ", "))",
                             hint: "merge or rebase by hand; plumb only re-makes its own commits")
        }
        let theirs = try repository.changedPaths(from: base, to: tip).filter(owned)
        guard theirs.isEmpty else {
            throw PlumbError("conflict: \(remote)/\(branch) changed \(theirs.prefix(3).joined(separator: ", ")) too (another writer recorded the same environment)",
                             hint: "your run's outputs are in the local cache; reconcile again to plan from their record and converge")
        }
        var changes: [Repository.TreeChange] = []
        for path in ours { changes.append((path, try repository.file(at: path, in: local))) }
        let tree = try repository.tree(updating: tip, with: changes)
        let message = try repository.commit(local).message
        let commit = try repository.createCommit(tree: tree, parents: [tip], message: message, author: repository.defaultSignature())
        let reference = "refs/heads/\(branch)"
        guard try repository.updateReference(reference, to: commit, expected: local, message: "plumb: re-make on \(remote)/\(branch)") else {
            throw PlumbError("cannot move \(branch): it moved meanwhile", hint: "another process is writing to this repository; try again")
        }
        if repository.workingDirectory != nil, try repository.head().reference == reference {
            try repository.checkoutSafely(commit, from: local)
        }
        return commit
    }
}
