import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb gc`: free cache space no record needs.
struct GCCommand: PlumbCommand {
    package static let name = "gc"
    package static let abstract = "Remove cache objects that no recorded run, state or pin on any local branch refers to."
    package static let discussion = """
    Keeps every output and log that a state, a pin or a run record under history/ refers to, at
    the tip of every local branch; removes the rest (outputs of runs that were never recorded:
    killed, lost a conflict, or on deleted branches). --only-current keeps only what the current
    states and pins need, so older runs' outputs must be rebuilt to restore them.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        .flag("--dry-run", "-n", help: "Say what would be removed; remove nothing."),
        .flag("--only-current", help: "Keep only the current states' and pins' artifacts."),
    ]

    var global: GlobalOptions
    var dryRun: Bool
    var onlyCurrent: Bool

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        dryRun = parsed.flag("--dry-run")
        onlyCurrent = parsed.flag("--only-current")
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
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
