import CGit2
import Foundation
import PlumbCore

/// What `Repository.fastForward(branch:to:)` did.
package enum FastForwardResult: Sendable, Equatable {
    /// The branch already contains the target (equal to it, or ahead of it).
    case upToDate
    /// The branch moved from `from` (nil: it did not exist yet) to `to`.
    case fastForwarded(from: ObjectID?, to: ObjectID)
    /// The branch has commits the target lacks: moving it would lose them, so it was left alone.
    case diverged
}

/// What `Repository.push(remote:refspecs:)` did.
package enum PushResult: Sendable, Equatable {
    /// Every reference was updated on the remote.
    case pushed
    /// The remote moved meanwhile (not a fast-forward): fetch, rebuild on its tip, and push again.
    case rejected(reason: String)
}

extension Repository {
    /// Fetches `refs/heads/<branch>` from `remote` into `refs/remotes/<remote>/<branch>` and
    /// returns the remote's tip, or nil when the remote has no such branch (or no commits at all).
    @discardableResult
    package func fetch(remote: String = "origin", branch: String) throws -> ObjectID? {
        let tracking = "refs/remotes/\(remote)/\(branch)"
        return try withRemote(remote) { handle, session in
            var options = git_fetch_options()
            git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION))
            options.callbacks = session.callbacks()
            // Forced like git's default refspec: a tracking ref mirrors the remote, even after a
            // force push there; local branches are protected by `fastForward`, not here.
            var code: Int32 = 0
            for attempt in 1...3 {
                code = withStringArray(["+refs/heads/\(branch):\(tracking)"]) { specs in
                    git_remote_fetch(handle, specs, &options, "plumb: fetch \(remote) \(branch)")
                }
                // libgit2's local transport lists every ref of the other repository, then reads
                // each: one deleted in between (another clone's short-lived push ref) fails the
                // whole fetch with "not found". Listing again sees the repository as it is now.
                guard code == GIT_ENOTFOUND.rawValue, attempt < 3 else { break }
            }
            try session.check(code, "git_remote_fetch", doing: "cannot fetch '\(branch)' from \(remote)")
            // The advertised refs stay readable after the fetch disconnects; they tell an
            // absent branch apart from a stale tracking ref left by an earlier fetch.
            var heads: UnsafeMutablePointer<UnsafePointer<git_remote_head>?>?
            var count = 0
            try Git.check(git_remote_ls(&heads, &count, handle), "git_remote_ls")
            var tip: ObjectID?
            for i in 0..<count {
                guard let head = heads?[i]?.pointee, let name = head.name else { continue }
                if String(cString: name) == "refs/heads/\(branch)" { tip = ObjectID(head.oid) }
            }
            if tip == nil {
                // The branch is gone from the remote: drop the tracking ref so nothing trusts it.
                var ref: OpaquePointer?
                if git_reference_lookup(&ref, self.handle, tracking) == 0 {
                    git_reference_delete(ref)
                    git_reference_free(ref)
                }
            }
            return tip
        }
    }

    /// Moves `refs/heads/<branch>` to `target` if that is a fast-forward, with compare-and-swap.
    ///
    /// When the branch is checked out in this (non-bare) repository, the working tree and index
    /// follow (before the branch moves, see `moveBranch`), but only safely: if a local uncommitted
    /// change would be overwritten, nothing moves and a `PlumbError` says which files are in the way.
    package func fastForward(branch: String, to target: ObjectID) throws -> FastForwardResult {
        let reference = "refs/heads/\(branch)"
        let current: ObjectID?
        do { current = try referenceTarget(reference) } catch let e as GitError where e.isNotFound { current = nil }
        if let current {
            if try isAncestor(target, of: current) { return .upToDate }
            if try !isAncestor(current, of: target) { return .diverged }
        }
        // libgit2 checks every conflict with local changes before writing any file, so a refusal
        // leaves both the branch and the working tree as they were.
        guard try moveBranch(reference, to: target, expected: current, message: "plumb: fast-forward to \(target.short)",
                             workingTree: .all) else {
            throw PlumbError("cannot fast-forward \(reference): it moved meanwhile",
                             hint: "another process is writing to this repository; try again")
        }
        return .fastForwarded(from: current, to: target)
    }

    /// Pushes `refspecs` (`refs/heads/main:refs/heads/main`) to `remote`.
    ///
    /// Never forced: a refspec starting with `+` is refused. A rejection because the remote moved
    /// (not a fast-forward, caught by libgit2 before sending or reported by the server per
    /// reference) returns `.rejected`; anything else throws.
    package func push(remote: String = "origin", refspecs: [String]) throws -> PushResult {
        if let forced = refspecs.first(where: { $0.hasPrefix("+") }) {
            throw PlumbError("refusing to force-push \(forced): Plumb never rewrites a remote's history")
        }
        return try withRemote(remote) { handle, session in
            var options = git_push_options()
            git_push_options_init(&options, UInt32(GIT_PUSH_OPTIONS_VERSION))
            options.callbacks = session.callbacks()
            let code = withStringArray(refspecs) { specs in git_remote_push(handle, specs, &options) }
            if code == GIT_ENONFASTFORWARD.rawValue {
                let detail = git_error_last().flatMap { $0.pointee.message.map { String(cString: $0) } }
                return .rejected(reason: detail ?? "non-fast-forward")
            }
            try session.check(code, "git_remote_push", doing: "cannot push to \(remote)")
            let refused = session.pushStatuses
            if refused.isEmpty { return .pushed }
            let reason = refused.map { "\($0.reference): \($0.status)" }.joined(separator: "; ")
            if refused.allSatisfy({ RemoteSession.isNonFastForward($0.status) }) { return .rejected(reason: reason) }
            // The server's own words (a hook's output, a protection rule) say why and what to do.
            let said = session.serverLines
            throw PlumbError("the remote \(remote) refused the push: \(reason)" + (said.isEmpty ? "" : "\n" + said.joined(separator: "\n")),
                             hint: said.isEmpty ? "a server-side hook or branch protection declined it, and the server gave no reason"
                                                : "a server-side hook or branch protection declined it: its message is above")
        }
    }

    /// Adds a remote named `name` with git's default fetch refspec.
    func addRemote(name: String, url: String) throws {
        var remote: OpaquePointer?
        let code = git_remote_create(&remote, handle, name, url)
        if code == GIT_EEXISTS.rawValue {
            throw PlumbError("a remote named '\(name)' already exists", hint: "pick another name, or change its URL with `git remote set-url`")
        }
        try Git.check(code, "git_remote_create")
        git_remote_free(remote)
    }

    /// The names of the configured remotes, sorted.
    package func remoteNames() -> [String] {
        var list = git_strarray()
        guard git_remote_list(&list, handle) == 0 else { return [] }
        defer { git_strarray_dispose(&list) }
        return (0..<list.count).compactMap { list.strings[$0].map { String(cString: $0) } }.sorted()
    }

    /// The fetch URL of the remote `name`, nil when there is no such remote.
    package func remoteURL(_ name: String) -> String? {
        var remote: OpaquePointer?
        guard git_remote_lookup(&remote, handle, name) == 0 else { return nil }
        defer { git_remote_free(remote) }
        return git_remote_url(remote).map { String(cString: $0) }
    }

    /// Where pushes to the remote `name` go: its `pushurl` when one is set, else its URL.
    package func remotePushURL(_ name: String) -> String? {
        var remote: OpaquePointer?
        guard git_remote_lookup(&remote, handle, name) == 0 else { return nil }
        defer { git_remote_free(remote) }
        return (git_remote_pushurl(remote) ?? git_remote_url(remote)).map { String(cString: $0) }
    }

    /// Clones `url` (a path, `file://`, `ssh://`, scp-like `host:path` or `https://`) into `path`,
    /// checking out the remote's default branch, and opens the result.
    package static func clone(url: String, to path: String) throws -> Repository {
        Git.ensureInitialised()
        let session = RemoteSession(url: url)
        var options = git_clone_options()
        git_clone_options_init(&options, UInt32(GIT_CLONE_OPTIONS_VERSION))
        options.fetch_opts.callbacks = session.callbacks()
        var repo: OpaquePointer?
        let code = withExtendedLifetime(session) { git_clone(&repo, url, path, &options) }
        try session.check(code, "git_clone", doing: "cannot clone \(session.url)")
        git_repository_free(repo)
        return try Repository(at: path)
    }

    // MARK: - Internals

    /// Looks up `name` and runs `body` with the remote and a session holding its callback state.
    private func withRemote<T>(_ name: String, _ body: (OpaquePointer, RemoteSession) throws -> T) throws -> T {
        var remote: OpaquePointer?
        let code = git_remote_lookup(&remote, handle, name)
        if code == GIT_ENOTFOUND.rawValue || code == GIT_EINVALIDSPEC.rawValue {
            throw PlumbError("this repository has no remote named '\(name)'",
                             hint: "add it with `git remote add \(name) URL`")
        }
        try Git.check(code, "git_remote_lookup")
        defer { git_remote_free(remote) }
        let session = RemoteSession(url: git_remote_url(remote).map { String(cString: $0) } ?? name)
        // The callbacks reach the session through an unretained pointer: keep it alive throughout.
        return try withExtendedLifetime(session) { try body(remote!, session) }
    }

    /// Brings the checked-out working tree and index from `old` to `new`, refusing to overwrite
    /// local changes (git's own `merge --ff-only` behaviour).
    func checkoutSafely(_ new: ObjectID, from old: ObjectID?) throws {
        var oid = new.raw
        var object: OpaquePointer?
        try Git.check(git_object_lookup(&object, handle, &oid, GIT_OBJECT_COMMIT), "git_object_lookup")
        defer { git_object_free(object) }
        var baseline: OpaquePointer?
        if let old {
            var oldOid = try commit(old).tree.raw
            try Git.check(git_tree_lookup(&baseline, handle, &oldOid), "git_tree_lookup")
        }
        defer { if let baseline { git_tree_free(baseline) } }

        final class Conflicts { var paths: [String] = [] }
        let conflicts = Conflicts()
        var options = git_checkout_options()
        git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION))
        options.checkout_strategy = GIT_CHECKOUT_SAFE.rawValue
        // HEAD already names the new commit (the ref moved first), so the baseline must be said:
        // it is what the working tree is compared against to find local edits.
        options.baseline = baseline
        options.notify_flags = GIT_CHECKOUT_NOTIFY_CONFLICT.rawValue
        options.notify_payload = Unmanaged.passUnretained(conflicts).toOpaque()
        options.notify_cb = { _, path, _, _, _, payload in
            if let path, let payload {
                Unmanaged<Conflicts>.fromOpaque(payload).takeUnretainedValue().paths.append(String(cString: path))
            }
            return 0
        }
        let code = withExtendedLifetime(conflicts) { git_checkout_tree(handle, object, &options) }
        if code == GIT_ECONFLICT.rawValue || !conflicts.paths.isEmpty && code < 0 {
            let list = conflicts.paths.sorted()
            let shown = list.isEmpty ? "" : ": " + list.prefix(10).joined(separator: ", ") + (list.count > 10 ? ", …" : "")
            throw PlumbError("cannot fast-forward the checked-out branch to \(new.short): local changes would be overwritten\(shown)",
                             hint: "commit or stash your changes (or discard them), then run again")
        }
        try Git.check(code, "git_checkout_tree")
    }
}

