import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb promote <from> <to>`: check the target's gates on the source's record, then pin its artifacts.
struct PromoteCommand: PlumbCommand {
    package static let name = "promote"
    package static let abstract = "Check <to>'s gates on <from>'s recorded metrics and pin <from>'s artifacts in <to>."
    package static let discussion = """
    Reads <from>'s recorded state at HEAD and refuses it if its last run failed or if its record is older
    than its spec (reconcile it first). Evaluates the gates that environments/<to>.yaml declares: min and
    max against <from>'s metrics, max_drop against what <to> runs now. When all pass, writes
    environments/<to>.pin.json (source, commit, run, every artifact's digest, the gate results) and commits
    it: plumb(promote): <from> → <to>, run <id>. The next `plumb reconcile --env <to>` deploys exactly those
    artifacts. Promoting artifacts <to> already pins writes nothing, and so does promoting a run that <to>
    was rolled back from (by `plumb rollback` or `git revert`) unless --force: CI promotes on every push,
    and must not undo a rollback behind the reviewer's back.

    Exit codes: 0 promoted (or already pinned), 3 a gate failed (nothing written), 1 error, 64 usage.
    """
    package static let arguments: [ArgumentSpec] = [
        .positional("from", help: "The environment whose artifacts are promoted (e.g. dev)."),
        .positional("to", help: "The environment they go to (e.g. staging)."),
    ] + GlobalOptions.arguments + [
        .flag("--dry-run", "-n", help: "Evaluate the gates and print what would be pinned; write nothing."),
        .option("--branch", value: "NAME", help: "Commit on a new branch NAME (for a pull request); the current branch stays as it is."),
        .flag("--force", help: "Promote even a run that <to> was rolled back from."),
    ] + RemoteOptions.arguments(pullHelp: "Fetch and fast-forward the current branch before reading it.")

    var global: GlobalOptions
    var request: Promoter.Request

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        request = Promoter.Request(from: parsed.positional("from") ?? "", to: parsed.positional("to") ?? "")
        request.dryRun = parsed.flag("--dry-run")
        request.branch = parsed.option("--branch")
        let remoteOptions = try RemoteOptions(parsed, dryRun: request.dryRun)
        request.pull = remoteOptions.pull
        request.push = remoteOptions.push
        request.remote = remoteOptions.remote
        request.force = parsed.flag("--force")
        if let branch = request.branch, branch.isEmpty || branch.hasPrefix("-") || branch.contains("..") || branch.contains(" ") {
            throw UsageError("--branch expects a branch name, not '\(branch)'", command: Self.name)
        }
    }

    package func run() throws -> Int32 {
        try global.streamingJSONLines(global.json) { try run(terminal: $0, lines: $1) }
    }

    private func run(terminal: Terminal, lines: JSONLinesReconcileView?) throws -> Int32 {
        // Like reconcile: a signal never lands between the commit and its working-tree update.
        if !request.dryRun { SignalHandling.install(stopping: "after the current step") }
        let project = try Project(path: global.repo)
        // One writer per environment: the pin is the target's desired state. A dry run takes no lock.
        let lock = request.dryRun ? nil : try project.lock(environment: request.to, command: ReconcileCommand.commandLine, wait: nil)
        defer { lock?.release() }
        let outcome = try Promoter(project: project).promote(request)
        let code = outcome.passed ? PlumbCLI.ExitCode.ok : PlumbCLI.ExitCode.gateFailed
        if let lines { Self.emit(outcome, exitCode: code, to: lines) }
        if !outcome.gates.isEmpty || !global.quiet {
            terminal.print(GateTable.render(outcome.gates, title: "Gates of \(outcome.to) on \(outcome.from)", terminal: terminal))
        }
        Self.printResult(outcome, terminal: terminal)
        return code
    }

    /// `promote --json`: a `gate` line per gate, the `pin` (written, or that would be), `recorded`
    /// when a commit was made, and the `summary`.
    static func emit(_ outcome: Promoter.Outcome, exitCode: Int32, to lines: JSONLinesReconcileView) {
        for gate in outcome.gates {
            guard case var .object(fields) = JSONLinesReconcileView.value(gate) else { continue }
            // Absent and null mean the same to a reader; null keeps every gate line the same shape.
            fields["value"] = fields["value"] ?? .null
            fields["baseline"] = fields["baseline"] ?? .null
            lines.emit("gate", fields)
        }
        if let pin = outcome.pin { lines.emit("pin", ["pin": JSONLinesReconcileView.value(pin)]) }
        if let commit = outcome.commit {
            lines.emit("recorded", ["commit": .string(commit.hex), "branch": outcome.branch.map { .string($0) } ?? .null,
                                    "run": outcome.pin.map { .string($0.run) } ?? .null])
        }
        let result = !outcome.passed ? "gate-failed" : outcome.alreadyPinned ? "already-pinned"
            : outcome.rolledBackFrom != nil ? "rolled-back-from" : outcome.dryRun ? "dry-run" : "promoted"
        lines.emit("summary", [
            "from": .string(outcome.from), "to": .string(outcome.to), "passed": .bool(outcome.passed), "result": .string(result),
            "run": outcome.pin.map { .string($0.run) } ?? .null,
            "commit": outcome.commit.map { .string($0.hex) } ?? .null, "branch": outcome.branch.map { .string($0) } ?? .null,
            "pushed": .bool(outcome.pushed), "dryRun": .bool(outcome.dryRun), "exitCode": .int(Int(exitCode)),
        ])
    }

    static func printResult(_ outcome: Promoter.Outcome, terminal: Terminal) {
        guard outcome.passed else {
            let failed = outcome.gates.filter { !$0.passed }.count
            terminal.error(terminal.styled("✘ \(failed) gate\(failed == 1 ? "" : "s") failed", .red) + ": \(outcome.to) keeps what it runs; nothing was written.")
            return
        }
        guard let pin = outcome.pin else { return }
        if outcome.alreadyPinned {
            terminal.print("\(outcome.to) already pins \(pin.source) run \(pin.run); nothing to do.")
            return
        }
        if let earlier = outcome.rolledBackFrom {
            terminal.print("\(outcome.to) pinned \(pin.source) run \(pin.run) before (as of \(earlier.short)) and was rolled back from it; "
                           + "not promoting it again. A new run of \(pin.source) is promoted as usual; --force promotes this one.")
            return
        }
        if outcome.dryRun {
            terminal.print("Would pin \(pin.source) run \(pin.run) in \(SpecPaths.pin(outcome.to)) (dry run: nothing written).")
            return
        }
        guard let commit = outcome.commit else { return }
        terminal.print(terminal.styled("Promoted", .green) + " \(pin.source) run \(pin.run) → \(outcome.to) in \(commit.short) on \(outcome.branch ?? "?")"
                       + (outcome.pushed ? ", pushed." : "."))
        terminal.print("Next: plumb reconcile --env \(outcome.to)")
    }
}

/// The gate table printed by `promote` and `report`.
enum GateTable {
    static func rows(_ gates: [GateResult]) -> [[String]] {
        gates.map { g in
            [g.metric, g.condition, g.value.map(JSONValue.format) ?? "—", g.baseline.map(JSONValue.format) ?? "—", g.passed ? "pass" : "FAIL"]
        }
    }
    static let header = ["metric", "condition", "value", "baseline", "result"]

    static func render(_ gates: [GateResult], title: String, terminal: Terminal) -> String {
        guard !gates.isEmpty else { return "\(title): no gates." }
        let rows = Self.rows(gates)
        var out = terminal.styled(title, .bold) + "\n"
        out += TextTable.render(header: header, rows: rows) { row, column, text in
            column == 4 ? terminal.styled(text, row.last == "pass" ? .green : .red) : text
        }
        for g in gates where !g.passed { out += "\n  " + Escape.terminal("\(g.metric) \(g.condition): \(g.message)") }
        return out
    }

    static func markdown(_ gates: [GateResult]) -> String {
        guard !gates.isEmpty else { return "No gates." }
        return TextTable.markdown(header: header, rows: rows(gates).map { r in r.dropLast() + [r.last == "pass" ? "✅ pass" : "❌ FAIL"] })
    }
}
