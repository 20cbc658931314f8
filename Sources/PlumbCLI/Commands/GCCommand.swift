import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb gc`: free cache space no record needs.
struct GCCommand: PlumbCommand {
    package static let name = "gc"
    package static let abstract = "Remove the cache objects (--remote: the shared store's) that no record refers to."
    package static let discussion = """
    Keeps every output and log that a state, a pin or a run record under history/ refers to, at
    the tip of every local branch; removes the rest (outputs of runs that were never recorded:
    killed, lost a conflict, or on deleted branches). --only-current keeps only what the current
    states and pins need, so older runs' outputs must be rebuilt to restore them.

    --remote collects the shared store instead, against the records of every local and
    remote-tracking branch (fetch first, so that other machines' branches count). The store is
    not locked against other machines, and a reconcile uploads before it records, so an object
    newer than --grace (default 1d) is kept even when nothing names it yet.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        .flag("--dry-run", "-n", help: "Say what would be removed; remove nothing."),
        .flag("--only-current", help: "Keep only the current states' and pins' artifacts."),
        .flag("--remote", help: "Collect the shared store, not the local cache."),
        .option("--grace", value: "DURATION", help: "With --remote: keep unreferenced objects newer than this (default 1d; 30m, 12h)."),
    ]

    var global: GlobalOptions
    var dryRun: Bool
    var onlyCurrent: Bool
    var remote: Bool
    var grace: Double

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        dryRun = parsed.flag("--dry-run")
        onlyCurrent = parsed.flag("--only-current")
        remote = parsed.flag("--remote")
        grace = try parsed.duration("--grace") ?? 86_400
        if !remote, parsed.option("--grace") != nil {
            throw PlumbError("--grace applies only with --remote", hint: "plumb gc --remote --grace 12h", kind: .usage)
        }
        if remote, onlyCurrent {
            throw PlumbError("--only-current applies only to the local cache", hint: "the shared store keeps what any recorded run refers to", kind: .usage)
        }
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        if remote { return try collectRemote(project, terminal: terminal) }
        // Collecting while a reconcile stores outputs would remove what it is about to record: the
        // cache lock, exclusive here and shared by every reconcile, promote and rollback from before
        // they plan until they have recorded, keeps them apart. The kernel decides who holds it.
        let lock = dryRun ? nil : try Self.lockCache(project)
        defer { lock?.release() }
        let report = try GarbageCollector(project: project).collect(onlyCurrent: onlyCurrent, dryRun: dryRun)
        if global.json {
            try terminal.printJSON(report)
        } else {
            let size = formatBytes(report.freedBytes)
            terminal.print("\(dryRun ? "Would remove" : "Removed") \(report.removed) object\(report.removed == 1 ? "" : "s") (\(size)); kept \(report.kept).")
            terminal.print("The cache holds \(report.cache.summary).")
        }
        return PlumbCLI.ExitCode.ok
    }

    private func collectRemote(_ project: Project, terminal: Terminal) throws -> Int32 {
        let report = try RemoteGarbageCollector(project: project).collect(grace: grace, dryRun: dryRun)
        if global.json {
            try terminal.printJSON(report)
        } else {
            let spared = report.spared > 0 ? "; spared \(report.spared) newer than \(formatDuration(grace))" : ""
            terminal.print("\(dryRun ? "Would remove" : "Removed") \(report.removed) object\(report.removed == 1 ? "" : "s") (\(formatBytes(report.freedBytes))) from \(report.store); kept \(report.kept)\(spared).")
        }
        return PlumbCLI.ExitCode.ok
    }

    /// Takes the cache lock exclusively, or says who is using the cache.
    static func lockCache(_ project: Project) throws -> RepositoryLock {
        if let lock = try RepositoryLock.attempt(directory: project.locksDirectory, name: RepositoryLock.cacheName,
                                                 command: ReconcileCommand.commandLine, mode: .exclusive) {
            return lock
        }
        // Shared holders write no details; the environment locks name the writers that have one.
        let files = (try? FileManager.default.contentsOfDirectory(atPath: project.locksDirectory.path)) ?? []
        let holders = files.filter { $0.hasSuffix(".lock") }.map { String($0.dropLast(5)) }.sorted()
            .filter { $0 != RepositoryLock.cacheName }
            .compactMap { name in RepositoryLock.holder(directory: project.locksDirectory, name: name).map { (name, $0) } }
        let who = holders.isEmpty ? "another plumb command (reconcile, promote or rollback)"
            : holders.map { "pid \($0.1.pid) for '\($0.0)' (\($0.1.command))" }.joined(separator: ", ")
        throw PlumbError("the cache is in use by \(who); plumb gc would remove objects it has not recorded yet",
                         hint: "run plumb gc when no reconcile, promote or rollback is going")
    }
}
