import Foundation

/// `plumb checkout`: put an environment's recorded outputs into the working tree.
public struct CheckoutCommand: PlumbCommand {
    public static let name = "checkout"
    public static let abstract = "Put an environment's recorded outputs into the working tree, from the cache."
    public static let discussion = """
    Reads history/<env>/state.json at a commit (default: HEAD) and writes each stage's recorded
    outputs (or only those of the stages or paths named) into the working tree, verified against
    their digests. Outputs not in the local cache are reported; reconcile on this machine to build them.
    """
    public static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .option("--ref", value: "REV", help: "Read the recorded state at this commit instead of HEAD."),
        .positional("target", optional: true, help: "A stage name or an output path (default: every output)."),
    ]

    var global: GlobalOptions
    var ref: String?
    var target: String?

    public init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        ref = parsed.option("--ref")
        target = parsed.positional("target")
    }

    public func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let snapshot = try Snapshot.read(project, ref: ref, environment: global.env)
        guard let state = snapshot.recorded else {
            throw PlumbError("environment '\(snapshot.environment.name)' has no recorded state at \(snapshot.commit.short)",
                             hint: "run `plumb reconcile --env \(snapshot.environment.name)` first")
        }
        var selected: [(String, Digest)] = []
        for (stage, record) in state.stages.sorted(by: { $0.key < $1.key }) {
            for (path, digest) in record.outputs.sorted(by: { $0.key < $1.key })
            where target == nil || target == stage || target == path || path.hasPrefix((target ?? "") + "/") {
                selected.append((path, digest))
            }
        }
        if let target, selected.isEmpty {
            throw PlumbError("no recorded stage or output '\(target)' in '\(snapshot.environment.name)'")
        }
        var missing = 0
        var written: [String] = []
        for (path, digest) in selected {
            do {
                try project.cache.materialize(digest, at: project.root + "/" + path)
                written.append(path)
                if !global.quiet && !global.json { terminal.print("\(terminal.styled("✔", .green)) \(path) (\(digest.short))") }
            } catch {
                missing += 1
                terminal.error("\(terminal.styled("✘", .red)) \(path) (\(digest.short)): \(error)")
            }
        }
        if global.json {
            try terminal.printJSON(["written": written])
        }
        if missing > 0 {
            throw PlumbError("\(missing) output(s) are not in the local cache", hint: "run `plumb reconcile --env \(snapshot.environment.name)` on this machine")
        }
        return PlumbCLI.ExitCode.ok
    }
}
