import CGit2
import Foundation
import PlumbCore

/// An open git repository: the one owner of a `git_repository` handle.
///
/// Every read and write Plumb makes to git goes through this type (and its extensions),
/// and every value it returns is a Swift copy.
package final class Repository: @unchecked Sendable {
    // `@unchecked Sendable`: libgit2 handles are not safe to share between threads; callers use one
    // Repository per thread or serialise access (the executor's workspace repository sits behind
    // `WorkspaceInputs.gitLock`); everything else does its git work on the command's own thread.
    let handle: OpaquePointer

    /// The repository's git directory (`.git/`).
    package let gitDirectory: URL
    /// The working tree's root, nil for a bare repository.
    package let workingDirectory: URL?

    /// Opens the repository containing `path` (searching upwards like git does).
    package init(discovering path: String) throws {
        Git.ensureInitialised()
        var buffer = git_buf()
        defer { git_buf_dispose(&buffer) }
        do {
            try Git.check(git_repository_discover(&buffer, path, 0, nil), "git_repository_discover")
        } catch {
            throw PlumbError("\(path) is not inside a git repository", hint: "run `git init` first, or pass --repo")
        }
        var repo: OpaquePointer?
        try Git.check(git_repository_open(&repo, buffer.ptr), "git_repository_open")
        handle = repo!
        gitDirectory = URL(fileURLWithPath: String(cString: git_repository_path(handle)))
        workingDirectory = git_repository_workdir(handle).map { URL(fileURLWithPath: String(cString: $0)) }
    }

    /// Opens exactly the repository at `path` (a working tree or a bare repository).
    package init(at path: String) throws {
        Git.ensureInitialised()
        var repo: OpaquePointer?
        try Git.check(git_repository_open(&repo, path), "git_repository_open")
        handle = repo!
        gitDirectory = URL(fileURLWithPath: String(cString: git_repository_path(handle)))
        workingDirectory = git_repository_workdir(handle).map { URL(fileURLWithPath: String(cString: $0)) }
    }

    /// Creates a new repository at `path` (bare when asked), with `main` as its initial branch.
    package static func create(at path: String, bare: Bool = false) throws -> Repository {
        Git.ensureInitialised()
        var options = git_repository_init_options()
        git_repository_init_options_init(&options, UInt32(GIT_REPOSITORY_INIT_OPTIONS_VERSION))
        options.flags = GIT_REPOSITORY_INIT_MKPATH.rawValue | (bare ? GIT_REPOSITORY_INIT_BARE.rawValue : 0)
        var repo: OpaquePointer?
        try "main".withCString { head in
            options.initial_head = head
            try Git.check(git_repository_init_ext(&repo, path, &options), "git_repository_init_ext")
        }
        git_repository_free(repo)
        return try Repository(at: path)
    }

    deinit { git_repository_free(handle) }

    /// The working tree's root path (the repository path for a bare repository).
    package var root: String { (workingDirectory ?? gitDirectory).path }
}

/// What HEAD points at.
package struct Head: Sendable, Hashable {
    /// The full branch reference (`refs/heads/main`), nil when detached.
    package var reference: String?
    /// The commit, nil on an unborn branch.
    package var commit: ObjectID?
    /// `main` for `refs/heads/main`.
    package var branchName: String? { reference.map { $0.hasPrefix("refs/heads/") ? String($0.dropFirst(11)) : $0 } }
}

/// A commit's metadata, copied out of libgit2.
package struct CommitInfo: Sendable, Hashable {
    package var id: ObjectID
    package var tree: ObjectID
    package var parents: [ObjectID]
    package var message: String
    var authorName: String
    var authorEmail: String
    package var time: Date
    /// The first line of the message.
    package var summary: String { String(message.prefix { $0 != "\n" }) }
}

/// A person and a moment, for commits Plumb writes.
package struct Signature: Sendable, Hashable {
    package var name: String
    package var email: String
    package var time: Date
    package init(name: String, email: String, time: Date = Date()) { self.name = name; self.email = email; self.time = time }
}

