import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb history`: runs, promotions and rollbacks, newest first.
struct HistoryCommand: PlumbCommand {
    package static let name = "history"
    package static let abstract = "List runs, promotions and rollbacks, newest first."
    package static let discussion = """
    Reads history/<env>/runs/ at HEAD and the commits that recorded them, promoted into an environment
    (Plumb-Promote-To) or rolled one back (Plumb-Rollback-Env). Without --env, every environment.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        .option("--env", "-e", value: "NAME", help: "Only this environment's runs and promotions (default: every environment)."),
        // No -n: that is --dry-run in every command that writes (decisions.md, "-n is --dry-run").
        .option("--limit", value: "N", help: "Show at most N entries (default: 20)."),
    ]

    var global: GlobalOptions
    var limit: Int

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        limit = try parsed.option("--limit", as: "a positive number") { Int($0).flatMap { $0 > 0 ? $0 : nil } } ?? 20
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let head = try Snapshot.read(project, ref: nil, environment: global.env)
        let environments = global.env.map { [$0] } ?? head.spec.environments.keys.sorted()
        let entries = try HistoryReader(repository: project.repository, commit: head.commit).entries(environments: environments, limit: limit)
        if global.json {
            try terminal.printJSON(entries)
            return PlumbCLI.ExitCode.ok
        }
        if entries.isEmpty { terminal.print("Nothing recorded yet: run `plumb reconcile`."); return PlumbCLI.ExitCode.ok }
        let formatter = ISO8601DateFormatter()
        let rows = entries.map { e in
            [formatter.string(from: e.time), e.environment, e.kind.rawValue, e.run, e.status, e.commit?.short ?? "—", e.summary]
        }
        terminal.print(TextTable.render(header: ["time", "env", "what", "run", "result", "commit", "summary"], rows: rows) { row, column, text in
            column == 4 ? terminal.styled(text, row[4] == "failed" || row[4] == "interrupted" ? .red : row[4] == "succeeded" ? .green : .cyan) : text
        })
        return PlumbCLI.ExitCode.ok
    }
}
