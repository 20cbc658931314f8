import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb metrics` and `plumb metrics diff A B`.
struct MetricsCommand: PlumbCommand {
    package static let name = "metrics"
    package static let abstract = "Show an environment's or a run's metrics, or diff two of them."
    package static let discussion = """
    plumb metrics [--env E | --run R]     the metrics recorded for an environment (default: dev) or a run
    plumb metrics diff [A [B]]            the change of each metric from A to B, absolute and relative;
                                          A and B are environment names, runs (RUN below) or commits (a
                                          commit means the recorded state of --env at that commit);
                                          B defaults to latest, A to latest~1: the environment's last
                                          run against the one before
    Only the metrics that changed are shown unless --all; --json and --md print the same for machines
    and for pull-request comments.

    \(RunHelp.discussion)
    """
    package static let arguments: [ArgumentSpec] = [
        ArgumentSpec.positional("diff", optional: true, help: "`diff` to compare two things.").choosing(["diff"]),
        .positional("a", optional: true, help: "With diff: the baseline (environment, run or commit; default: latest~1)."),
        .positional("b", optional: true, help: "With diff: what is compared with it (default: latest)."),
    ] + GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .option("--run", value: "RUN", help: "The metrics of this run: \(RunHelp.names)."),
        .flag("--md", help: "Print a Markdown table."),
        .flag("--all", help: "With diff: show unchanged metrics too."),
    ]

    var global: GlobalOptions
    var diff: (String, String)?
    var runID: String?
    var markdown: Bool
    var all: Bool

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        runID = parsed.option("--run")
        markdown = parsed.flag("--md")
        all = parsed.flag("--all")
        if let word = parsed.positional("diff") {
            guard word == "diff" else { throw UsageError("unexpected argument '\(word)' (did you mean `metrics diff A B`?)", command: Self.name) }
            // As `git diff`: nothing named compares the last two, one named compares it with the last.
            diff = (parsed.positional("a") ?? "latest~1", parsed.positional("b") ?? "latest")
        }
        if diff == nil && all { throw UsageError("--all goes with `metrics diff`", command: Self.name) }
        if runID != nil && global.env != nil && diff == nil { throw UsageError("give --env or --run, not both", command: Self.name) }
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let source = MetricsSource(project: project)
        if let (a, b) = diff {
            let left = try source.resolve(a, environment: global.env)
            let right = try source.resolve(b, environment: global.env)
            let every = MetricsDiff(a: left.label, left.metrics, b: right.label, right.metrics)
            let result = all ? every : every.changedOnly
            if global.json {
                try terminal.printJSON(result)
            } else if result.rows.isEmpty && !every.rows.isEmpty {
                terminal.print("No metric changed from \(left.label) to \(right.label) (--all shows them).")
            } else {
                terminal.print(markdown ? result.markdown() : result.text())
            }
            return PlumbCLI.ExitCode.ok
        }
        let (label, metrics) = try source.resolve(runID ?? global.env ?? Snapshot.read(project, ref: nil, environment: nil).environment.name,
                                                  environment: global.env)
        if global.json {
            try terminal.printJSON(metrics)
            return PlumbCLI.ExitCode.ok
        }
        let rows = metrics.sorted { $0.key < $1.key }.map { [$0.key, JSONValue.format($0.value)] }
        if rows.isEmpty { terminal.print("\(label) has no metrics recorded."); return PlumbCLI.ExitCode.ok }
        terminal.print(markdown ? TextTable.markdown(header: ["metric", label], rows: rows) : TextTable.render(header: ["metric", label], rows: rows))
        return PlumbCLI.ExitCode.ok
    }
}
