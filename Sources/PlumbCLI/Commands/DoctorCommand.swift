import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb doctor`: checks what a run needs, one line per check with how to fix what is wrong.
struct DoctorCommand: PlumbCommand {
    package static let name = "doctor"
    package static let abstract = "Check what a run needs (libraries, git, spec, cache, store, credentials) and how to fix it."
    package static let discussion = """
    Checks the C libraries' versions, git's user.name/email, the repository and its spec, the
    virtual environment when stages run .venv/bin/python, the local cache (writable, free space), the
    shared store (cache.url or PLUMB_CACHE_URL) and the git remotes, and which of Plumb's credential
    variables are set. Each check prints ok, warn or fail, and for warn and fail how to fix it.
    Exits 1 when any check fails (warnings alone exit 0). Credential variables are reported by name
    only, never by value. The shared store is reached with the configured credentials (one HEAD
    request); git remotes are listed, not contacted.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments

    /// One check's result.
    struct Check: Encodable, Equatable {
        enum Status: String, Encodable { case ok, warn, fail }
        var name: String
        var status: Status
        var detail: String
        var fix: String?
    }

    /// `--json`: every check, and whether none failed.
    struct Report: Encodable {
        var ok: Bool
        var checks: [Check]
    }

    var global: GlobalOptions

    package init(_ parsed: ParsedArguments) throws { global = GlobalOptions(parsed) }

    package func run() throws -> Int32 {
        let checks = Self.checks(repo: global.repo, environment: ProcessInfo.processInfo.environment)
        let failed = checks.contains { $0.status == .fail }
        let terminal = global.terminal()
        if global.json {
            try terminal.printJSON(Report(ok: !failed, checks: checks))
        } else {
            let width = (checks.map(\.name.count).max() ?? 0) + 2
            for c in checks where !(global.quiet && c.status == .ok) {
                var line = "\(c.status.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(c.name.padding(toLength: width, withPad: " ", startingAt: 0))\(c.detail)"
                if let fix = c.fix { line += "\n      fix: \(fix)" }
                terminal.print(line)
            }
        }
        return failed ? PlumbCLI.ExitCode.failure : PlumbCLI.ExitCode.ok
    }

    /// Every check, in order; the ones that need a repository are skipped (with one fail) outside one.
    static func checks(repo: String, environment: [String: String]) -> [Check] {
        var checks = [libraries()]
        let repository: Repository
        do {
            repository = try Repository(discovering: repo)
        } catch {
            checks.append(Check(name: "repository", status: .fail, detail: "no git repository at \(repo)",
                                fix: "run plumb in a clone, or create one: git init && plumb init"))
            checks.append(credentials(environment))
            return checks
        }
        guard let root = repository.workingDirectory?.path else {
            checks.append(Check(name: "repository", status: .fail, detail: "\(repository.gitDirectory.path) is bare", fix: "run plumb in a clone with a working tree"))
            return checks
        }
        let head = try? repository.head().commit
        checks.append(Check(name: "repository", status: head == nil ? .warn : .ok,
                            detail: root + (head.map { " at \($0.short)" } ?? ": no commits yet"),
                            fix: head == nil ? "commit spec/pipeline.yaml (plumb init writes one)" : nil))
        checks.append(identity(repository))
        let (specCheck, spec) = self.spec(root: root, repository: repository, head: head)
        checks.append(specCheck)
        if let venv = virtualEnvironment(spec, root: root) { checks.append(venv) }
        checks.append(cache(root: root, environment: environment))
        checks.append(sharedStore(repository, environment: environment))
        checks.append(remotes(repository))
        checks.append(credentials(environment))
        return checks
    }

    static func libraries() -> Check {
        let curl = CurlLibrary.version.split(separator: " ").first.map(String.init) ?? CurlLibrary.version
        return Check(name: "libraries", status: .ok,
                     detail: "libgit2 \(GitLibrary.version), libyaml \(CoreLibraries.yaml), \(CoreLibraries.crypto), \(curl)")
    }

    /// Plumb commits its records as git's configured user; without one they are by "Plumb".
    static func identity(_ repository: Repository) -> Check {
        let signature = repository.defaultSignature()
        if signature.name == "Plumb" && signature.email == "plumb@localhost" {
            return Check(name: "git identity", status: .warn, detail: "user.name/user.email not set: records are committed as Plumb <plumb@localhost>",
                         fix: "git config --global user.name 'Your Name' && git config --global user.email you@example.com")
        }
        return Check(name: "git identity", status: .ok, detail: "\(signature.name) <\(signature.email)>")
    }

    static func spec(root: String, repository: Repository, head: ObjectID?) -> (Check, Spec?) {
        let loaded = SpecLoader.load(from: WorkingTreeSpecSource(root: root, repository: repository, head: head))
        let errors = loaded.diagnostics.filter { $0.severity == .error }
        let warnings = loaded.diagnostics.filter { $0.severity == .warning }
        if let first = errors.first {
            let more = errors.count > 1 ? " (and \(errors.count - 1) more)" : ""
            return (Check(name: "spec", status: .fail, detail: first.description.split(separator: "\n").first.map(String.init)! + more,
                          fix: "plumb validate shows every problem with its file:line:col"), nil)
        }
        guard let spec = loaded.spec else { return (Check(name: "spec", status: .fail, detail: "the spec does not load", fix: "plumb validate"), nil) }
        let summary = "\(spec.pipeline.stages.count) stages, environments \(spec.environments.keys.sorted().joined(separator: ", "))"
        if !warnings.isEmpty {
            return (Check(name: "spec", status: .warn, detail: "\(summary); \(warnings.count) warning(s)", fix: "plumb validate shows them"), spec)
        }
        return (Check(name: "spec", status: .ok, detail: summary), spec)
    }

    /// The repository's virtual environment, when a stage runs `$PLUMB_REPO/.venv/...` (as the example does).
    static func virtualEnvironment(_ spec: Spec?, root: String) -> Check? {
        guard let spec, spec.pipeline.stages.contains(where: { $0.cmd.contains(".venv/") }) else { return nil }
        let python = root + "/.venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return Check(name: "virtual environment", status: .fail, detail: "stages run .venv/bin/python, but \(python) does not exist",
                         fix: "scripts/setup.sh builds .venv from spec/requirements.txt")
        }
        return Check(name: "virtual environment", status: .ok, detail: python)
    }

    /// The local cache must be writable; under 1 GiB free is a warning.
    static func cache(root: String, environment: [String: String]) -> Check {
        let folder = root + "/.plumb/cache"
        let fm = FileManager.default
        let existing = fm.fileExists(atPath: folder) ? folder : root
        let probe = existing + "/.plumb-doctor-\(getpid())"
        guard fm.createFile(atPath: probe, contents: Data()) else {
            return Check(name: "local cache", status: .fail, detail: "cannot write to \(existing)",
                         fix: "make \(existing) writable by \(environment["USER"] ?? "you") (chmod u+w), or run from a clone you own")
        }
        try? fm.removeItem(atPath: probe)
        var stats = statvfs()
        guard statvfs(existing, &stats) == 0 else { return Check(name: "local cache", status: .ok, detail: "\(folder) writable") }
        let free = Int64(stats.f_bavail) * Int64(stats.f_frsize)
        let detail = "\(folder) writable, holds \(Cache.usage(at: folder).summary), \(formatBytes(free)) free"
        if free < 1 << 30 {
            return Check(name: "local cache", status: .warn, detail: detail, fix: "free space, or remove unused outputs: plumb gc")
        }
        return Check(name: "local cache", status: .ok, detail: detail)
    }

    static func sharedStore(_ repository: Repository, environment: [String: String]) -> Check {
        let settings: SharedStoreSettings?
        do {
            settings = try SharedStoreSettings.resolve(repository: repository, environment: environment)
        } catch {
            return Check(name: "shared store", status: .fail, detail: Redactor.process.redact("\(error)"), fix: (error as? PlumbError)?.hint)
        }
        guard let settings else {
            return Check(name: "shared store", status: .ok, detail: "none configured: outputs stay in this machine's cache (cache.url or PLUMB_CACHE_URL sets one)")
        }
        let shown = Redactor.process.redact(settings.url)
        do {
            // A scratch cache to layer the store over: the check must not touch the repository's.
            let scratch = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("plumb-doctor-\(getpid())")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let cache = try Cache(root: scratch.appendingPathComponent("cache"),
                                  digester: ContentDigester(statCache: StatCache(file: scratch.appendingPathComponent("statcache"))))
            let store = try settings.open(over: cache)
            _ = try store.remote.exists(.content(SHA256Hasher.digest("")))
            return Check(name: "shared store", status: .ok, detail: "\(shown) reachable")
        } catch {
            return Check(name: "shared store", status: .fail, detail: "\(shown): \(Redactor.process.redact(PlumbError.readable(error)))",
                         fix: "check that the store is up, the URL (cache.url or PLUMB_CACHE_URL) and PLUMB_CACHE_USER/PASSWORD or TOKEN")
        }
    }

    static func remotes(_ repository: Repository) -> Check {
        let names = repository.remoteNames()
        guard !names.isEmpty else {
            return Check(name: "git remotes", status: .warn, detail: "none: --pull, --push and promotion through pull requests need one",
                         fix: "git remote add origin URL")
        }
        let shown = names.map { "\($0) \(Redactor.process.redact(repository.remoteURL($0) ?? "?"))" }
        return Check(name: "git remotes", status: .ok, detail: shown.joined(separator: ", "))
    }

    /// Which of Plumb's credential variables are set: names only.
    static func credentials(_ environment: [String: String]) -> Check {
        let set = environment.filter { PlumbCredentials.contains($0.key) && !$0.value.isEmpty }.keys.sorted()
        return Check(name: "credentials", status: .ok, detail: set.isEmpty ? "no PLUMB_* credential variables set" : "set: \(set.joined(separator: ", "))")
    }
}
