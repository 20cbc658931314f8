import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// A subcommand: parsed from arguments (validating as it goes), then run.
///
/// The shape of swift-argument-parser's `ParsableCommand`, by hand: one type per
/// subcommand, shared option groups, validate then run; errors become exit codes in
/// one place, `PlumbCLI.main`. Sendable because a parsed command is a plain value, and so
/// that `CommandEntry`'s sendable entry point may construct one.
package protocol PlumbCommand: Sendable {
    /// The word after `plumb`.
    static var name: String { get }
    /// One line for `plumb --help`.
    static var abstract: String { get }
    /// Paragraphs for `plumb <name> --help`.
    static var discussion: String { get }
    /// Arguments after the name; include `GlobalOptions.arguments` for the shared ones.
    static var arguments: [ArgumentSpec] { get }
    /// Builds the command from parsed arguments; throws `UsageError` for invalid combinations.
    init(_ parsed: ParsedArguments) throws
    /// Does the work and returns the exit code.
    func run() throws -> Int32
}

extension PlumbCommand {
    package static var discussion: String { "" }
}

/// A command type's description and entry point, so the registry holds plain values
/// rather than existential metatypes.
package struct CommandEntry: Sendable {
    package let name: String
    package let abstract: String
    package let discussion: String
    package let arguments: [ArgumentSpec]
    package let execute: @Sendable (ParsedArguments) throws -> Int32

    package init<C: PlumbCommand>(_ type: C.Type) {
        name = C.name
        abstract = C.abstract
        discussion = C.discussion
        arguments = C.arguments
        execute = { try C($0).run() }
    }
}

/// Options every command shares.
struct GlobalOptions: Sendable {
    /// The repository to work on (default: the one containing the current directory).
    package var repo: String
    /// The environment, when the command takes one.
    package var env: String?
    package var json: Bool
    package var noColour: Bool
    var quiet: Bool
    var verbose: Bool

    package static let arguments: [ArgumentSpec] = [
        .option("--repo", "-C", value: "PATH", help: "The repository to work on (default: the one around the current directory)."),
        .flag("--json", help: "Print machine-readable JSON on stdout."),
        .flag("--no-color", help: "Never colour output (NO_COLOR does the same)."),
        .flag("--quiet", "-q", help: "Print only results and errors."),
        .flag("--verbose", "-v", help: "Print more detail."),
    ]
    /// `--env NAME`, for commands that act on one environment.
    static let envArgument = ArgumentSpec.option("--env", "-e", value: "NAME", help: "The environment (default: the only one, or dev).")

    package init(_ parsed: ParsedArguments) {
        repo = parsed.option("--repo") ?? FileManager.default.currentDirectoryPath
        env = parsed.option("--env")
        json = parsed.flag("--json")
        noColour = parsed.flag("--no-color")
        quiet = parsed.flag("--quiet")
        verbose = parsed.flag("--verbose")
    }

    /// Every global option, as `plumb --help` lists them: the shared ones and `--env`.
    static var all: [ArgumentSpec] { arguments + [envArgument] }

    /// Checks what parsing alone cannot: that `--repo` names a directory that exists, and that
    /// `--repo` and `--env` are not given twice with different values (`plumb -e dev plan -e prod`
    /// would otherwise act on whichever came last). The same value twice is accepted.
    static func validate(_ parsed: ParsedArguments) throws {
        for key in ["--repo", "--env"] {
            let values = parsed.options(key)
            guard let first = values.first, let other = values.first(where: { $0 != first }) else { continue }
            throw UsageError("\(key) given twice, as '\(first)' and '\(other)'", hint: "give \(key) once", command: parsed.command)
        }
        guard let repo = parsed.option("--repo") else { return }
        var isDirectory: ObjCBool = false
        let cwd = FileManager.default.currentDirectoryPath
        let relative = repo.hasPrefix("/") ? "" : " (relative to \(cwd))"
        guard FileManager.default.fileExists(atPath: repo, isDirectory: &isDirectory) else {
            let hint = parsed.command == InitCommand.name ? "create the folder first (mkdir -p \(repo)); -C never creates one"
                : "give the path of a repository's folder, as `git -C` takes it"
            throw UsageError("--repo/-C: no such directory '\(repo)'\(relative)", hint: hint, command: parsed.command)
        }
        guard isDirectory.boolValue else {
            throw UsageError("--repo/-C: '\(repo)' is not a directory", hint: "give the repository's folder, not a file in it",
                             command: parsed.command)
        }
    }

