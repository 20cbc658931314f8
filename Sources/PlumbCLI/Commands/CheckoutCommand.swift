import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb checkout`: put an environment's recorded outputs into the working tree.
struct CheckoutCommand: PlumbCommand {
    package static let name = "checkout"
    package static let abstract = "Put an environment's recorded outputs into the working tree, from the cache."
    package static let discussion = """
    Reads history/<env>/state.json at a commit (default: HEAD) and writes each stage's recorded
    outputs (or only those of the stages or paths named) into the working tree, verified against
    their digests. Only outputs the spec declares are written, never through a folder that is a
    symbolic link. Content the cache does not hold (local edits, files added to an output folder)
    is never replaced without --force: the checkout writes nothing and names those files.
    Outputs not in the local cache are reported; reconcile on this machine to build them.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .option("--ref", value: "REV", help: "Read the recorded state at this commit instead of HEAD."),
        .flag("--force", "-f", help: "Replace outputs even where that loses local changes."),
        .positional("target", optional: true, help: "A stage name or an output path (default: every output)."),
    ]

    var global: GlobalOptions
    var ref: String?
    var force: Bool
    var target: String?

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        ref = parsed.option("--ref")
        force = parsed.flag("--force")
        target = parsed.positional("target")
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let snapshot = try Snapshot.read(project, ref: ref, environment: global.env)
        let env = snapshot.environment.name
        guard let state = snapshot.recorded else {
            throw PlumbError("environment '\(env)' has no recorded state at \(snapshot.commit.short)",
                             hint: "run `plumb reconcile --env \(env)` first")
        }
        KeptOutputs.restore(state, pin: snapshot.pin, environment: env, at: snapshot.commit, in: project.repository, into: project.cache)
        let (selected, undeclared) = OutputCheckout.selection(state: state, spec: snapshot.spec, target: target)
        for entry in undeclared where !global.quiet {
            terminal.error("\(terminal.styled("warning:", .yellow)) \(RecordedState.path(for: env)) records output \(entry), which \(SpecPaths.pipeline) at \(snapshot.commit.short) does not declare; not written")
        }
        if let target, selected.isEmpty {
            throw PlumbError("no recorded stage or output '\(target)' in '\(env)'")
        }
        let report = try OutputCheckout(project: project).write(selected, force: force)
        if !global.quiet && !global.json {
            for item in report.written { terminal.print("\(terminal.styled("✔", .green)) \(item.path) (\(item.digest.short))") }
            for item in report.unchanged { terminal.print("  \(item.path) (\(item.digest.short)) already checked out") }
        }
        for (item, reason) in report.missing {
            terminal.error("\(terminal.styled("✘", .red)) \(item.path) (\(item.digest.short)): \(reason)")
        }
        if global.json {
            try terminal.printJSON(["written": report.written.map(\.path.value), "unchanged": report.unchanged.map(\.path.value)])
        }
        if !report.missing.isEmpty {
            throw PlumbError("\(report.missing.count) output(s) are not in the local cache", hint: "run `plumb reconcile --env \(env)` on this machine")
        }
        return PlumbCLI.ExitCode.ok
    }
}