/// Hands a list of strings to libgit2 as a `git_strarray` valid for the duration of `body`.
private func withStringArray<T>(_ strings: [String], _ body: (UnsafePointer<git_strarray>) throws -> T) rethrows -> T {
    var pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return try pointers.withUnsafeMutableBufferPointer { buffer in
        var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
        return try body(&array)
    }
}

/// State one network operation's C callbacks share: C function pointers cannot capture, so the
/// callbacks find this object through the `payload` pointer.
final class RemoteSession {
    /// How often a credential may be offered before giving up: libgit2 asks again after each
    /// rejection, and a wrong token would otherwise loop forever.
    static let maximumAttempts = 5

    /// The remote's URL for messages, with any password in it masked (libgit2 connects with its own copy).
    let url: String
    /// Where credentials come from: the process environment, or a given one in tests.
    let environment: [String: String]
    var attempts = 0
    var triedAgent = false
    var triedKeyFile = false
    var triedToken = false
    /// What was offered so far, for the message when everything has been refused.
    var offered: [String] = []
    /// Why authentication stopped, set by the credentials callback before it fails the operation.
    var authenticationFailure: PlumbError?
    /// References the remote refused during a push, with its status message.
    var pushStatuses: [(reference: String, status: String)] = []
    /// What the server printed while it worked (a hook's "remote: …" lines), capped: remote text.
    var serverMessages = Data()
    static let serverMessagesLimit = 8192

