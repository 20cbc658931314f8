import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb status`: every environment at a glance.
struct StatusCommand: PlumbCommand {
    package static let name = "status"
    package static let abstract = "Show every environment: its pin, last run, pending changes and drift."
    package static let discussion = """
    For each environment, in promotion order: what it is pinned to (source, run, and the digest of the
    artifact its deploy stage installs), its last reconcile and the result, and how many stages a
    reconcile would run now. Runs nothing from the repository unless asked: drift is "not checked"
    without --check, which runs the deploy stage's `check` (with the stage's environment, PLUMB_REPO,
    PLUMB_ENV and PLUMB_EXPECTED_MODEL, the artifact's digest) in the environment's workspace. --json
    for machines.

    Exit 0 unless an error stops it. With --detailed-exitcode, for scripts: 0 when every environment
    is in sync (nothing to run, and with --check no drift), 2 when one has stages to run, drifted
    (with --check) or waits for its first promotion, 1 when one cannot be planned for another reason
    (a plan error) or on error. A drift probe that cannot tell ("unknown") is not drift. Ctrl-C
    during --check stops the probes and exits 130.

    The table fits the terminal (80 columns when piped, COLUMNS when set): runs are named by their
    random suffix (`plumb show 3fa9c1` takes it), the drift column is left out when nothing was
    checked, and long names and digests lose their middle (`stag…nary`); --wide prints them in full.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        .flag("--check", help: "Run the deploy stages' drift probes (repository code) and report drift."),
        .flag("--no-check", help: "Do not run the drift probes (the default)."),
        .flag("--detailed-exitcode", help: "Exit 0 when every environment is in sync, 2 when one has changes pending or drifted, 1 on error."),
        TextTable.wideArgument,
    ]

    var global: GlobalOptions
    var check: Bool
    var detailedExitCode: Bool
    var wide: Bool

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        check = parsed.flag("--check")
        detailedExitCode = parsed.flag("--detailed-exitcode")
        wide = parsed.flag("--wide")
        if check && parsed.flag("--no-check") { throw UsageError("--check and --no-check contradict each other", command: Self.name) }
    }

    /// The exit code for `statuses`: 0 unless `detailed`; then 1 when an environment cannot be
    /// planned, 2 when one has stages to run, drifted or waits for a promotion, else 0.
    ///
    /// An environment awaiting its first promotion has plan errors (nothing pins what it takes), but
    /// it is the normal state of a new staging or prod, not a failure: it counts as pending.
    static func exitCode(for statuses: [EnvironmentStatus], detailed: Bool) -> Int32 {
        guard detailed else { return PlumbCLI.ExitCode.ok }
        if statuses.contains(where: { !$0.planErrors.isEmpty && !$0.awaitingPromotion }) { return PlumbCLI.ExitCode.failure }
        if statuses.contains(where: { $0.pending > 0 || $0.drift == .drifted || $0.awaitingPromotion }) {
            return PlumbCLI.ExitCode.changesPending
        }
        return PlumbCLI.ExitCode.ok
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        // The probes run in their own process groups: without this, Ctrl-C would end plumb and leave them running.
        if check { SignalHandling.install(stopping: "the drift probes") }
        let statuses = try StatusReader(project: project).statuses(checkDrift: check)
        if Interruption.requested { throw PlumbError("interrupted; the drift probes were stopped", kind: .interrupted) }
        let code = Self.exitCode(for: statuses, detailed: detailedExitCode)
        if global.json {
            try terminal.printJSON(statuses)
            return code
        }
        // Narrow, a run is its random suffix, a name every command takes; unchecked drift is the footer's.
        func run(_ id: String) -> String { wide ? id : RunID.suffix(of: id) }
        let drift = wide || check
        let rows = statuses.map { s -> [String] in
            let pin = s.pin.map { "\($0.source) run \(run($0.run))" } ?? (s.from == nil ? "(builds its own)" : "not promoted yet")
            let model = s.modelDigest.map { $0.short } ?? "—"
            let last = s.lastRun.map { "\(run($0)) \(s.lastResult?.rawValue ?? "?")" } ?? "never reconciled"
            // A new staging or prod waiting for its first promotion is in its normal state, not in error.
            let pending = s.awaitingPromotion ? "awaits a promotion" : !s.planErrors.isEmpty ? "plan error"
                : s.pending == 0 ? "up to date" : "\(s.pending) to run"
            return [s.environment, pin, model, last, pending] + (drift ? [s.drift == .notChecked ? "not checked" : s.drift.rawValue] : [])
        }
        let header = ["env", "pin", "model", "last run", "pending"] + (drift ? ["drift"] : [])
        terminal.print(TextTable.render(header: header, rows: rows, width: wide ? nil : terminal.width,
                                        shrinking: [0, 1, 3, 2]) { row, column, text in
            switch (column, row[column]) {
            case (5, "in-sync"), (4, "up to date"): return terminal.styled(text, .green)
            case (5, "drifted"), (4, "plan error"): return terminal.styled(text, .red)
            case (4, _) where row[4].hasSuffix("to run"): return terminal.styled(text, .yellow)
            default: return text
            }
        })
        for s in statuses {
            // Probe output and plan errors quote stage output and paths.
            if let detail = s.driftDetail { terminal.print("  \(s.environment): \(Escape.terminal(detail))") }
            if let error = s.planErrors.first, !s.awaitingPromotion, !global.quiet { terminal.print("  \(s.environment): \(Escape.terminal(error))") }
            if s.awaitingPromotion, let from = s.from, !global.quiet {
                terminal.print("  \(s.environment): not promoted yet; `plumb promote \(from) \(s.environment)` pins what \(from) validated")
            }
        }
        if !check && !global.quiet { terminal.print("drift: not checked (use --check)") }
        return code
    }
}
