import Foundation

/// Where a command writes, and whether it may use colour.
///
/// Colour goes to a terminal only: never when piped, under `NO_COLOR`, or with `--no-color`.
public final class Terminal: @unchecked Sendable {
    private let lock = NSLock()
    /// Whether styles are emitted.
    public let colour: Bool
    /// Whether stdout is an interactive terminal (live status lines are drawn only there).
    public let isInteractive: Bool
    /// Suppress progress lines.
    public let quiet: Bool
    public let verbose: Bool
    private var statusLineShown = false

    public init(noColour: Bool = false, quiet: Bool = false, verbose: Bool = false,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        isInteractive = isatty(STDOUT_FILENO) == 1 && environment["TERM"] != "dumb"
        let noColorSet = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        colour = isInteractive && !noColour && !noColorSet
        self.quiet = quiet
        self.verbose = verbose
    }

    /// A text style.
    public enum Style: String, Sendable, CaseIterable {
        case bold = "1", dim = "2", red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36"
    }

    /// `text` in `style` when colour is on, else unchanged.
    public func styled(_ text: String, _ style: Style?) -> String {
        guard colour, let style else { return text }
        return "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m"
    }

    /// Writes a line to stdout.
    public func print(_ line: String = "") { write(line + "\n", to: FileHandle.standardOutput) }
    /// Writes `value` to stdout as JSON, in the layout every `--json` output shares (`RecordJSON`).
    public func printJSON<T: Encodable>(_ value: T) throws {
        print(String(decoding: try RecordJSON.encode(value), as: UTF8.self).trimmingCharacters(in: .newlines))
    }
    /// Writes a line to stderr.
    public func error(_ line: String) { write(line + "\n", to: FileHandle.standardError) }

    /// Replaces the live status line (interactive terminals only); an empty text clears it.
    public func status(_ text: String) {
        guard isInteractive, !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        var out = "\r\u{1B}[2K"
        if !text.isEmpty { out += styled(Escape.terminal(text), .dim) }
        statusLineShown = !text.isEmpty
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    private func write(_ text: String, to handle: FileHandle) {
        // Everything printed, JSON included, passes here: no secret this process knows leaves it.
        let text = Redactor.process.redact(text)
        lock.lock(); defer { lock.unlock() }
        // A line printed while a status line is shown first clears it, so the two never mix.
        if statusLineShown && isInteractive { FileHandle.standardOutput.write(Data("\r\u{1B}[2K".utf8)); statusLineShown = false }
        // The last net under every line printed: whatever a caller forgot to escape, no control
        // character but the layout and the styles this terminal emits itself reaches the screen.
        // Values are escaped where they enter a line (`Escape.terminal`), which also covers newlines.
        handle.write(Data(Escape.terminal(text, keeping: colour ? [.layout, .styles] : .layout).utf8))
    }
}

/// Durations for people: `0.4s`, `1m 12s`, `3h 5m`, `12d 4h`.
///
/// Total over every Double, since durations also come from records (a run record's `duration`,
/// `finishedAt − startedAt`) that a hostile commit can fill with anything JSON holds: a negative,
/// NaN or astronomically large value prints as text instead of trapping in an `Int` conversion.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return seconds.isNaN ? "?" : "forever" }
    if seconds < 0 { return "-" + formatDuration(-seconds) }
    if seconds < 10 { return String(format: "%.1fs", seconds) }
    if seconds < 60 { return String(format: "%.0fs", seconds) }
    // Past a million years the exact figure means nothing to anyone, and Int is never reached.
    guard seconds < 3.2e13 else { return String(format: "%.3gs", seconds) }
    let total = Int(seconds)
    let m = total / 60, s = total % 60
    if m < 60 { return "\(m)m \(s)s" }
    let h = m / 60
    if h < 48 { return "\(h)h \(m % 60)m" }
    return "\(h / 24)d \(h % 24)h"
}