    /// The server's messages, one escaped line each, as git shows them (`remote: …`).
    var serverLines: [String] {
        String(decoding: serverMessages, as: UTF8.self)
            .split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .map { Escape.terminal($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.isEmpty }
            .prefix(20).map { "remote: " + $0 }
    }

    init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        // libgit2 allocates credentials with its own allocator, which only works once initialised.
        Git.ensureInitialised()
        self.url = Redactor.removingURLCredentials(url)
        self.environment = environment
    }

    /// Callback settings pointing back at this session. Valid while the session is alive.
    func callbacks() -> git_remote_callbacks {
        var callbacks = git_remote_callbacks()
        git_remote_init_callbacks(&callbacks, UInt32(GIT_REMOTE_CALLBACKS_VERSION))
        callbacks.payload = Unmanaged.passUnretained(self).toOpaque()
        callbacks.credentials = { out, url, usernameFromURL, allowed, payload in
            guard let out, let payload else { return GIT_PASSTHROUGH.rawValue }
            let session = Unmanaged<RemoteSession>.fromOpaque(payload).takeUnretainedValue()
            return session.credential(out, url: url.map { String(cString: $0) },
                                      username: usernameFromURL.map { String(cString: $0) }, allowed: allowed)
        }
        callbacks.sideband_progress = { text, length, payload in
            if let text, length > 0, let payload {
                let session = Unmanaged<RemoteSession>.fromOpaque(payload).takeUnretainedValue()
                let room = max(0, RemoteSession.serverMessagesLimit - session.serverMessages.count)
                session.serverMessages.append(Data(bytes: text, count: min(Int(length), room)))
            }
            return 0
        }
        callbacks.push_update_reference = { reference, status, payload in
            // A nil status means the remote accepted this reference.
            if let reference, let status, let payload {
                let session = Unmanaged<RemoteSession>.fromOpaque(payload).takeUnretainedValue()
                session.pushStatuses.append((String(cString: reference), String(cString: status)))
            }
            return 0
        }
        // certificate_check stays nil: libgit2's default verification, never weakened silently.
        return callbacks
    }

