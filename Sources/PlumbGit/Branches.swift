import CGit2
import Foundation
import PlumbCore

extension Repository {
    /// Every local branch and the commit it points at, sorted by name.
    package func localBranches() throws -> [(name: String, commit: ObjectID)] {
        try branches(GIT_BRANCH_LOCAL)
    }

    /// Every local and remote-tracking branch (`origin/main`), sorted by name; symbolic ones
    /// (`origin/HEAD`) are left out, their targets are listed anyway.
    package func allBranches() throws -> [(name: String, commit: ObjectID)] {
        try branches(GIT_BRANCH_ALL)
    }

    private func branches(_ kind: git_branch_t) throws -> [(name: String, commit: ObjectID)] {
        var iterator: OpaquePointer?
        try Git.check(git_branch_iterator_new(&iterator, handle, kind), "git_branch_iterator_new")
        defer { git_branch_iterator_free(iterator) }
        var out: [(String, ObjectID)] = []
        var reference: OpaquePointer?
        var type = kind
        while git_branch_next(&reference, &type, iterator) == 0 {
            defer { git_reference_free(reference) }
            guard let target = git_reference_target(reference) else { continue }
            out.append((String(cString: git_reference_shorthand(reference)), ObjectID(target)))
        }
        return out.sorted { $0.0 < $1.0 }
    }
}

/// How the working tree follows when `Repository.moveBranch` moves the checked-out branch.
package enum WorkingTreeFollow: Sendable, Equatable {
    /// Only these paths, which Plumb owns (`history/<env>`, a pin file), are brought to the new
    /// commit, whatever they hold now.
    case paths([String])
    /// The whole tree is brought from the old commit to the new one, refusing to overwrite local
    /// changes (a fast-forward, as `git merge --ff-only`).
    case all
}

/// The branch moved, but its working tree (or part of it) could not follow: the files under
/// `paths` still hold the old content. The index was brought up to date where possible, so that
/// a plain `git commit` does not undo the move.
package struct StaleWorkingTree: Error, Sendable {
    package var paths: [String]
    package var reason: String
}

extension Repository {
    /// Moves `reference` from `expected` to `new` by compare-and-swap (false: it no longer points at
    /// `expected`, and nothing was changed). When it is the checked-out branch of this working tree,
    /// the working tree and index follow as `workingTree` says.
    ///
    /// Files and index go first, the reference last, as `git merge` does: a process killed in
    /// between leaves the new content staged on the old commit, which a `git commit` keeps. The other
    /// order would leave the branch on the new commit with the old content in the index, and the
    /// next ordinary `git commit` would silently undo the move (a record, a pin, a teammate's work).
    /// Plumb processes moving the same checked-out branch take turns on a lock in the git directory.
    ///
    /// Throws `StaleWorkingTree` when the reference moved but paths of the working tree could not be
    /// written; a conflict with local changes (`.all`) throws before anything moves.
    package func moveBranch(_ reference: String, to new: ObjectID, expected: ObjectID?, message: String,
                           workingTree: WorkingTreeFollow) throws -> Bool {
        guard workingDirectory != nil, (try? head().reference) == reference else {
            // Checked out in another working tree of this repository (`git worktree add`): move it
            // from there, so that tree's files and index follow and stay clean.
            if let other = worktree(checkingOut: reference) {
                return try other.moveBranch(reference, to: new, expected: expected, message: message, workingTree: workingTree)
            }
            return try updateReference(reference, to: new, expected: expected, message: message)
        }
        let turn = try WorkingTreeTurn(gitDirectory: gitDirectory)
        defer { turn.release() }
        // A branch that moved already is a rejection before any file is touched.
        let current: ObjectID?
        do { current = try referenceTarget(reference) } catch let e as GitError where e.isNotFound { current = nil }
        guard current == expected else { return false }

        var stale: StaleWorkingTree?
        switch workingTree {
        case .all:
            try checkoutSafely(new, from: expected)
        case let .paths(paths):
            do {
                try syncWorkingTree(to: new, paths: paths)
            } catch {
                // The files cannot be written (a read-only working tree, a folder in the way): the
                // index at least must name the new content, or `git commit` would revert the move.
                stale = StaleWorkingTree(paths: paths, reason: PlumbError.readable(error))
                try setIndexEntries(paths, to: new)
            }
        }
        // Something other than Plumb moved the branch after our check, or holds its lock: the files
        // go back to where the branch is.
        func putBack() {
            let now = try? referenceTarget(reference)
            switch workingTree {
            case .all: if let expected { try? checkoutSafely(expected, from: new) }
            case let .paths(paths): if let now { try? syncWorkingTree(to: now, paths: paths); try? setIndexEntries(paths, to: now) }
            }
        }
        let moved: Bool
        do { moved = try updateReference(reference, to: new, expected: expected, message: message) } catch {
            putBack()
            throw error
        }
        guard moved else {
            putBack()
            return false
        }
        if let stale { throw stale }
        return true
    }

    /// Fails with the path when this repository cannot be written (a read-only `.git`, mount or
    /// permissions), so that a command which will commit says so before it runs anything.
    package func checkWritable() throws {
        for folder in [gitDirectory.path, gitDirectory.appendingPathComponent("objects").path,
                       gitDirectory.appendingPathComponent("refs/heads").path] {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else { continue }
            if access(folder, W_OK) != 0 {
                let code = errno
                throw PlumbError("cannot write to \(folder): \(String(cString: strerror(code)))",
                                 hint: PlumbError.hint(for: code) ?? "Plumb commits its records into this repository")
            }
        }
    }
}

