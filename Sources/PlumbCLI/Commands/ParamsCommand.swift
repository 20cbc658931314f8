import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb params` and `plumb params diff [A [B]]`, as `dvc params diff`.
struct ParamsCommand: PlumbCommand {
    package static let name = "params"
    package static let abstract = "Show an environment's params, or diff them between two commits."
    package static let discussion = """
    plumb params [--env E]            the params E's stages get at HEAD
    plumb params diff [A [B]]         the params that changed from commit A to commit B (git revisions:
                                      HEAD~1, a branch, a tag, a commit id); B defaults to HEAD, A to the
                                      commit E's last run reconciled, so the diff is what the next
                                      reconcile runs with that the last one did not
    Params are the effective ones of --env (default: the only environment, or dev): spec/params.yaml
    with the environment's `params` overrides laid over it, as its stages get them. An environment a
    commit does not have yet gets spec/params.yaml alone there. Only changed params are shown unless
    --all; --json and --md print the same for machines and for pull-request comments.
    """
    package static let arguments: [ArgumentSpec] = [
        ArgumentSpec.positional("diff", optional: true, help: "`diff` to compare two commits.").choosing(["diff"]),
        .positional("a", optional: true, help: "With diff: the baseline commit (default: the one the environment's last run reconciled)."),
        .positional("b", optional: true, help: "With diff: the commit compared with it (default: HEAD)."),
    ] + GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .flag("--all", help: "With diff: show unchanged params too."),
        .flag("--md", help: "Print a Markdown table."),
    ]

    var global: GlobalOptions
    var diff: Bool
    var a: String?
    var b: String?
    var all: Bool
    var markdown: Bool

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        all = parsed.flag("--all")
        markdown = parsed.flag("--md")
        a = parsed.positional("a")
        b = parsed.positional("b")
        diff = parsed.positional("diff") != nil
        if let word = parsed.positional("diff"), word != "diff" {
            throw UsageError("unexpected argument '\(word)'", hint: "plumb params diff [A [B]] compares two commits", command: Self.name)
        }
        if !diff && all { throw UsageError("--all goes with `params diff`", command: Self.name) }
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let repository = project.repository
        let head = try Snapshot.read(project, ref: nil, environment: global.env)
        let environment = head.environment.name
        guard diff else {
            let params = try ParamsDiff.effectiveParams(at: head.commit, environment: environment, in: repository)
            if global.json { try terminal.printJSON(params); return PlumbCLI.ExitCode.ok }
            let rows = ParamsDiff.leaves(params).sorted { $0.key < $1.key }.map { [$0.key, $0.value.canonical] }
            if rows.isEmpty { terminal.print("\(environment) has no params."); return PlumbCLI.ExitCode.ok }
            let header = ["param", environment]
            terminal.print(markdown ? TextTable.markdown(header: header, rows: rows) : TextTable.render(header: header, rows: rows))
            return PlumbCLI.ExitCode.ok
        }
        let (left, leftLabel) = try baseline(head: head, repository: repository)
        let right = try b.map { try resolve($0, repository) } ?? head.commit
        let rightLabel = b.map { "\($0) (\(right.short))" } ?? "HEAD (\(right.short))"
        let result = ParamsDiff(environment: environment,
                                a: leftLabel, try ParamsDiff.effectiveParams(at: left, environment: environment, in: repository),
                                b: rightLabel, try ParamsDiff.effectiveParams(at: right, environment: environment, in: repository),
                                all: all)
        if global.json {
            try terminal.printJSON(result)
        } else if result.rows.isEmpty {
            terminal.print("No params of \(environment) changed from \(leftLabel) to \(rightLabel).")
        } else {
            let header = ["param", leftLabel, rightLabel, "change"]
            let rows = result.rows.map(Self.cells)
            terminal.print(markdown ? TextTable.markdown(header: header, rows: rows) : TextTable.render(header: header, rows: rows))
        }
        return PlumbCLI.ExitCode.ok
    }

    /// A, or the commit the environment's last run reconciled.
    func baseline(head: Snapshot, repository: Repository) throws -> (ObjectID, String) {
        if let a { let commit = try resolve(a, repository); return (commit, "\(a) (\(commit.short))") }
        let environment = head.environment.name
        guard let run = head.recorded?.lastRun,
              let record = try RunRecord.read(run, environment: environment, at: head.commit, in: repository) else {
            throw PlumbError("\(environment) has no run yet, so there is no last run to compare with",
                             hint: "name the commits: plumb params diff HEAD~1 (or run `plumb reconcile --env \(environment)` first)", kind: .usage)
        }
        return (record.commit, "last run (\(record.commit.short))")
    }

    func resolve(_ revision: String, _ repository: Repository) throws -> ObjectID {
        do {
            return try repository.resolveCommit(revision)
        } catch {
            throw PlumbError("'\(revision)' names no commit", hint: "give a git revision: HEAD~1, a branch, a tag or a commit id", kind: .usage)
        }
    }

    static func cells(_ row: ParamsDiff.Row) -> [String] {
        let change: String
        switch (row.a, row.b) {
        case (nil, _?): change = "added"
        case (_?, nil): change = "removed"
        case let (x?, y?) where row.changed:
            if let dx = number(x), let dy = number(y) { change = Promotion.signed(dy - dx) } else { change = "changed" }
        default: change = ""
        }
        return [row.param, row.a?.canonical ?? "—", row.b?.canonical ?? "—", change]
    }

    static func number(_ value: JSONValue) -> Double? {
        switch value {
        case let .int(i): Double(i)
        case let .double(d): d
        default: nil
        }
    }
}