    /// Offers the next credential for `allowed`, or fails the operation with a reason.
    ///
    /// SSH: the ssh-agent first, then the key file in PLUMB_SSH_KEY. HTTPS: the token in
    /// PLUMB_GIT_TOKEN (or GIT_TOKEN) as a password. Each is offered once: being asked again means
    /// it was refused.
    func credential(_ out: UnsafeMutablePointer<UnsafeMutablePointer<git_credential>?>, url: String?,
                    username: String?, allowed: UInt32) -> Int32 {
        attempts += 1
        guard attempts <= Self.maximumAttempts else {
            return fail("authentication to \(self.url) failed after \(Self.maximumAttempts) attempts",
                        hint: "check the credentials in the environment")
        }
        let sshUser = username ?? environment["PLUMB_SSH_USER"] ?? "git"
        if allowed & GIT_CREDENTIAL_USERNAME.rawValue != 0 {
            // libgit2 asks for the user name alone when an ssh URL carries none.
            return git_credential_username_new(out, sshUser)
        }
        if allowed & GIT_CREDENTIAL_SSH_KEY.rawValue != 0 {
            if !triedAgent, let socket = environment["SSH_AUTH_SOCK"], !socket.isEmpty {
                triedAgent = true
                offered.append("the keys in ssh-agent")
                return git_credential_ssh_key_from_agent(out, sshUser)
            }
            triedAgent = true
            if !triedKeyFile, let key = environment["PLUMB_SSH_KEY"], !key.isEmpty {
                triedKeyFile = true
                offered.append("the key \(key) (PLUMB_SSH_KEY)")
                // libssh2 can derive the public key from the private one; the .pub helps when it cannot.
                let publicKey = FileManager.default.fileExists(atPath: key + ".pub") ? key + ".pub" : nil
                return git_credential_ssh_key_new(out, sshUser, publicKey, key, environment["PLUMB_SSH_KEY_PASSPHRASE"])
            }
            let what = offered.isEmpty
                ? "no ssh-agent is running (SSH_AUTH_SOCK) and PLUMB_SSH_KEY is not set"
                : "the server refused " + offered.joined(separator: " and ") + " for user '\(sshUser)'"
            return fail("ssh authentication to \(self.url) failed: \(what)",
                        hint: "load a key into ssh-agent, or set PLUMB_SSH_KEY to a private key file (and PLUMB_SSH_KEY_PASSPHRASE if it has one)")
        }
        if allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0 {
            guard let token = environment["PLUMB_GIT_TOKEN"] ?? environment["GIT_TOKEN"], !token.isEmpty else {
                return fail("\(self.url) asks for authentication and no token is set",
                            hint: "set PLUMB_GIT_TOKEN (or GIT_TOKEN) to an access token; PLUMB_GIT_USER sets the user name (default x-access-token)")
            }
            guard !triedToken else {
                return fail("\(self.url) refused the token in PLUMB_GIT_TOKEN/GIT_TOKEN",
                            hint: "check that the token in PLUMB_GIT_TOKEN (or GIT_TOKEN) is valid and may read and write this repository")
            }
            triedToken = true
            let user = environment["PLUMB_GIT_USER"] ?? username ?? "x-access-token"
            return git_credential_userpass_plaintext_new(out, user, token)
        }
        return fail("\(self.url) asks for a kind of authentication Plumb does not support",
                    hint: "use an ssh:// URL with ssh-agent or PLUMB_SSH_KEY, or an https:// URL with PLUMB_GIT_TOKEN")
    }