extension Repository {
    /// Where HEAD points.
    package func head() throws -> Head {
        var ref: OpaquePointer?
        let code = git_reference_lookup(&ref, handle, "HEAD")
        try Git.check(code, "git_reference_lookup")
        defer { git_reference_free(ref) }
        if git_reference_type(ref) == GIT_REFERENCE_SYMBOLIC {
            let target = String(cString: git_reference_symbolic_target(ref))
            return Head(reference: target, commit: try? referenceTarget(target))
        }
        return Head(reference: nil, commit: git_reference_target(ref).map(ObjectID.init))
    }

    /// The commit a reference points at (peeling tags), or throws if it does not exist.
    package func referenceTarget(_ name: String) throws -> ObjectID {
        var oid = git_oid()
        try Git.check(git_reference_name_to_id(&oid, handle, name), "git_reference_name_to_id")
        return ObjectID(oid)
    }

    /// Resolves any revision expression git understands (`HEAD~2`, `main`, a hex prefix) to a commit.
    package func resolveCommit(_ revision: String) throws -> ObjectID {
        var object: OpaquePointer?
        do {
            try Git.check(git_revparse_single(&object, handle, revision), "git_revparse_single")
        } catch {
            throw PlumbError("unknown revision '\(revision)'", hint: "give a branch, tag or commit id")
        }
        defer { git_object_free(object) }
        var commit: OpaquePointer?
        try Git.check(git_object_peel(&commit, object, GIT_OBJECT_COMMIT), "git_object_peel")
        defer { git_object_free(commit) }
        return ObjectID(git_object_id(commit))
    }

    /// A commit's metadata.
    package func commit(_ id: ObjectID) throws -> CommitInfo {
        var oid = id.raw
        var commit: OpaquePointer?
        try Git.check(git_commit_lookup(&commit, handle, &oid), "git_commit_lookup")
        defer { git_commit_free(commit) }
        let author = git_commit_author(commit)!.pointee
        var parents: [ObjectID] = []
        for i in 0..<git_commit_parentcount(commit) { parents.append(ObjectID(git_commit_parent_id(commit, i))) }
        return CommitInfo(
            id: id, tree: ObjectID(git_commit_tree_id(commit)), parents: parents,
            message: String(cString: git_commit_message(commit)),
            authorName: String(cString: author.name), authorEmail: String(cString: author.email),
            time: Date(timeIntervalSince1970: TimeInterval(author.when.time)))
    }

    /// Updates `reference` to `new` only if it still points at `expected` (nil: must not exist yet).
    /// Returns false when someone moved it meanwhile: git's compare-and-swap.
    ///
    /// `clearingAbandonedLocks` false never removes a lock file, whoever left it: for a repository
    /// Plumb does not work in (a remote's), whose other writers it cannot see.
    @discardableResult
    package func updateReference(_ reference: String, to new: ObjectID, expected: ObjectID?, message: String,
                                clearingAbandonedLocks: Bool = true) throws -> Bool {
        var newOid = new.raw
        var code: Int32 = 0
        let lock = gitDirectory.appendingPathComponent(reference + ".lock").path
        // A ref's lock file (`main.lock`) lives for microseconds while libgit2 renames it into place.
        // One left by a writer killed in that window would block the branch for ever (git's own
        // "Unable to create '….lock': File exists"), so an unattended reconciler clears it once it
        // is clearly abandoned (see `isAbandonedLock`); a lock of a live git transaction never is.
        for attempt in 0..<60 {
            var out: OpaquePointer?
            if var old = expected?.raw {
                code = git_reference_create_matching(&out, handle, reference, &newOid, 1, &old, message)
            } else {
                code = git_reference_create(&out, handle, reference, &newOid, 0, message)
            }
            git_reference_free(out)
            guard code == GIT_ELOCKED.rawValue, attempt < 59 else { break }
            if clearingAbandonedLocks, Self.isAbandonedLock(lock) { unlink(lock) } else { Thread.sleep(forTimeInterval: 0.05) }
        }
        if code == GIT_EMODIFIED.rawValue || code == GIT_EEXISTS.rawValue || code == GIT_ENOTFOUND.rawValue { return false }
        if code == GIT_ELOCKED.rawValue {
            throw PlumbError("cannot update \(reference): \(lock) exists (another git process is updating it)",
                             hint: "wait for that git command to finish; if none is running (one was killed), remove \(lock)")
        }
        try Git.check(code, "git_reference_create_matching")
        return true
    }

