import Foundation
import PlumbCore
import PlumbEngine

/// The reconcile as a person watches it in a terminal: the plan, a line per stage as it starts and
/// ends (`▶ train started`, `✔ train done in 4.2s`), a live block of what is running, and a line
/// per `--watch` cycle.
///
/// A stage's output, prefixed by its name (`train │ epoch 3`): on a terminal, folded into the live
/// block as its last few lines while it runs (the full log is in `plumb logs`), or with --verbose
/// printed as it comes; off a terminal (a pipe, CI) with --verbose, held until the stage ends and
/// printed under its end line in one write, so parallel stages never interleave.
struct TerminalReconcileView: ReconcileObserver {
    /// Lines of a running stage the live block shows.
    static let foldedLines = 3
    /// Lines of one stage held for grouped output; earlier ones are counted, not kept.
    static let groupedLines = 5_000
    /// The live block is redrawn at most this often for output (a stage may print thousands of lines a second).
    static let redrawInterval = 0.1

    /// What the fold and the grouping remember between events, which come from the stages' threads.
    struct Held: Sendable {
        /// The status line: what is running, or the upload's progress.
        var status = ""
        /// The last lines of each running stage (fold).
        var tails: [String: [String]] = [:]
        var drawn = Date.distantPast
        /// Each running stage's output so far, and how many earlier lines were dropped (grouping).
        var groups: [String: (lines: [String], dropped: Int)] = [:]
    }
    private let held = Locked(Held())

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

    /// How stage output is shown; decided once from the terminal.
    enum OutputMode { case folded, streamed, grouped, hidden }
    var outputMode: OutputMode {
        if terminal.quiet { return .hidden }
        if terminal.isInteractive { return terminal.verbose ? .streamed : .folded }
        return terminal.verbose ? .grouped : .hidden
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
            output(stage, line)
        case let .stageFinished(stage, end):
            finished(stage, end)
        case let .progress(running):
            guard terminal.isInteractive, !terminal.quiet else { return }
            let now = Date()
            let text = running.sorted { $0.key < $1.key }.map { "\($0.key) \(formatDuration(now.timeIntervalSince($0.value)))" }
            redraw(status: text.isEmpty ? "" : "running: " + text.joined(separator: ", "))
        case let .uploading(progress):
            guard terminal.isInteractive, !terminal.quiet else { return }
            redraw(status: "uploading to the shared store: \(progress.done)/\(progress.total) objects, \(formatBytes(progress.bytes))")
        case let .uploaded(store, report):
            redraw(status: "")
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

    private func line(_ stage: String, _ text: String) -> String { terminal.styled(stage, .cyan) + " │ " + Escape.terminal(text) }

    private func output(_ stage: String, _ text: String) {
        switch outputMode {
        case .hidden: return
        case .streamed: terminal.print(line(stage, text))
        case .grouped:
            held.withLock { held in
                var group = held.groups[stage] ?? ([], 0)
                group.lines.append(text)
                // Trimmed by halves once twice the limit, not a line at a time: a chatty stage's
                // millionth line must not shift thousands of others.
                if group.lines.count >= 2 * Self.groupedLines {
                    group.lines.removeFirst(Self.groupedLines)
                    group.dropped += Self.groupedLines
                }
                held.groups[stage] = group
            }
        case .folded:
            let due = held.withLock { held in
                var tail = held.tails[stage] ?? []
                tail.append(text)
                held.tails[stage] = Array(tail.suffix(Self.foldedLines))
                return Date().timeIntervalSince(held.drawn) >= Self.redrawInterval
            }
            if due { redraw(status: nil) }
        }
    }

    /// Draws the live block again: the status line (`status`, or the last one when nil) and the
    /// folded tails of the running stages, by name.
    private func redraw(status: String?) {
        guard terminal.isInteractive, !terminal.quiet else { return }
        let lines = held.withLock { held -> [String] in
            if let status { held.status = status }
            held.drawn = Date()
            let tails = held.tails.sorted { $0.key < $1.key }.flatMap { stage, tail in tail.map { "  " + line(stage, $0) } }
            return (held.status.isEmpty ? [] : [terminal.styled(Escape.terminal(held.status), .dim)]) + tails
        }
        terminal.live(lines)
    }

    private func finished(_ stage: String, _ end: StageEnd) {
        defer {
            if outputMode == .folded, held.withLock({ $0.tails.removeValue(forKey: stage) }) != nil { redraw(status: nil) }
        }
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
        var out = terminal.styled("\(glyph) \(stage)", style) + " " + text
        // A stage's grouped output goes under its end line, in the same write: no other stage's line comes between.
        if glyph != "▶", glyph != "↻", outputMode == .grouped, let group = held.withLock({ $0.groups.removeValue(forKey: stage) }) {
            let shown = group.lines.suffix(Self.groupedLines)
            let dropped = group.dropped + group.lines.count - shown.count
            if dropped > 0 { out += "\n" + line(stage, "… \(dropped) earlier lines; the full log is in `plumb logs`") }
            for text in shown { out += "\n" + line(stage, text) }
        }
        terminal.print(out)
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
