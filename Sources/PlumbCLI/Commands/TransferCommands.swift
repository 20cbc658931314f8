import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// What `plumb push` and `plumb pull` move: the objects the records in scope name.
struct TransferScope: Sendable {
    static let arguments: [ArgumentSpec] = [
        .option("--env", "-e", value: "NAME", help: "Only this environment's records (default: every environment)."),
        .option("--run", value: "RUN", help: "Only this run's outputs and logs (an id, a prefix of one, or its random suffix; repeatable)."),
        .flag("--all-branches", help: "Read the records of every local and remote-tracking branch, not only the current one."),
    ]

    var scope: RecordedReferences.Scope

    init(_ parsed: ParsedArguments) {
        let runs = parsed.options("--run")
        scope = RecordedReferences.Scope(branches: parsed.flag("--all-branches") ? .localAndRemote : .head,
                                         environments: parsed.option("--env").map { [$0] },
                                         runs: runs.isEmpty ? .latest : .named(runs))
    }

    /// The shared store of `project`, the objects in scope, and refusals of what cannot be moved.
    func objects(_ project: Project, command: String) throws -> (LayeredStore, LayeredStore.Upload) {
        guard let shared = project.sharedStore else {
            throw PlumbError("no shared store is configured, so there is nothing to \(command)",
                             hint: "name one in spec/pipeline.yaml (cache: {url: https://…}) or in PLUMB_CACHE_URL", kind: .usage)
        }
        let references = try RecordedReferences.read(project.repository, scope: scope)
        if !references.unknownRuns.isEmpty {
            throw PlumbError("no run \(references.unknownRuns.joined(separator: ", ")) is recorded on \(scope.branches == .head ? "the current branch" : "any branch")",
                             hint: "`plumb history` lists the runs; --all-branches looks at every branch", kind: .usage)
        }
        return (shared, references.upload)
    }

    /// Draws a transfer's progress on the status line (a terminal only).
    static func progress(_ terminal: Terminal, _ verb: String) -> TransferObserver? {
        guard terminal.isInteractive, !terminal.quiet else { return nil }
        return { progress in
            terminal.status("\(verb) \(progress.done)/\(progress.total) objects, \(formatBytes(progress.bytes))")
        }
    }
}

/// `plumb push`: copy recorded objects from the local cache to the shared store.
struct PushCommand: PlumbCommand {
    package static let name = "push"
    package static let abstract = "Upload the recorded outputs and logs the shared store lacks."
    package static let discussion = """
    Uploads what the current states and pins of the current branch name, and the last run's logs
    (--env: one environment; --run: those runs' outputs and logs; --all-branches: every branch),
    asking the store first (HEAD) and sending only what it lacks. A reconcile already uploads
    what it records; push seeds a store from an existing cache, or finishes what a
    `--no-upload` run left. Objects not in the local cache are skipped and counted.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + TransferScope.arguments

    var global: GlobalOptions
    var scope: TransferScope

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        scope = TransferScope(parsed)
    }

    struct Report: Encodable {
        var store: String
        var uploaded: Int
        var alreadyThere: Int
        var notInLocalCache: Int
        var bytes: Int64
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let (shared, objects) = try scope.objects(project, command: "push")
        let done = try shared.upload(objects, skipAbsent: true, progress: TransferScope.progress(terminal, "uploading"))
        terminal.status("")
        let report = Report(store: shared.remote.location, uploaded: done.uploaded, alreadyThere: done.alreadyThere,
                            notInLocalCache: done.absent, bytes: done.bytes)
        if global.json { try terminal.printJSON(report); return PlumbCLI.ExitCode.ok }
        let size = formatBytes(done.bytes)
        var line = "Uploaded \(done.uploaded) object\(done.uploaded == 1 ? "" : "s") (\(size)) to \(shared.remote.location); \(done.alreadyThere) already there"
        if done.absent > 0 { line += "; \(done.absent) not in the local cache (skipped)" }
        terminal.print(line + ".")
        return PlumbCLI.ExitCode.ok
    }
}

/// `plumb pull`: fetch recorded objects from the shared store into the local cache.
struct PullCommand: PlumbCommand {
    package static let name = "pull"
    package static let abstract = "Download the recorded outputs and logs the local cache lacks."
    package static let discussion = """
    Fetches into .plumb/cache what the current states and pins of the current branch name, and
    the last run's logs (--env, --run and --all-branches choose as for push), each verified
    against its SHA-256 before it is kept. Plumb fetches what it needs on its own (checkout,
    logs, a pinned deploy); pull fetches ahead, e.g. before working offline. The working tree
    is not changed: `plumb checkout` puts outputs there. Exits 1 when the store lacks an object.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + TransferScope.arguments

    var global: GlobalOptions
    var scope: TransferScope

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        scope = TransferScope(parsed)
    }

    struct Report: Encodable {
        var store: String
        var fetched: Int
        var alreadyHere: Int
        var missing: [Digest]
        var bytes: Int64
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let (shared, objects) = try scope.objects(project, command: "pull")
        let done = try shared.download(objects, progress: TransferScope.progress(terminal, "downloading"))
        terminal.status("")
        let status = done.missing.isEmpty ? PlumbCLI.ExitCode.ok : PlumbCLI.ExitCode.failure
        if global.json {
            try terminal.printJSON(Report(store: shared.remote.location, fetched: done.fetched, alreadyHere: done.alreadyHere,
                                          missing: done.missing, bytes: done.bytes))
            return status
        }
        let size = formatBytes(done.bytes)
        terminal.print("Downloaded \(done.fetched) object\(done.fetched == 1 ? "" : "s") (\(size)) from \(shared.remote.location); \(done.alreadyHere) already here.")
        if !done.missing.isEmpty {
            terminal.error("plumb: error: the shared store lacks \(done.missing.count) object\(done.missing.count == 1 ? "" : "s"): \(done.missing.map(\.short).joined(separator: ", "))")
            terminal.error("hint: `plumb push` from a machine that has them, or reconcile again there without --no-upload")
        }
        return status
    }
}
