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
    Under each entry, the subject of the spec commit a run reconciled and what it ran (`ran prepare,
    train; 2 cached`), or the subject of the promotion's or rollback's commit. The table fits the
    terminal (80 columns when piped, COLUMNS when set): long environment names and ids lose their
    middle (`stag…nary`) and the line under an entry wraps; --wide prints everything in full.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        .option("--env", "-e", value: "NAME", help: "Only this environment's runs and promotions (default: every environment)."),
        // No -n: that is --dry-run in every command that writes (decisions.md, "-n is --dry-run").
        .option("--limit", value: "N", help: "Show at most N entries (default: 20)."),
        TextTable.wideArgument,
    ]

    var global: GlobalOptions
    var limit: Int
    var wide: Bool

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        limit = try parsed.option("--limit", as: "a positive number") { Int($0).flatMap { $0 > 0 ? $0 : nil } } ?? 20
        wide = parsed.flag("--wide")
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
        let width = wide ? nil : terminal.width
        // What happened, on a line of its own under the entry: the subject and what ran are prose that
        // must not squeeze the ids out of 80 columns. A promotion says "promoted" in the result column.
        // Narrow, the kind goes: the result column already says promoted or rolled back.
        let kinds = wide
        let rows = entries.map { e in
            [formatter.string(from: e.time), e.environment] + (kinds ? [e.kind.rawValue] : []) + [e.run, e.status, e.commit?.short ?? "—"]
        }
        let result = kinds ? 4 : 3
        let header = ["time", "env"] + (kinds ? ["what"] : []) + ["run", "result", "commit"]
        let table = TextTable.render(header: header, rows: rows, width: width, shrinking: [1, result - 1]) { row, column, text in
            guard column == result else { return text }
            return terminal.styled(text, row[result] == "failed" || row[result] == "interrupted" ? .red : row[result] == "succeeded" ? .green : .cyan)
        }.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        terminal.print(table[0])
        for (e, line) in zip(entries, table.dropFirst()) {
            terminal.print(line)
            let about = [e.kind == .run ? e.subject ?? "(its spec commit is not in this clone)" : e.summary, e.ran].compactMap { $0 }
            let text = Escape.terminal(about.joined(separator: ": "))
            let lines = width.map { TextTable.wrap(text, max($0 - 4, 20)) } ?? [text]
            for piece in lines { terminal.print("    " + terminal.styled(piece, .dim)) }
        }
        return PlumbCLI.ExitCode.ok
    }
}
