import Foundation
import PlumbCore

/// Aligned columns for terminals and pipe tables for Markdown.
enum TextTable {
    /// `--wide`, for the commands whose tables fit the screen by default.
    static let wideArgument = ArgumentSpec.flag("--wide", help: "Print every column in full, however wide (default: fit the terminal, 80 columns when piped).")

    /// Columns padded to their widest cell; `style` colours a cell after padding so escapes do not skew widths.
    /// Cells are escaped for the terminal (`Escape.terminal`) before they are measured: metric names,
    /// summaries and paths come from records and stage output.
    ///
    /// With a `width`, the columns in `shrinking` give way until the table fits it, in that order
    /// (the first down to its floor before the next gives anything), never below their header or 8
    /// characters; a cut cell loses its middle (`stag…nary`), so an id or a path keeps both ends,
    /// where names differ. Columns not named never change.
    static func render(header: [String], rows: [[String]], width: Int? = nil, shrinking: [Int] = [],
                       style: ([String], Int, String) -> String = { _, _, t in t }) -> String {
        let header = header.map { Escape.terminal($0) }
        var rows = rows.map { $0.map { Escape.terminal($0) } }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        if let width, !widths.isEmpty {
            var excess = widths.reduce(2 + 2 * (widths.count - 1), +) - width
            for i in shrinking where excess > 0 && i < widths.count {
                let cut = min(excess, max(widths[i] - max(header[i].count, 8), 0))
                widths[i] -= cut
                excess -= cut
                if cut > 0 { rows = rows.map { row in var row = row; if i < row.count { row[i] = middleEllipsis(row[i], widths[i]) }; return row } }
            }
        }
        func line(_ cells: [String], _ styled: Bool) -> String {
            cells.enumerated().map { i, cell in
                let padded = i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                return styled ? style(cells, i, padded) : padded
            }.joined(separator: "  ")
        }
        return (["  " + line(header, false)] + rows.map { "  " + line($0, true) }).joined(separator: "\n")
    }

    /// `text` in at most `width` characters, its middle replaced by `…` when it is longer.
    static func middleEllipsis(_ text: String, _ width: Int) -> String {
        guard text.count > width, width >= 3 else { return text }
        let tail = (width - 1) / 2, head = width - 1 - tail
        return String(text.prefix(head)) + "…" + String(text.suffix(tail))
    }

    /// `text` broken at spaces into lines of at most `width` characters; a longer word is cut.
    static func wrap(_ text: String, _ width: Int) -> [String] {
        var lines: [String] = [], current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true).map(String.init) {
            var word = word
            if current.isEmpty {
                while word.count > width { lines.append(String(word.prefix(width))); word = String(word.dropFirst(width)) }
                current = word
            } else if current.count + 1 + word.count <= width {
                current += " " + word
            } else {
                lines.append(current)
                while word.count > width { lines.append(String(word.prefix(width))); word = String(word.dropFirst(width)) }
                current = word
            }
        }
        lines.append(current)
        return lines
    }

    /// A pipe table; every cell is escaped for Markdown (`Escape.markdown`), so a value can neither
    /// add a row nor bring its own formatting, links, emoji or HTML.
    static func markdown(header: [String], rows: [[String]]) -> String {
        func line(_ cells: [String]) -> String { "| " + cells.map(Escape.markdown).joined(separator: " | ") + " |" }
        return ([line(header), "|" + header.map { _ in " --- |" }.joined()] + rows.map(line)).joined(separator: "\n")
    }
}
