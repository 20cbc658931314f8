import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Keeps a branch in step with its remote: `--pull` before planning, `--push` after recording.
///
/// Plumb's own commits touch only paths it owns (`history/<env>/` for a reconcile,
/// `environments/<env>.pin.json` for a promotion). When the remote moved meanwhile and nobody
/// else touched those paths, the local commits are re-made on the remote's tip and pushed again;
/// otherwise Plumb stops with a clear message, and nothing local is lost.
package struct RemoteSync {
    package let repository: Repository
    package let remote: String
    var maxAttempts = 5
    /// Where `pull` keeps local run records it drops because another writer recorded the same
    /// environment first (`.plumb/conflicts/`). Nil: such a divergence stops with an error instead.
    package var conflictsDirectory: URL?

    package init(repository: Repository, remote: String = "origin") {
        self.repository = repository
        self.remote = remote
    }

    /// What a pull did.
    package enum PullResult: Sendable, Equatable {
        case upToDate
        case fastForwarded(to: ObjectID)
        /// Local commits (Plumb's own, on owned paths) were re-made on the remote's tip.
        case replayed(onto: ObjectID, as: ObjectID)
        /// Local records of environments the remote also recorded (a lost race) were dropped, kept
        /// under `conflictsDirectory`, and the branch now sits on the remote's tip (or on the
        /// remaining local records re-made there). `records` are the dropped files' paths.
        case discarded(records: [String], to: ObjectID)
        case noRemoteBranch
    }

    /// Fetches `branch` and brings the local branch up to the remote's tip.
    /// Local commits that only touch `ownedPaths` are kept, re-made on the remote's tip.
    @discardableResult
    package func pull(branch: String, ownedPaths: [String] = []) throws -> PullResult {
        guard repository.remoteURL(remote) != nil else {
            throw PlumbError("no remote '\(remote)' to pull from", hint: "add one with `git remote add \(remote) URL`")
        }
        guard let tip = try PlumbError.wrap("cannot fetch \(branch) from \(remote)", { try repository.fetch(remote: remote, branch: branch) }) else {
            return .noRemoteBranch
        }
        // Records are untrusted: refuse a tip bringing a crafted one before the branch moves.
        try RecordFiles.check(repository, from: try? repository.referenceTarget("refs/heads/\(branch)"), to: tip,
                              source: "\(remote)/\(branch)")
        switch try repository.fastForward(branch: branch, to: tip) {
        case .upToDate: return .upToDate
        case .fastForwarded: return .fastForwarded(to: tip)
        case .diverged:
            let local = try repository.referenceTarget("refs/heads/\(branch)")
            if let conflictsDirectory {
                let dropped = try dropSuperseded(branch: branch, local: local, tip: tip, ownedPaths: ownedPaths, keepIn: conflictsDirectory)
                if !dropped.records.isEmpty { return .discarded(records: dropped.records, to: dropped.now) }
            }
            let replayed = try replay(branch: branch, local: local, onto: tip, ownedPaths: ownedPaths)
            return .replayed(onto: tip, as: replayed)
        }
    }

    /// Pushes `branch`; on a rejection because the remote moved, re-makes the local commits on
    /// the new tip (when the remote did not touch `ownedPaths`) and tries again, with backoff.
    /// Returns the commit the remote's branch now points at: after a race, the local commits
    /// re-made on top of what the remote had, not the ones first made.
    @discardableResult
    package func push(branch: String, ownedPaths: [String]) throws -> ObjectID {
        let reference = "refs/heads/\(branch)"
        for attempt in 1...maxAttempts {
            let result = try PlumbError.wrap("cannot push \(branch) to \(remote)") { try pushOnce(branch: branch) }
            if result == .pushed { return try repository.referenceTarget(reference) }
            guard attempt < maxAttempts else { break }
            // Backoff with jitter before every retry, so writers racing for the same remote spread
            // out. Also when the fetched tip is still ours: the refusal was then a concurrent push
            // holding the remote's ref lock, and retrying at once would only hit it again.
            let delay = min(8.0, 0.2 * pow(2.0, Double(attempt - 1))) * Double.random(in: 0.5...1.5)
            Thread.sleep(forTimeInterval: delay)
            guard let tip = try repository.fetch(remote: remote, branch: branch) else { continue }
            let local = try repository.referenceTarget(reference)
            if try repository.isAncestor(tip, of: local) { continue }
            _ = try replay(branch: branch, local: local, onto: tip, ownedPaths: ownedPaths)
        }
        throw PlumbError("cannot push \(branch) to \(remote): the remote kept moving (\(maxAttempts) attempts)",
                         hint: "the commit is kept locally; push again later with `plumb reconcile --push`")
    }

    /// One push of `branch`, never forced: only a fast-forward of the remote's branch is sent.
    ///
    /// Over ssh and https, git's receive-pack on the server moves the branch only if it still points
    /// where the client saw it, and libgit2 refuses before sending what is not a fast-forward of
    /// that. To a remote on this machine (a path or a `file://` URL), libgit2's local transport would
    /// write the branch without checking what it points at now (two racing pushers could both
    /// "succeed" and one record be lost), so the objects go to a new temporary ref and the branch
    /// moves in the remote repository itself, as receive-pack does: only if what it points at now is
    /// an ancestor of ours (else the local branch lost commits the remote has: after a `git reset`,
    /// say) and by compare-and-swap against exactly that.
    func pushOnce(branch: String) throws -> PushResult {
        let reference = "refs/heads/\(branch)"
        guard let path = try localRemotePath() else {
            return try repository.push(remote: remote, refspecs: ["\(reference):\(reference)"])
        }
        let local = try repository.referenceTarget(reference)
        let target: Repository
        do { target = try Repository(at: path) } catch {
            throw PlumbError("cannot open the repository of \(remote) at \(path): \(PlumbError.readable(error))",
                             hint: "check the remote's URL with `git remote -v`")
        }
        let current: ObjectID?
        do { current = try target.referenceTarget(reference) } catch let e as GitError where e.isNotFound { current = nil }
        if current == local { return .pushed }
        // A remote tip we lack, or one ours does not descend from, is not a fast-forward: fetch,
        // re-make on top (or stop), as with a server's "non-fast-forward".
        if let current, (try? repository.isAncestor(current, of: local)) != true {
            return .rejected(reason: "\(remote)/\(branch) is at \(current.short), which \(branch) does not contain (non-fast-forward)")
        }
        let incoming = "refs/plumb/incoming/\(UUID().uuidString.lowercased())"
        let sent = try repository.push(remote: remote, refspecs: ["\(reference):\(incoming)"])
        guard sent == .pushed else { return sent }
        defer { try? target.deleteReference(incoming) }
        // The remote's lock files are never cleared from here: other writers of that repository
        // (a git receive-pack mid-transaction) are not ours to judge.
        let moved: Bool
        do {
            moved = try target.updateReference(reference, to: local, expected: current, message: "push: plumb",
                                               clearingAbandonedLocks: false)
        } catch let e as PlumbError {
            return .rejected(reason: e.message)
        }
        guard moved else {
            if (try? target.referenceTarget(reference)) == local { return .pushed }
            return .rejected(reason: "\(remote)/\(branch) moved while pushing")
        }
        _ = try? repository.updateReference("refs/remotes/\(remote)/\(branch)", to: local,
                                            expected: try? repository.referenceTarget("refs/remotes/\(remote)/\(branch)"),
                                            message: "plumb: pushed")
        return .pushed
    }

    /// The path of the remote's repository when pushes go to this machine (a path or a `file://`
    /// URL, of the remote's push URL when it has one); nil for a network remote.
    func localRemotePath() throws -> String? {
        guard let url = repository.remotePushURL(remote) else { return nil }
        if url.lowercased().hasPrefix("file:") {
            // file:///srv/x.git, file://localhost/srv/x.git, percent-encoded as URLs are.
            guard let parsed = URL(string: url), parsed.isFileURL, parsed.host == nil || parsed.host == "" || parsed.host == "localhost" else {
                throw PlumbError("cannot push to \(url): only file:// URLs of this machine are supported",
                                 hint: "use file:///path/to/repo.git, a plain path, or an ssh:// or https:// URL")
            }
            return parsed.path
        }
        if url.contains("://") { return nil }
        // scp-like host:path is ssh, unless the part before ':' has a '/' (git's own rule).
        if let colon = url.firstIndex(of: ":"), !url[..<colon].contains("/") { return nil }
        let path = url.hasPrefix("/") ? url : (repository.root as NSString).appendingPathComponent(url)
        // A plain path that is not there is not a network remote: never let it fall to the local
        // transport's unchecked write.
        guard FileManager.default.fileExists(atPath: path) else {
            throw PlumbError("cannot push to \(remote): \(path) does not exist", hint: "check the remote's URL with `git remote -v`")
        }
        return path
    }

    /// The unit two writers can conflict on: `history/<env>` for records, else the path itself
    /// (a pin file). Records of different environments never conflict.
    static func conflictUnit(_ path: String) -> String {
        let parts = path.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        return parts.count >= 2 && parts[0] == "history" ? "history/\(parts[1])" : path
    }

    /// After a lost race: the local commits recorded environments that the remote recorded too.
    /// Their records cannot both be the environment's state, and the remote's is already shared, so
    /// the local ones give way: their files are copied to `keepIn/<local commit>/`, and the branch is
    /// moved to the remote's tip (the outputs of the dropped run stay in the cache, so the next
    /// reconcile restores rather than reruns whatever still differs). Local records of other
    /// environments are kept, re-made on the tip. Returns the dropped paths (empty: nothing to drop,
    /// and nothing was changed).
    func dropSuperseded(branch: String, local: ObjectID, tip: ObjectID, ownedPaths: [String], keepIn: URL) throws -> (records: [String], now: ObjectID) {
        let base = try repository.mergeBase(local, tip)
        let ours = try repository.changedPaths(from: base, to: local)
        func owned(_ path: String) -> Bool { ownedPaths.contains { path == $0 || path.hasPrefix($0 + "/") } }
        // Only Plumb's own records are ever dropped; anything else is the user's to merge.
        guard !ours.isEmpty, ours.allSatisfy(owned) else { return ([], local) }
        let theirUnits = Set(try repository.changedPaths(from: base, to: tip).map(Self.conflictUnit))
        let superseded = ours.filter { theirUnits.contains(Self.conflictUnit($0)) }
        guard !superseded.isEmpty else { return ([], local) }
        // Keep the dropped files first: once the ref moves they are reachable only through the reflog.
        let folder = keepIn.appendingPathComponent(local.hex)
        for path in superseded {
            guard let data = try repository.file(at: path, in: local) else { continue }
            let target = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AtomicFile.write(data, to: target.path)
        }
        let kept = ours.filter { !superseded.contains($0) }
        let now = try moveBranch(branch, from: local, to: tip, carrying: kept, message: try repository.commit(local).message)
        return (superseded.sorted(), now)
    }

    /// Moves `branch` from `local` to `tip`, or to a commit on `tip` that adds `carrying` (paths
    /// taken from `local`), by compare-and-swap; updates a checked-out working tree.
    private func moveBranch(_ branch: String, from local: ObjectID, to tip: ObjectID, carrying paths: [String], message: String) throws -> ObjectID {
        var target = tip
        if !paths.isEmpty {
            var changes: [Repository.TreeChange] = []
            for path in paths { changes.append((path, try repository.file(at: path, in: local))) }
            let tree = try repository.tree(updating: tip, with: changes)
            target = try repository.createCommit(tree: tree, parents: [tip], message: message, author: repository.defaultSignature())
        }
        let reference = "refs/heads/\(branch)"
        guard try repository.moveBranch(reference, to: target, expected: local, message: "plumb: re-make on \(remote)/\(branch)",
                                        workingTree: .all) else {
            throw PlumbError("cannot move \(branch): it moved meanwhile", hint: "another process is writing to this repository; try again")
        }
        return target
    }

    /// Re-makes the local commits since the merge base as one commit on `tip`, if they touch
    /// only `ownedPaths` and the remote did not touch the same environments' records. Moves the local branch there.
    func replay(branch: String, local: ObjectID, onto tip: ObjectID, ownedPaths: [String]) throws -> ObjectID {
        let base = try repository.mergeBase(local, tip)
        let ours = try repository.changedPaths(from: base, to: local)
        func owned(_ path: String) -> Bool { ownedPaths.contains { path == $0 || path.hasPrefix($0 + "/") } }
        let foreign = ours.filter { !owned($0) }
        guard foreign.isEmpty else {
            throw PlumbError("\(branch) has diverged from \(remote)/\(branch), and the local commits change \(foreign.prefix(3).joined(separator: ", "))",
                             hint: "merge or rebase by hand; plumb only re-makes its own commits")
        }
        // Conflicts are per environment: the remote recording staging does not stop a dev record.
        let ourUnits = Set(ours.map(Self.conflictUnit))
        let theirs = try repository.changedPaths(from: base, to: tip).filter(owned).filter { ourUnits.contains(Self.conflictUnit($0)) }
        guard theirs.isEmpty else {
            throw PlumbError("conflict: \(remote)/\(branch) changed \(theirs.prefix(3).joined(separator: ", ")) too (another writer recorded the same environment)",
                             hint: "your run's outputs are in the local cache; reconcile again to plan from their record and converge")
        }
        return try moveBranch(branch, from: local, to: tip, carrying: ours, message: try repository.commit(local).message)
    }
}
