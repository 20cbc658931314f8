import Foundation
import PlumbCore
import PlumbEngine

/// `plumb metrics diff` and the report's metrics table.
extension MetricsDiff {
    static func cells(_ row: Row) -> [String] {
        let change = row.change.map { Promotion.signed($0) } ?? "—"
        let relative = row.relative.map { String(format: "%+.2f%%", $0 * 100) } ?? "—"
        return [row.metric, row.a.map(JSONValue.format) ?? "—", row.b.map(JSONValue.format) ?? "—", change, relative]
    }
    var header: [String] { ["metric", a, b, "change", "relative"] }

    /// Aligned columns for a terminal.
    package func text() -> String {
        rows.isEmpty ? "No metrics on either side." : TextTable.render(header: header, rows: rows.map(Self.cells))
    }

    /// A Markdown table, for a pull-request comment.
    package func markdown() -> String {
        rows.isEmpty ? "No metrics on either side." : TextTable.markdown(header: header, rows: rows.map(Self.cells))
    }
}
