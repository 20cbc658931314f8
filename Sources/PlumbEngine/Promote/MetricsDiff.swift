import Foundation
import PlumbCore

/// Metrics of two things side by side: `plumb metrics diff A B`.
package struct MetricsDiff: Sendable, Codable, Hashable {
    /// One metric's change.
    package struct Row: Sendable, Codable, Hashable {
        package var metric: String
        package var a: Double?
        package var b: Double?
        /// b − a, when both exist.
        package var change: Double?
        /// (b − a) / |a|, when both exist and a ≠ 0.
        package var relative: Double?
    }
    package var a: String
    package var b: String
    package var rows: [Row]

    /// Pure: every metric of either side, sorted by name.
    package init(a: String, _ left: [String: Double], b: String, _ right: [String: Double]) {
        self.a = a; self.b = b
        rows = Set(left.keys).union(right.keys).sorted().map { key in
            let x = left[key], y = right[key]
            var row = Row(metric: key, a: x, b: y, change: nil, relative: nil)
            if let x, let y {
                row.change = Promotion.rounded(y - x)
                if x != 0 { row.relative = Promotion.rounded((y - x) / abs(x)) }
            }
            return row
        }
    }

    /// The rows whose value differs (or exists on one side only).
    package var changedOnly: MetricsDiff {
        var copy = self
        copy.rows = rows.filter { $0.a != $0.b }
        return copy
    }
}