    /// Whether a git lock file is left over from a dead writer, decided conservatively (Linux `/proc`):
    /// it is over a second old, no process has it open (libgit2 keeps its lock files open until it
    /// renames them), and no git process that started before the lock was written is still alive.
    /// The last check matters: git closes a ref's lock file once it has written it and keeps the lock
    /// until the transaction commits, running `reference-transaction` hooks in between (and
    /// `git update-ref --stdin` holds it as long as its input says); such a lock is open in no process.
    static func isAbandonedLock(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return false }
        let written = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        guard Date().timeIntervalSince1970 - written > 1 else { return false }
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let fm = FileManager.default
        for pid in (try? fm.contentsOfDirectory(atPath: "/proc")) ?? [] where pid.allSatisfy(\.isNumber) {
            for fd in (try? fm.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
                if let target = try? fm.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"), target == path || target == resolved { return false }
            }
        }
        // Start times are known to a clock tick and boot time to a second: a second of slack errs on "alive".
        let possibleOwners = ProcessTable.processes(namedWithPrefix: "git").filter {
            $0.pid != getpid() && $0.started.timeIntervalSince1970 <= written + 1
        }
        return possibleOwners.isEmpty
    }

    /// Removes a reference; a reference that does not exist is fine.
    package func deleteReference(_ name: String) throws {
        var ref: OpaquePointer?
        let code = git_reference_lookup(&ref, handle, name)
        if code == GIT_ENOTFOUND.rawValue { return }
        try Git.check(code, "git_reference_lookup")
        defer { git_reference_free(ref) }
        try Git.check(git_reference_delete(ref), "git_reference_delete")
    }

    /// Commits between `from` (exclusive) and `to` (inclusive), newest first.
    package func log(from: ObjectID? = nil, to: ObjectID, limit: Int = .max) throws -> [CommitInfo] {
        var walk: OpaquePointer?
        try Git.check(git_revwalk_new(&walk, handle), "git_revwalk_new")
        defer { git_revwalk_free(walk) }
        git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_TIME.rawValue)
        var start = to.raw
        try Git.check(git_revwalk_push(walk, &start), "git_revwalk_push")
        if var stop = from?.raw { try Git.check(git_revwalk_hide(walk, &stop), "git_revwalk_hide") }
        var out: [CommitInfo] = []
        var oid = git_oid()
        while out.count < limit, git_revwalk_next(&oid, walk) == 0 { out.append(try commit(ObjectID(oid))) }
        return out
    }

    /// Whether `ancestor` is reachable from `descendant` (or equal to it).
    package func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) throws -> Bool {
        if ancestor == descendant { return true }
        var a = ancestor.raw, d = descendant.raw
        return try Git.check(git_graph_descendant_of(handle, &d, &a), "git_graph_descendant_of") == 1
    }

    /// The identity for commits Plumb writes: git's configured user, else a Plumb identity.
    package func defaultSignature() -> Signature {
        var sig: UnsafeMutablePointer<git_signature>?
        if git_signature_default(&sig, handle) == 0, let s = sig {
            defer { git_signature_free(s) }
            return Signature(name: String(cString: s.pointee.name), email: String(cString: s.pointee.email))
        }
        return Signature(name: "Plumb", email: "plumb@localhost")
    }
}

extension Repository {
    /// A clone made with `--depth`: its history stops at the clone's depth.
    package var isShallow: Bool { git_repository_is_shallow(handle) == 1 }

    /// Refuses in a shallow clone, for reads whose answer is the branch's whole history (`what`):
    /// there it stops at the clone's depth, and what came before would silently be missing.
    package func requireFullHistory(_ what: String) throws {
        guard isShallow else { return }
        throw PlumbError("this clone is shallow: \(what) needs the branch's whole history, and here it stops at the clone's depth",
                         hint: "git fetch --unshallow (in CI: actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`)")
    }

    /// Whether the user's git config asks for every commit to be signed (`commit.gpgsign`). Plumb
    /// writes commits through libgit2, which does not sign.
    package var requiresSignedCommits: Bool { configBool("commit.gpgsign") ?? false }
}