/// One Plumb process at a time moves a checked-out branch and its files: an exclusive `flock` on
/// `<git dir>/plumb-worktree.flock` (per working tree: a linked worktree has its own git dir and
/// index). A flock dies with its process; the file's content says whether its last holder did.
///
/// While holding the turn the file names the holder's pid, and it is emptied on release. Finding it
/// non-empty on taking the turn means the holder was killed mid-move, perhaps while libgit2 held
/// `index.lock`: that lock is its, and left alone it would refuse every later record ("the index is
/// locked"), so it is removed. Git leaves such a lock to the user because it cannot tell whose it
/// is; Plumb can, from the turn.
private final class WorkingTreeTurn {
    private var fd: Int32

    init(gitDirectory: URL) throws {
        let path = gitDirectory.appendingPathComponent("plumb-worktree.flock").path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = errno
            throw PlumbError("cannot open \(path): \(String(cString: strerror(code)))", hint: PlumbError.hint(for: code))
        }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let code = errno
                close(fd)
                throw PlumbError("cannot lock \(path): \(String(cString: strerror(code)))")
            }
        }
        var status = stat()
        if fstat(fd, &status) == 0, status.st_size > 0 {
            let indexLock = gitDirectory.appendingPathComponent("index.lock").path
            if unlink(indexLock) == 0 {
                FileHandle.standardError.write(Data("plumb: removed \(indexLock), left by a Plumb process killed while it wrote the index\n".utf8))
            }
        }
        let holder = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = holder.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}

extension Repository {
    /// The repository's default branch, as a short name: what `origin/HEAD` names in a clone, else
    /// `init.defaultBranch` when that branch exists, else `main` or `master`, else the branch HEAD
    /// is on. nil when none of these exists (a detached HEAD in a repository with other branches).
    package func defaultBranch() -> String? {
        var symbolic: OpaquePointer?
        if git_reference_lookup(&symbolic, handle, "refs/remotes/origin/HEAD") == 0 {
            defer { git_reference_free(symbolic) }
            if git_reference_type(symbolic) == GIT_REFERENCE_SYMBOLIC, let target = git_reference_symbolic_target(symbolic) {
                let name = String(cString: target)
                let prefix = "refs/remotes/origin/"
                if name.hasPrefix(prefix) { return String(name.dropFirst(prefix.count)) }
            }
        }
        func exists(_ branch: String) -> Bool { (try? referenceTarget("refs/heads/\(branch)")) != nil }
        if let configured = configString("init.defaultBranch"), exists(configured) { return configured }
        for name in ["main", "master"] where exists(name) { return name }
        if let head = try? head().reference, head.hasPrefix("refs/heads/") { return String(head.dropFirst("refs/heads/".count)) }
        return nil
    }

    /// A configuration value as git reads it (repository, global and system files), or nil.
    package func configString(_ key: String) -> String? {
        withConfigSnapshot { snapshot in
            var value: UnsafePointer<CChar>?
            guard git_config_get_string(&value, snapshot, key) == 0, let value else { return nil }
            return String(cString: value)
        }
    }

    /// A boolean configuration value as git reads it (`true`, `yes`, `on`, `1`…), or nil.
    package func configBool(_ key: String) -> Bool? {
        withConfigSnapshot { snapshot in
            var value: Int32 = 0
            return git_config_get_bool(&value, snapshot, key) == 0 ? value != 0 : nil
        }
    }

    /// Runs `body` on a read-only snapshot of the configuration (libgit2 reads strings only from
    /// a snapshot); nil when there is no configuration to read.
    private func withConfigSnapshot<T>(_ body: (OpaquePointer?) -> T?) -> T? {
        var config: OpaquePointer?, snapshot: OpaquePointer?
        guard git_repository_config(&config, handle) == 0 else { return nil }
        defer { git_config_free(config) }
        guard git_config_snapshot(&snapshot, config) == 0 else { return nil }
        defer { git_config_free(snapshot) }
        return body(snapshot)
    }
}

extension Repository {
    /// Another working tree of this repository (the main one, or one `git worktree add` made) whose
    /// HEAD is `reference`, opened; nil when no other has it checked out. Stale entries (a removed
    /// folder not yet pruned) are skipped, as git skips them.
    package func worktree(checkingOut reference: String) -> Repository? {
        var paths: [String] = []
        if git_repository_is_worktree(handle) == 1 { paths.append(commonDirectory) }
        var names = git_strarray()
        if git_worktree_list(&names, handle) == 0 {
            defer { git_strarray_dispose(&names) }
            for i in 0..<names.count {
                guard let name = names.strings[i] else { continue }
                var worktree: OpaquePointer?
                guard git_worktree_lookup(&worktree, handle, name) == 0 else { continue }
                defer { git_worktree_free(worktree) }
                if git_worktree_validate(worktree) == 0, let path = git_worktree_path(worktree) { paths.append(String(cString: path)) }
            }
        }
        for path in paths {
            guard let other = try? Repository(at: path), other.workingDirectory != nil,
                  other.gitDirectory.standardizedFileURL != gitDirectory.standardizedFileURL,
                  (try? other.head().reference) == reference else { continue }
            return other
        }
        return nil
    }
}
