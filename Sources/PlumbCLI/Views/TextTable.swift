import Foundation
import PlumbCore

/// Aligned columns for terminals and pipe tables for Markdown.
enum TextTable {
    /// Columns padded to their widest cell; `style` colours a cell after padding so escapes do not skew widths.
    /// Cells are escaped for the terminal (`Escape.terminal`) before they are measured: metric names,
    /// summaries and paths come from records and stage output.
    static func render(header: [String], rows: [[String]], style: ([String], Int, String) -> String = { _, _, t in t }) -> String {
        let header = header.map { Escape.terminal($0) }
        let rows = rows.map { $0.map { Escape.terminal($0) } }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String], _ styled: Bool) -> String {
            cells.enumerated().map { i, cell in
                let padded = i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                return styled ? style(cells, i, padded) : padded
            }.joined(separator: "  ")
        }
        return (["  " + line(header, false)] + rows.map { "  " + line($0, true) }).joined(separator: "\n")
    }

    /// A pipe table; every cell is escaped for Markdown (`Escape.markdown`), so a value can neither
    /// add a row nor bring its own formatting, links, emoji or HTML.
    static func markdown(header: [String], rows: [[String]]) -> String {
        func line(_ cells: [String]) -> String { "| " + cells.map(Escape.markdown).joined(separator: " | ") + " |" }
        return ([line(header), "|" + header.map { _ in " --- |" }.joined()] + rows.map(line)).joined(separator: "\n")
    }
}
