import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// Where a command writes, and whether it may use colour.
///
/// Colour goes to a terminal only: never when piped, under `NO_COLOR`, or with `--no-color`.
/// `@unchecked Sendable`: stage threads print through it; its one mutable field, how many lines of
/// live block (the status line, folded stage output) are on screen, is read and written under `lock`.
package final class Terminal: @unchecked Sendable {
    private let lock = NSLock()
    /// Whether styles are emitted.
    let colour: Bool
    /// Whether stdout is an interactive terminal (live status lines are drawn only there).
    let isInteractive: Bool
    /// Suppress progress lines.
    let quiet: Bool
    let verbose: Bool
    /// Where `print` and `status` write: stdout, or stderr when stdout carries machine output
    /// (`reconcile --json` prints its JSON Lines there and the text people read here).
    private let output: FileHandle
    /// Lines of the live block on screen; the cursor is at the end of its last line.
    private var liveLines = 0
    /// Columns a table may fill: `COLUMNS` when set, else the terminal's width on a TTY, else 80
    /// (a CI log or a pipe is read in a window of unknown width; 80 is what everyone can show).
    let width: Int

    /// `toStandardError` sends what would go to stdout to stderr instead (and asks whether stderr
    /// is a terminal).
    package init(noColour: Bool = false, quiet: Bool = false, verbose: Bool = false, toStandardError: Bool = false,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        output = toStandardError ? FileHandle.standardError : FileHandle.standardOutput
        isInteractive = isatty(toStandardError ? STDERR_FILENO : STDOUT_FILENO) == 1 && environment["TERM"] != "dumb"
        let noColorSet = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        colour = isInteractive && !noColour && !noColorSet
        width = Self.width(environment: environment, descriptor: toStandardError ? STDERR_FILENO : STDOUT_FILENO)
        self.quiet = quiet
        self.verbose = verbose
    }

    typealias Style = TextStyle

    /// `COLUMNS` when it is a sane number, else the window's width when `descriptor` is a terminal, else 80.
    static func width(environment: [String: String], descriptor: Int32) -> Int {
        if let text = environment["COLUMNS"], let columns = Int(text), (20...10_000).contains(columns) { return columns }
        var size = winsize()
        if isatty(descriptor) == 1, ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 20 { return Int(size.ws_col) }
        return 80
    }

    /// `text` in `style` when colour is on, else unchanged.
    func styled(_ text: String, _ style: Style?) -> String {
        guard colour, let style else { return text }
        return "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m"
    }

    /// Writes a line to stdout.
    package func print(_ line: String = "") { write(line + "\n", to: output) }
    /// Writes `value` to stdout as JSON, in the layout every `--json` output shares (`RecordJSON`).
    func printJSON<T: Encodable>(_ value: T) throws {
        write(String(decoding: try RecordJSON.encode(value), as: UTF8.self).trimmingCharacters(in: .newlines) + "\n",
              to: FileHandle.standardOutput)
    }
    /// Writes one JSON Lines line (a JSON object, no newline in it) to stdout, redacted like every line.
    func printJSONLine(_ line: String) { write(line + "\n", to: FileHandle.standardOutput) }
    /// Writes a line to stderr.
    package func error(_ line: String) { write(line + "\n", to: FileHandle.standardError) }

    /// Replaces the live status line (interactive terminals only); an empty text clears it.
    package func status(_ text: String) {
        live(text.isEmpty ? [] : [styled(Escape.terminal(text), .dim)])
    }

    /// Replaces the live block, lines drawn below the printed ones and redrawn in place
    /// (interactive terminals only): what is running, and the last lines of a chatty stage. Lines
    /// are cut to the width, so none wraps and the block's height is the number of lines. Drawn
    /// under the same lock as every print, which first erases it, so the two never mix.
    /// `lines` are already escaped (and styled) by the caller.
    package func live(_ lines: [String]) {
        guard isInteractive, !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        var out = erasure()
        // Stage output reaches the screen here without passing `write`: mask what it must not show.
        out += lines.map { Redactor.process.redact($0) }.map { Self.cut($0, to: width - 1) }.joined(separator: "\n")
        liveLines = lines.count
        output.write(Data(out.utf8))
    }

    /// What erases the live block and leaves the cursor at the start of its first line. Under `lock`.
    private func erasure() -> String {
        guard liveLines > 0 else { return "" }
        return "\r\u{1B}[2K" + String(repeating: "\u{1B}[1A\u{1B}[2K", count: liveLines - 1)
    }

    /// `line` in at most `width` visible characters; escape sequences (styles) do not count.
    static func cut(_ line: String, to width: Int) -> String {
        var out = "", visible = 0, inEscape = false
        for c in line {
            if c == "\u{1B}" { inEscape = true }
            if inEscape { out.append(c); if c.isLetter { inEscape = false }; continue }
            if visible == width { continue }
            out.append(c); visible += 1
        }
        return out
    }

    private func write(_ text: String, to handle: FileHandle) {
        // Everything printed, JSON included, passes here: no secret this process knows leaves it.
        let text = Redactor.process.redact(text)
        lock.lock(); defer { lock.unlock() }
        // A line printed while the live block is shown first erases it, so the two never mix; the
        // next update draws it again below.
        if liveLines > 0 && isInteractive { output.write(Data(erasure().utf8)); liveLines = 0 }
        // The last net under every line printed: whatever a caller forgot to escape, no control
        // character but the layout and the styles this terminal emits itself reaches the screen.
        // Values are escaped where they enter a line (`Escape.terminal`), which also covers newlines.
        handle.write(Data(Escape.terminal(text, keeping: colour ? [.layout, .styles] : .layout).utf8))
    }
}
