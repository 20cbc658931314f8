import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb show <run>`: one run record.
struct ShowCommand: PlumbCommand {
    package static let name = "show"
    package static let abstract = "Show one run: its stages, their outcomes, outputs and metrics."
    package static let discussion = """
    Reads history/<env>/runs/<run>.json at HEAD, in whichever environment recorded the run, and
    prints the spec commit it ran, when it started and how long it took, the pin it deployed, each
    stage's status, action, time, exit code and outputs, in the order the stages run, the run's
    metrics, the plots it recorded (rows and columns; `plumb plots show RUN` draws them), and the
    last lines of the log of every stage that failed. --json prints the whole run record.

    \(RunHelp.discussion)
    """
    package static let arguments: [ArgumentSpec] = [
        .positional("run", help: RunHelp.positional),
    ] + GlobalOptions.arguments + [GlobalOptions.envArgument]

    var global: GlobalOptions
    var runID: String

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        runID = parsed.positional("run") ?? ""
    }

    /// The record of the run `text` names at HEAD (an id, a unique prefix, its suffix, latest,
    /// latest~N), in `environment` or whichever environment has it.
    static func find(_ text: String, environment: String?, project: Project) throws -> RunRecord {
        let resolver = try RunResolver.atHead(project, environment: environment)
        let found = try resolver.resolve(text)
        guard let record = try RunRecord.read(found.run, environment: found.environment, at: resolver.commit, in: project.repository) else {
            throw PlumbError("no run '\(found.run)' in history/ at \(resolver.commit.short)", hint: "list runs with `plumb history`")
        }
        return record
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let record = try Self.find(runID, environment: global.env, project: project)
        if global.json {
            try terminal.printJSON(record)
            return PlumbCLI.ExitCode.ok
        }
        let formatter = ISO8601DateFormatter()
        // The record is untrusted input: every text field of it is escaped before it is printed.
        func v(_ text: String) -> String { Escape.terminal(text) }
        let status = terminal.styled(record.status.rawValue, record.status == .succeeded ? .green : .red)
        terminal.print("Run \(v(record.run)) of \(v(record.environment)): \(status)")
        terminal.print("  spec      \(record.commit.hex)" + (record.branch.map { " on \(v($0))" } ?? ""))
        terminal.print("  started   \(formatter.string(from: record.startedAt)), took \(formatDuration(record.finishedAt.timeIntervalSince(record.startedAt)))")
        if let pin = record.pin { terminal.print("  pinned    \(v(pin.source)) run \(v(pin.run)) (spec \(pin.commit.short))") }
        terminal.print("  plan      \(v(record.summary))")
        terminal.print("")
        // Where each stage ran, when any ran elsewhere than here (a Slurm job).
        let placed = record.stages.values.contains { $0.placement != nil }
        func place(_ p: Placement?) -> String {
            guard let p else { return "here" }
            var text = "\(v(p.runner)) job \(v(p.job ?? "?"))"
            if let node = p.node { text += " on \(v(node))" }
            if let queued = p.queued { text += ", queued \(formatDuration(queued))" }
            if let state = p.state, state != "COMPLETED" { text += ", \(v(state))" }
            return text
        }
        let order = record.stageOrder(in: project.repository)
        let rows = order.compactMap { name in record.stages[name].map { (name, $0) } }.map { name, s -> [String] in
            [name, s.status.rawValue, s.action.rawValue, s.duration.map(formatDuration) ?? "—", s.exitCode.map(String.init) ?? "—",
             s.outputs.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.short)" }.joined(separator: ", ")]
                + (placed ? [place(s.placement)] : [])
        }
        terminal.print(TextTable.render(header: ["stage", "status", "action", "time", "exit", "outputs"] + (placed ? ["where"] : []), rows: rows))
        if !record.metrics.isEmpty {
            terminal.print("")
            terminal.print(TextTable.render(header: ["metric", "value"], rows: record.metrics.sorted { $0.key < $1.key }.map { [$0.key, JSONValue.format($0.value)] }))
        }
        // The plots this run recorded (drawn by `plumb plots show RUN`), and where the others' numbers are.
        let plots = order.flatMap { name in
            (record.stages[name]?.plots ?? [:]).sorted { $0.key < $1.key }.map { path, plot -> [String] in
                let kept = plot.kept.map { " (\($0.count) kept)" } ?? ""
                return [name, path, "\(plot.rows) rows\(kept): " + plot.columns.map(\.name).joined(separator: ", ")]
            } + (record.stages[name]?.plotsRun.map { [[name, "—", "recorded by run \($0)"]] } ?? [])
        }
        if !plots.isEmpty {
            terminal.print("")
            terminal.print(TextTable.render(header: ["stage", "plot", "numbers"], rows: plots.map { $0.map(v) }))
        }
        for name in order { guard let s = record.stages[name], s.status == .failed else { continue }
            terminal.print("")
            terminal.print(terminal.styled("✘ \(v(name))", .red) + "; last lines of its log (full log: plumb logs \(v(record.run)) \(v(name))):")
            for line in (s.logTail ?? "").split(separator: "\n", omittingEmptySubsequences: false) { terminal.print("    \(v(String(line)))") }
        }
        return PlumbCLI.ExitCode.ok
    }
}