    /// Splits the global options written before the command name (`plumb -C ml plan`) from the
    /// rest, which starts with the command name (or `--help`, `--version`). An option before the
    /// command that is not global is a usage error of `plumb` itself.
    static func leading(_ arguments: [String]) throws(UsageError) -> (options: [String], rest: [String]) {
        var options: [String] = []
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            guard arg.hasPrefix("-"), arg.count > 1, !["--help", "-h", "--version"].contains(arg) else { break }
            let name = arg.firstIndex(of: "=").map { String(arg[..<$0]) } ?? arg
            guard let spec = all.first(where: { $0.names.contains(name) }) else {
                let known = all.flatMap(\.names) + ["--help", "--version"]
                let hint = Suggest.closest(to: name, in: known).map { "did you mean '\($0)'?" }
                    ?? "options of a command go after its name: plumb <command> \(name)"
                throw UsageError("unknown global option '\(name)'", hint: hint, command: "")
            }
            options.append(arg)
            i += 1
            if case let .option(valueName) = spec.kind, name == arg {
                guard i < arguments.count else { throw UsageError("\(name) needs a value (\(valueName))", command: "") }
                options.append(arguments[i])
                i += 1
            }
        }
        return (options, Array(arguments[i...]))
    }

    /// The terminal these options describe.
    package func terminal() -> Terminal { Terminal(noColour: noColour || json, quiet: quiet, verbose: verbose) }

    /// Runs `body` with the views of a command that streams JSON Lines when `streaming`: stdout then
    /// carries only the lines (docs/json.md), the text people read goes to stderr, and a thrown
    /// error becomes the stream's last line, `error`, before it propagates.
    func streamingJSONLines(_ streaming: Bool, streamsOutput: Bool = false,
                            _ body: (Terminal, JSONLinesReconcileView?) throws -> Int32) throws -> Int32 {
        guard streaming else { return try body(terminal(), nil) }
        let terminal = Terminal(noColour: noColour, quiet: quiet, verbose: verbose, toStandardError: true)
        let lines = JSONLinesReconcileView(streamsOutput: streamsOutput)
        do {
            return try body(terminal, lines)
        } catch {
            lines.emit("error", JSONLinesReconcileView.error(error, exitCode: PlumbCLI.exitCode(of: error)))
            throw error
        }
    }
}

/// `--pull`, `--push` and `--remote`, shared by the commands that write to a branch
/// (reconcile, promote, rollback).
struct RemoteOptions: Sendable {
    package var pull: Bool
    package var push: Bool
    package var remote: String

    /// The arguments, with `pullHelp` saying when that command pulls.
    package static func arguments(pullHelp: String = "Fetch the branch from the remote and fast-forward first.") -> [ArgumentSpec] {
        [
            .flag("--pull", help: pullHelp),
            .flag("--push", help: "Push the branch that received the commit (re-made on the remote's tip if it moved)."),
            .option("--remote", value: "NAME", help: "The remote for --pull and --push (default: origin)."),
        ]
    }

    /// Reads the options; `--push` with a dry run is a usage error, since a dry run writes nothing.
    package init(_ parsed: ParsedArguments, dryRun: Bool) throws {
        pull = parsed.flag("--pull")
        push = parsed.flag("--push")
        remote = parsed.option("--remote") ?? "origin"
        if dryRun && push { throw UsageError("--push makes no sense with --dry-run, which writes nothing", command: parsed.command) }
    }
}