    private func fail(_ message: String, hint: String) -> Int32 {
        authenticationFailure = PlumbError(message, hint: hint)
        // GIT_EUSER aborts the operation and tells us the reason is ours, kept above.
        return GIT_EUSER.rawValue
    }

    /// Turns a libgit2 return code into a clear error, preferring the reason the callbacks left.
    func check(_ code: Int32, _ function: String, doing context: String) throws {
        guard code < 0 else { return }
        if let failure = authenticationFailure {
            throw PlumbError("\(context): \(failure.message)", hint: failure.hint)
        }
        do { try Git.check(code, function) } catch {
            let hint = code == GIT_EAUTH.rawValue
                ? "set credentials: ssh-agent or PLUMB_SSH_KEY for ssh, PLUMB_GIT_TOKEN for https"
                : nil
            throw PlumbError("\(context): \(error.message)", hint: hint)
        }
    }

    /// Whether a per-reference status from the server means "the remote moved", which a fetch and
    /// retry can fix, rather than a refusal no retry will change (a hook, a protected branch).
    static func isNonFastForward(_ status: String) -> Bool {
        let s = status.lowercased()
        // "failed to create locked file …/main.lock: File exists" is libgit2's local transport
        // meeting another push in progress: transient, like git's "cannot lock ref".
        return ["non-fast-forward", "fetch first", "stale info", "cannot lock ref", "failed to lock",
                "failed to update ref", "failed to create locked file"].contains { s.contains($0) }
    }
}
