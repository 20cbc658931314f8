import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb rollback <env>`: pin the previous promotion's artifacts again, by a commit.
struct RollbackCommand: PlumbCommand {
    package static let name = "rollback"
    package static let abstract = "Pin an environment's previous promoted artifacts again, by a new commit."
    package static let discussion = """
    Walks the history of environments/<env>.pin.json on the current branch and commits its previous
    distinct content again, byte for byte (or, with --to, the pin of that run or that promotion commit).
    The next `plumb reconcile --env <env>` redeploys those artifacts from the cache. `git revert` of a
    promotion commit does the same thing: the pin file is desired state.

    \(RunHelp.discussion)
    With --to, `latest` is the last run of the environment the current pin came from, and text
    that names no run is taken as a commit.
    """
    package static let arguments: [ArgumentSpec] = [
        .positional("env", help: "The environment to roll back (e.g. prod)."),
    ] + GlobalOptions.arguments + [
        .option("--to", value: "RUN|COMMIT", help: "Go back to the pin of this source run (\(RunHelp.names)), or as of this commit."),
        .flag("--dry-run", "-n", help: "Say what would be pinned; write nothing."),
        .option("--branch", value: "NAME", help: "Commit on a new branch NAME (for a pull request)."),
    ] + RemoteOptions.arguments()

    var global: GlobalOptions
    var environment: String
    var to: String?
    var dryRun: Bool
    var branch: String?
    var pull: Bool
    var push: Bool
    var remote: String

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        environment = parsed.positional("env") ?? ""
        to = parsed.option("--to")
        dryRun = parsed.flag("--dry-run")
        branch = parsed.option("--branch")
        let remoteOptions = try RemoteOptions(parsed, dryRun: dryRun)
        pull = remoteOptions.pull
        push = remoteOptions.push
        remote = remoteOptions.remote
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        // Like reconcile: a signal never lands between the commit and its working-tree update.
        if !dryRun { SignalHandling.install(stopping: "after the current step") }
        let project = try Project(path: global.repo)
        let lock = dryRun ? nil : try project.lock(environment: environment, command: ReconcileCommand.commandLine, wait: nil)
        defer { lock?.release() }
        let outcome = try Rollback(project: project).rollback(environment: environment, to: to, dryRun: dryRun, branch: branch,
                                                              pull: pull, push: push, remote: remote)
        if global.json {
            try terminal.printJSON(outcome)
            return PlumbCLI.ExitCode.ok
        }
        let what = "\(environment): \(outcome.from.source) run \(outcome.from.run) → \(outcome.to.source) run \(outcome.to.run) (pin as of \(outcome.restoredFrom.short))"
        if let commit = outcome.commit {
            terminal.print(terminal.styled("Rolled back", .green) + " \(what) in \(commit.short) on \(outcome.branch ?? "?")" + (outcome.pushed ? ", pushed." : "."))
            terminal.print("Next: plumb reconcile --env \(environment)")
        } else {
            terminal.print("Would roll back \(what) (dry run: nothing written).")
        }
        return PlumbCLI.ExitCode.ok
    }
}
