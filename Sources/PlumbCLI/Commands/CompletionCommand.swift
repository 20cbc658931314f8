import Foundation
import PlumbCore
import PlumbGit
import PlumbEngine

/// `plumb completion bash|zsh|fish`: the shell completion script, generated from the command table.
struct CompletionCommand: PlumbCommand {
    package static let name = "completion"
    package static let abstract = "Print the shell completion script for bash, zsh or fish."
    package static let discussion = """
    The script completes commands, options, their fixed values, and the environments, stages and runs
    of the repository (it asks `plumb __complete` when you press Tab, so it never goes stale):
      bash   source <(plumb completion bash)
             (or save it as ~/.local/share/bash-completion/completions/plumb)
      zsh    plumb completion zsh > "${fpath[1]}/_plumb"
             (or source <(plumb completion zsh) after compinit)
      fish   plumb completion fish > ~/.config/fish/completions/plumb.fish
    """
    package static let arguments: [ArgumentSpec] = [
        ArgumentSpec.positional("shell", help: "bash, zsh or fish.").choosing(CompletionScript.Shell.allCases.map(\.rawValue)),
    ]

    var shell: CompletionScript.Shell

    package init(_ parsed: ParsedArguments) throws {
        let raw = parsed.positional("shell") ?? ""
        guard let shell = CompletionScript.Shell(rawValue: raw) else {
            let names = CompletionScript.Shell.allCases.map(\.rawValue)
            throw UsageError("no completion for '\(raw)'", hint: Suggest.closest(to: raw, in: names).map { "did you mean '\($0)'?" }
                                 ?? "shells: \(names.joined(separator: ", "))", command: Self.name)
        }
        self.shell = shell
    }

    package func run() throws -> Int32 {
        FileHandle.standardOutput.write(Data(CompletionScript.render(shell).utf8))
        return PlumbCLI.ExitCode.ok
    }
}

/// `plumb __complete environments|stages|runs`: the names the completion scripts offer, one a line.
/// Hidden from `--help`. Reads the working tree's spec (what you are editing), so it works before a
/// commit; prints nothing, and exits 1, where there is nothing to offer.
struct CompleteCommand: PlumbCommand {
    package static let name = "__complete"
    package static let abstract = "Print names for shell completion."
    package static let arguments: [ArgumentSpec] = [
        .positional("kind", help: "environments, stages or runs."),
    ] + GlobalOptions.arguments + [GlobalOptions.envArgument]

    var global: GlobalOptions
    var kind: String

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        kind = parsed.positional("kind") ?? ""
    }

    package func run() throws -> Int32 {
        guard let names = try? names(), !names.isEmpty else { return PlumbCLI.ExitCode.failure }
        print(names.joined(separator: "\n"))
        return PlumbCLI.ExitCode.ok
    }

    func names() throws -> [String] {
        let repository = try Repository(discovering: global.repo)
        guard let root = repository.workingDirectory?.path else { return [] }
        let spec = SpecLoader.load(from: WorkingTreeSpecSource(root: root)).spec
        switch kind {
        case "environments":
            if let spec { return spec.environments.keys.sorted() }
            // A spec being edited may not load: the files still name the environments.
            let files = (try? FileManager.default.contentsOfDirectory(atPath: root + "/environments")) ?? []
            return files.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
        case "stages":
            // Fan-out stages' names too: each stands for all its instances wherever a stage is taken.
            return spec?.pipeline.targetNames ?? []
        case "runs":
            guard let commit = try repository.head().commit else { return [] }
            let environments = global.env.map { [$0] } ?? spec?.environments.keys.sorted() ?? []
            let runs = try HistoryReader(repository: repository, commit: commit).entries(environments: environments, limit: 30)
                .filter { $0.kind == .run }.map(\.run)
            return ["latest"] + runs
        default:
            throw UsageError("no completion of '\(kind)'", command: Self.name)
        }
    }
}
