import Foundation

/// How text from outside Plumb (spec values, params, paths, records, stage output) is made safe for
/// each output format, one function per format, all here.
///
/// Such text is escaped where it is put into output, never trusted to be plain: a param value
/// holding "\n```\n✅ All gates pass" must not end a Markdown code block and forge a line of a
/// pull-request comment, a stage name must not break out of a DOT string, and an `ESC [2J` in a
/// stage's output must not clear the user's terminal.
package enum Escape {
    /// One word for a POSIX shell, whatever it holds: single-quoted, each `'` as `'\''`.
    package static func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// What `terminal(_:keeping:)` lets through unchanged.
    package struct Keep: OptionSet, Sendable {
        package let rawValue: Int
        package init(rawValue: Int) { self.rawValue = rawValue }
        /// Newlines and tabs: for whole messages that Plumb laid out itself.
        package static let layout = Keep(rawValue: 1)
        /// `ESC [ digits ; … m` (colours, bold): for text Plumb styled itself.
        package static let styles = Keep(rawValue: 2)
    }

    /// `text` with every control character rendered visibly: `\n`, `\r`, `\t`, `\e` (ESC), `\0`,
    /// and `\u{…}` for the other C0 and C1 controls, DEL, and the Unicode line separators and
    /// bidirectional overrides that reorder or break what a terminal shows. Everything else is kept.
    package static func terminal(_ text: String, keeping: Keep = []) -> String {
        // Fast path over the bytes (every line printed comes through here, `--json` output included):
        // all the characters escaped below are ASCII controls or start with one of these lead bytes.
        let layout = keeping.contains(.layout)
        guard text.utf8.contains(where: { b in
            (b < 0x20 && !(layout && (b == 0x0A || b == 0x09))) || b == 0x7F || b == 0xC2 || b == 0xD8 || b == 0xE2
        }) else { return text }
        let scalars = text.unicodeScalars
        guard scalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        var i = scalars.startIndex
        while i < scalars.endIndex {
            let c = scalars[i]
            if keeping.contains(.styles), c == "\u{1B}", let end = styleSequenceEnd(scalars, from: i) {
                out.append(contentsOf: scalars[i..<end])
                i = end
                continue
            }
            i = scalars.index(after: i)
            if !needsEscape(c) || (keeping.contains(.layout) && (c == "\n" || c == "\t")) {
                out.append(c)
                continue
            }
            let visible: String
            switch c {
            case "\n": visible = "\\n"
            case "\r": visible = "\\r"
            case "\t": visible = "\\t"
            case "\u{1B}": visible = "\\e"
            case "\u{0}": visible = "\\0"
            default: visible = "\\u{" + String(c.value, radix: 16) + "}"
            }
            out.append(contentsOf: visible.unicodeScalars)
        }
        return String(out)
    }

    /// Text for a Markdown paragraph or table cell: controls made visible (as for a terminal), then
    /// every character Markdown or GitHub would interpret inline backslash-escaped, `|` included
    /// (tables), `&` (entities such as `&#x2705;`), `:` (emoji such as `:white_check_mark:`) and
    /// `@`/`#` (mentions and references).
    package static func markdown(_ text: String) -> String {
        var out = ""
        let scalars = Array(terminal(text).unicodeScalars)
        func isWordCharacter(_ i: Int) -> Bool {
            scalars.indices.contains(i) && (scalars[i].properties.isAlphabetic || ("0"..."9").contains(scalars[i]))
        }
        for (i, c) in scalars.enumerated() {
            // `_` between letters or digits can neither open nor close emphasis (CommonMark's flanking
            // rules), so `max_drop` stays as written; anywhere else it is escaped like the rest.
            let inert = c == "_" && isWordCharacter(i - 1) && isWordCharacter(i + 1)
            if markdownSpecial.contains(c) && !inert { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out
    }

    /// `text` (already escaped for a terminal, so one line per line) as a fenced Markdown code block
    /// whose fence is longer than any run of backticks inside it, so nothing inside can close it.
    package static func markdownCodeBlock(_ text: String) -> String {
        var longest = 0, run = 0
        for c in text.unicodeScalars {
            run = c == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return "\(fence)\n\(text)\n\(fence)"
    }

    /// The inside of a DOT (Graphviz) double-quoted string: controls made visible, then `\` and `"`
    /// escaped, so a value can neither end the string nor use escString codes (`\N`, `\G`, `\l`).
    package static func dot(_ text: String) -> String {
        var out = ""
        for c in terminal(text).unicodeScalars {
            if c == "\\" || c == "\"" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out
    }

    /// Text for HTML element content or a double-quoted attribute: controls made visible (as for
    /// a terminal; `layout` keeps newlines and tabs, for a log in `<pre>`), then `&`, `<`, `>`, `"`
    /// and `'` as entities, so a value can neither open markup nor end an attribute.
    package static func html(_ text: String, keeping: Keep = []) -> String {
        var out = ""
        for c in terminal(text, keeping: keeping.intersection(.layout)).unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    private static let markdownSpecial: Set<Unicode.Scalar> = ["\\", "`", "*", "_", "[", "]", "<", ">", "|", "&", "~", "@", "#", ":", "!"]

    private static func needsEscape(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// The end of one of the SGR sequences `Terminal.styled` emits (`ESC [ 31 m`, `ESC [ 0 m`, …)
    /// starting at `start`, if one starts there. Other SGR codes stay escaped: conceal (8) or black on
    /// black could hide text.
    private static func styleSequenceEnd(_ s: String.UnicodeScalarView, from start: String.UnicodeScalarView.Index) -> String.UnicodeScalarView.Index? {
        var i = s.index(after: start)
        guard i < s.endIndex, s[i] == "[" else { return nil }
        i = s.index(after: i)
        var code = ""
        while i < s.endIndex, ("0"..."9").contains(s[i]), code.count < 3 { code.unicodeScalars.append(s[i]); i = s.index(after: i) }
        guard i < s.endIndex, s[i] == "m", terminalStyleCodes.contains(code) else { return nil }
        return s.index(after: i)
    }

    private static let terminalStyleCodes: Set<String> = Set(["0"] + TextStyle.allCases.map(\.rawValue))
}