/// The `plumb` command line: dispatch, help, version and the mapping of errors to exit codes.
package enum PlumbCLI {
    package static let version = "0.1.0"

    /// Exit codes, as DESIGN.md fixes them.
    enum ExitCode {
        package static let ok: Int32 = 0
        package static let failure: Int32 = 1
        static let changesPending: Int32 = 2
        static let gateFailed: Int32 = 3
        package static let usage: Int32 = 64
        /// 128 + SIGINT, as a shell reports a command that a signal stopped.
        package static let interrupted: Int32 = 130

        /// The exit code of an error of `kind`: the one place kinds become numbers.
        package static func of(_ kind: PlumbError.Kind) -> Int32 {
            switch kind {
            case .failure: failure
            case .usage: usage
            case .interrupted: interrupted
            }
        }
    }

    /// Every command that works, in the order `--help` lists them.
    package static var commands: [CommandEntry] { PlumbCommands.all }

    /// Runs the command line and returns the process's exit code.
    package static func main(_ arguments: [String]) -> Int32 {
        let code = runCommand(arguments)
        // No thread may still be loading when the process exits.
        StatCache.settle()
        return code
    }

    private static func runCommand(_ arguments: [String]) -> Int32 {
        // Global options may come before the command (`plumb -C ml plan`, as `git -C`); they are
        // handed to the command as if written after it, so one parser and one validation see them.
        let leading: [String]
        var args: [String]
        do {
            (leading, args) = try GlobalOptions.leading(arguments)
        } catch {
            report(usage: error)
            return ExitCode.usage
        }
        guard let first = args.first else { print(help()); return ExitCode.usage }
        if first == "--help" || first == "-h" || first == "help" {
            if first == "help", args.dropFirst().contains("--man") { print(ManPage.render(), terminator: ""); return ExitCode.ok }
            if args.count > 1, let command = commands.first(where: { $0.name == args[1] }) {
                print(help(for: command)); return ExitCode.ok
            }
            print(help()); return ExitCode.ok
        }
        if first == "--version" { print("plumb \(version)"); return ExitCode.ok }
        args.removeFirst()
        guard let type = (commands + PlumbCommands.hidden).first(where: { $0.name == first }) else {
            let hint = CommandWords.hint(for: first).map { "\n  hint: \($0)" }
                ?? Suggest.closest(to: first, in: commands.map(\.name)).map { "\n  hint: did you mean '\($0)'?" } ?? ""
            report("error: unknown command '\(Escape.terminal(first))'\(hint)\nRun 'plumb --help' for the list of commands.")
            return ExitCode.usage
        }
        if args.contains("--help") || args.contains("-h") { print(help(for: type)); return ExitCode.ok }
        do {
            for option in leading where option.hasPrefix("-") {
                let name = option.firstIndex(of: "=").map { String(option[..<$0]) } ?? option
                if !type.arguments.contains(where: { $0.names.contains(name) }) {
                    throw UsageError("'plumb \(type.name)' takes no \(name)", command: type.name)
                }
            }
            return try dispatch(type, leading + args)
        } catch let e as UsageError {
            report(usage: e)
            return ExitCode.usage
        } catch let e as DiagnosticsError {
            report(e.diagnostics.sortedForDisplay().map(\.description).joined(separator: "\n"))
            return ExitCode.failure
        } catch let e as PlumbError {
            // An error about a file leads with it, as a compiler's does: `history/dev/state.json: error: …`.
            let shown = PlumbError(e.message, hint: e.hint)
            report((e.file.map { "\($0): " } ?? "") + "error: \(shown.description)")
            return ExitCode.of(e.kind)
        } catch {
            // Foundation's file errors by path and reason, never `Error Domain=NSCocoaErrorDomain …`.
            let hint = PlumbError.posixCode(of: error).flatMap(PlumbError.hint(for:))
            report("error: \(PlumbError.readable(error))" + (hint.map { "\n  hint: \($0)" } ?? ""))
            return ExitCode.failure
        }
    }

    /// The exit code `runCommand` gives `error`; `--json` views put it in their last line.
    static func exitCode(of error: Error) -> Int32 {
        switch error {
        case is UsageError: ExitCode.usage
        case let e as PlumbError: ExitCode.of(e.kind)
        default: ExitCode.failure
        }
    }

    private static func dispatch(_ type: CommandEntry, _ args: [String]) throws -> Int32 {
        let parsed = try ParsedArguments.parse(args, specs: type.arguments, command: type.name)
        try GlobalOptions.validate(parsed)
        return try type.execute(parsed)
    }

    /// A usage error, its hint, and where to read the usage.
    private static func report(usage e: UsageError) {
        let hint = e.hint.map { "\n  hint: \($0)" } ?? ""
        let command = e.command.isEmpty ? "plumb" : "plumb \(e.command)"
        report("error: \(e.message)\(hint)\nRun '\(command) --help' for usage.")
    }

    private static func report(_ text: String) {
        // Errors name paths and values from specs and records: no control character of theirs reaches the terminal,
        // and no secret value.
        FileHandle.standardError.write(Data((Escape.terminal(Redactor.process.redact(text), keeping: .layout) + "\n").utf8))
    }

    /// `plumb --help`.
    static func help() -> String {
        var out = """
        plumb \(version): a GitOps reconciler for machine-learning pipelines.

        USAGE: plumb [global options] <command> [options]

        COMMANDS:

        """
        let width = (commands.map(\.name.count).max() ?? 8) + 2
        for c in commands { out += "  " + c.name.padding(toLength: width, withPad: " ", startingAt: 0) + c.abstract + "\n" }
        out += "\nGLOBAL OPTIONS (before or after the command, as with `git -C`):\n"
        for spec in GlobalOptions.all { out += optionRow(spec) }
        out += """

        OPTIONS:
          --help                  Show help (also: plumb <command> --help).
          --version               Show the version.

        --env applies to the commands that act on one environment; -C and --env each given twice
        with different values is a usage error.

        Exit codes: 0 ok, 1 error or failed stage, 2 changes pending or drifted (--detailed-exitcode),
        3 promotion gate failed, 64 usage error, 130 interrupted (Ctrl-C, SIGTERM).
        """
        return out
    }

    /// One option's row of a help table: names and value in a 28-column margin, help wrapped so no
    /// row passes `helpWidth`.
    static func optionRow(_ spec: ArgumentSpec) -> String {
        var left = spec.names.joined(separator: ", ")
        switch spec.kind {
        case .positional, .flag: break
        case let .option(v): left += " <\(v)>"
        case let .optionalValue(v): left += "[=<\(v)>]"
        }
        return helpRow(left, spec.help)
    }

    static func helpRow(_ left: String, _ help: String) -> String {
        let margin = String(repeating: " ", count: 28)
        let body = wrap(help, width: helpWidth - margin.count).joined(separator: "\n" + margin)
        return left.count < 26 ? "  " + left.padding(toLength: 26, withPad: " ", startingAt: 0) + body + "\n"
            : "  \(left)\n" + margin + body + "\n"
    }

    /// `plumb <command> --help`.
    static func help(for type: CommandEntry) -> String {
        var usage = "plumb \(type.name)"
        for spec in type.arguments {
            if case let .positional(name, optional) = spec.kind {
                usage += spec.repeats ? " [<\(name)>...]" : optional ? " [<\(name)>]" : " <\(name)>"
            }
        }
        usage += " [options]"
        var out = "OVERVIEW: \(type.abstract)\n"
        if !type.discussion.isEmpty { out += "\n\(type.discussion)\n" }
        out += "\nUSAGE: \(usage)\n"
        let positionals = type.arguments.filter { if case .positional = $0.kind { return true }; return false }
        if !positionals.isEmpty {
            out += "\nARGUMENTS:\n"
            for p in positionals { out += helpRow("<\(p.key)>", p.help) }
        }
        out += "\nOPTIONS:\n"
        for spec in type.arguments {
            if case .positional = spec.kind { continue }
            out += optionRow(spec)
        }
        out += helpRow("-h, --help", "Show this help.")
        let globals = GlobalOptions.all.filter { g in type.arguments.contains { $0.names == g.names } }
        if !globals.isEmpty {
            let names = globals.map { $0.names.first(where: { $0.hasPrefix("-") && !$0.hasPrefix("--") }) ?? $0.key }
            let note = "Global options (\(names.joined(separator: ", "))) may also come before the command: plumb -C DIR \(type.name) …"
            out += "\n" + wrap(note, width: helpWidth).joined(separator: "\n") + "\n"
        }
        return out
    }

    /// The widest line `plumb <command> --help` prints in its options table.
    static let helpWidth = 100

    /// `text` broken at spaces into lines of at most `width` characters (a longer word keeps a
    /// line to itself).
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        lines.append(line)
        return lines
    }
}

/// `STAGE…` and `--downstream` of reconcile and plan: act on some stages and what they need.
struct TargetOptions: Sendable {
    static let stages = ArgumentSpec.positionals("stage", help: "Act on these stages and what they need; the others keep their records (default: every stage).")
    static let downstreamFlag = ArgumentSpec.flag("--downstream", help: "With stages named: also every stage that depends on them.")

    /// nil: every stage.
    var stages: Set<String>?
    var downstream: Bool

    init(_ parsed: ParsedArguments, command: String) throws {
        let named = parsed.positionals("stage")
        stages = named.isEmpty ? nil : Set(named)
        downstream = parsed.flag("--downstream")
        if downstream && stages == nil { throw UsageError("--downstream needs stages to start from (plumb \(command) train --downstream)", command: command) }
    }

    func apply(to reconciler: inout Reconciler) {
        reconciler.targets = stages
        reconciler.downstream = downstream
    }
}
