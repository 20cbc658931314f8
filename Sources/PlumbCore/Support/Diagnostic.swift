import Foundation

/// A place in a source file, 1-based, as users see it in an editor.
package struct SourceLocation: Sendable, Hashable, Codable, Comparable {
    /// Path relative to the repository root, e.g. `spec/pipeline.yaml`.
    package var file: String
    package var line: Int
    package var column: Int

    package init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    package static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// One problem found in user input, in the shape `file:line:col: error: message`.
package struct Diagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    /// How bad a diagnostic is; only errors make a spec invalid.
    package enum Severity: String, Sendable, Codable { case error, warning, note }

    package var severity: Severity
    package var location: SourceLocation?
    package var message: String
    package var hint: String?
    /// The source line at `location`, shown under the message with a caret at the column (syntax
    /// errors, where the line itself is the clearest context).
    package var excerpt: String?

    package init(_ severity: Severity = .error, at location: SourceLocation?, _ message: String, hint: String? = nil,
                excerpt: String? = nil) {
        self.severity = severity
        self.location = location
        self.message = message
        self.hint = hint
        self.excerpt = excerpt
    }

    /// The diagnostic as printed. Messages quote spec values, so message, hint and file are
    /// escaped (`Escape.terminal`): a value cannot add lines or send escape sequences.
    package var description: String {
        var text = ""
        if let l = location { text += "\(Escape.terminal(l.file)):\(l.line):\(l.column): " }
        text += "\(severity.rawValue): \(Escape.terminal(message))"
        if let excerpt, let l = location { text += "\n" + Self.caret(under: excerpt, line: l.line, column: l.column) }
        if let hint { text += "\n  hint: \(Escape.terminal(hint))" }
        return text
    }

    /// `    3 | →train:` and a caret under `column` below it. A tab shows as one `→`, so the
    /// caret stays under its character; other controls are escaped (and may shift it).
    static func caret(under line: String, line number: Int, column: Int) -> String {
        let shown = String(line.prefix(200)).replacingOccurrences(of: "\t", with: "→")
        let gutter = String(number)
        let pad = String(repeating: " ", count: gutter.count)
        return "  \(gutter) | \(Escape.terminal(shown))\n  \(pad) | \(String(repeating: " ", count: max(0, min(column, 201) - 1)))^"
    }
}

/// A batch of diagnostics thrown as one error, so that every problem is reported at once.
package struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    package var diagnostics: [Diagnostic]
    package init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    package var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

extension Array where Element == Diagnostic {
    /// Sorted by file, line, column, then message: the order users read them in.
    package func sortedForDisplay() -> [Diagnostic] {
        sorted { a, b in
            switch (a.location, b.location) {
            case let (l?, r?) where l != r: return l < r
            case (nil, _?): return true
            case (_?, nil): return false
            default: return a.message < b.message
            }
        }
    }
    var hasErrors: Bool { contains { $0.severity == .error } }
}
