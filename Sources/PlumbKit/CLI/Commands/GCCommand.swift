import Foundation

/// `plumb gc`: free cache space no record needs.
public struct GCCommand: PlumbCommand {
    public static let name = "gc"
    public static let abstract = "Remove cache objects that no recorded run, state or pin on any local branch refers to."
    public static let discussion = """
    Keeps every output and log that a state, a pin or a run record under history/ refers to, at
    the tip of every local branch; removes the rest (outputs of runs that were never recorded:
    killed, lost a conflict, or on deleted branches). --only-current keeps only what the current
    states and pins need, so older runs' outputs must be rebuilt to restore them.
    """
    public static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        .flag("--dry-run", "-n", help: "Say what would be removed; remove nothing."),
        .flag("--only-current", help: "Keep only the current states' and pins' artifacts."),
    ]

    var global: GlobalOptions
    var dryRun: Bool
    var onlyCurrent: Bool

    public init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        dryRun = parsed.flag("--dry-run")
        onlyCurrent = parsed.flag("--only-current")
    }

    public func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        // Collecting while a reconcile stores outputs could remove what it is about to record.
        let lock = dryRun ? nil : try project.lock(environment: "gc", command: ReconcileCommand.commandLine, wait: nil)
        defer { lock?.release() }
        let locks = try FileManager.default.contentsOfDirectory(atPath: project.locksDirectory.path).filter { $0.hasSuffix(".lock") }
        for file in locks where file != "gc.lock" {
            let name = String(file.dropLast(5))
            if let holder = RepositoryLock.holder(directory: project.locksDirectory, name: name) {
                throw PlumbError("environment '\(name)' is being reconciled (pid \(holder.pid): \(holder.command))",
                                 hint: "run plumb gc when no reconcile is going")
            }
        }
        let report = try GarbageCollector(project: project).collect(onlyCurrent: onlyCurrent, dryRun: dryRun)
        if global.json {
            try terminal.printJSON(report)
        } else {
            let size = ByteCountFormatter.string(fromByteCount: report.freedBytes, countStyle: .file)
            terminal.print("\(dryRun ? "Would remove" : "Removed") \(report.removed) object\(report.removed == 1 ? "" : "s") (\(size)); kept \(report.kept).")
        }
        return PlumbCLI.ExitCode.ok
    }
}
