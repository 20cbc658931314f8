import Foundation
import PlumbCore
import PlumbEngine

/// The reconcile as a person watches it in a terminal: the plan, a line per stage as it starts and
/// ends (`▶ train started`, `✔ train done in 4.2s`), its output prefixed by its name when streamed,
/// a live status line of what is running, and a line per `--watch` cycle.
struct TerminalReconcileView: ReconcileObserver {
    /// Where stage lines go (a quiet terminal shows none).
    let terminal: Terminal
    /// Where the plan and the `--watch` lines go: the command's own terminal when stage lines are
    /// turned down (a watch loop shows stage lines only with --verbose).
    let lines: Terminal
    /// Whether the plan is printed before it is applied.
    let showsPlan: Bool

    package init(terminal: Terminal, lines: Terminal? = nil, showsPlan: Bool) {
        self.terminal = terminal
        self.lines = lines ?? terminal
        self.showsPlan = showsPlan
    }

    /// What to ask the engine for: streamed output on a terminal or with --verbose, progress on a terminal.
    package var feedback: Feedback {
        Feedback(streamOutput: (terminal.isInteractive || terminal.verbose) && !terminal.quiet,
                 progress: terminal.isInteractive && !terminal.quiet)
    }

    package func observe(_ event: ReconcileEvent) {
        switch event {
        case let .planned(plan):
            guard showsPlan else { return }
            lines.print(PlanRenderer(terminal: lines).render(plan))
            if plan.hasChanges && plan.errors.isEmpty { lines.print("") }
        case let .stageStarted(stage):
            report(stage, "started", style: nil, glyph: "▶")
        case let .stageRetrying(stage, delay, attempt, attempts):
            report(stage, "retrying in \(formatDuration(delay)) (attempt \(attempt) of \(attempts))", style: .yellow, glyph: "↻")
        case let .stageWarning(stage, message):
            terminal.print(terminal.styled("warning:", .yellow) + " stage '\(Escape.terminal(stage))' " + Escape.terminal(message))
        case let .stageOutput(stage, line):
            guard !terminal.quiet else { return }
            terminal.print(terminal.styled(stage, .cyan) + " │ " + Escape.terminal(line))
        case let .stageFinished(stage, end):
            finished(stage, end)
        case let .progress(running):
            guard terminal.isInteractive, !terminal.quiet else { return }
            let now = Date()
            let text = running.sorted { $0.key < $1.key }.map { "\($0.key) \(formatDuration(now.timeIntervalSince($0.value)))" }
            terminal.status(text.isEmpty ? "" : "running: " + text.joined(separator: ", "))
        case let .uploading(progress):
            guard terminal.isInteractive, !terminal.quiet else { return }
            terminal.status("uploading to the shared store: \(progress.done)/\(progress.total) objects, \(formatBytes(progress.bytes))")
        case let .uploaded(store, report):
            terminal.status("")
            guard report.uploaded > 0, !terminal.quiet else { return }
            lines.print("Uploaded \(report.uploaded) object\(report.uploaded == 1 ? "" : "s") (\(formatBytes(report.bytes))) to \(Escape.terminal(store)).")
        case let .cacheObjectsCorrupt(digests):
            guard !terminal.quiet else { return }
            let one = digests.count == 1
            terminal.error("plumb: cache object\(one ? "" : "s") \(digests.map(\.short).sorted().joined(separator: ", ")) did not match \(one ? "its" : "their") digest and \(one ? "was" : "were") deleted; rebuilding")
        case .recorded:
            // The command prints the run's summary once the reconcile returns.
            break
        case let .watchCycle(cycle):
            var line = "\(Self.timestamp(cycle.started)) \(cycle.report.did)"
            if let delay = cycle.nextIn {
                line += "; next cycle at \(Self.clock(Date().addingTimeInterval(delay))) (in \(formatDuration(delay))"
                line += cycle.failures > 0 ? ", backoff after \(cycle.failures) failure\(cycle.failures == 1 ? "" : "s"))" : ")"
            } else {
                line += "; stopping"
            }
            // Errors and record fields in the line are not Plumb's own text.
            lines.print(Escape.terminal(line))
        case let .watchStopped(date):
            lines.print("\(Self.timestamp(date)) stopped by signal while waiting; nothing was running")
        }
    }

    private func finished(_ stage: String, _ end: StageEnd) {
        switch end {
        case let .succeeded(duration, _):
            report(stage, "done in \(formatDuration(duration))", style: .green, glyph: "✔")
        case let .failed(how, duration, interrupted):
            // A timeout says its limit and how long the stage ran once: "timed out (limit 3.0s) after 3.3s".
            let why = switch how {
            case let .timedOut(after): "timed out (limit \(formatDuration(after)))"
            case let .signal(signal): "killed by signal \(signal)"
            case let .exit(code): "exit \(code ?? -1)"
            }
            report(stage, "\(interrupted ? "interrupted" : "failed"): \(why) after \(formatDuration(duration))", style: .red, glyph: "✘")
        case let .rejected(error):
            report(stage, "failed: \(error)", style: .red, glyph: "✘")
        case let .error(error):
            report(stage, "error: \(error)", style: .red, glyph: "✘")
        case let .blocked(upstream):
            report(stage, "blocked by \(upstream)", style: .red, glyph: "-")
        case let .restored(run):
            report(stage, "restored from cache (run \(run ?? "?"))", style: .blue, glyph: "<")
        case .unchanged:
            report(stage, "unchanged (its inputs came out identical)", style: .dim, glyph: " ")
        }
    }

    private func report(_ stage: String, _ text: String, style: TextStyle?, glyph: String) {
        guard !terminal.quiet else { return }
        terminal.print(terminal.styled("\(glyph) \(stage)", style) + " " + text)
    }

    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    static func clock(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "HH:mm:ss"
        return f.string(from: date)
    }
}
