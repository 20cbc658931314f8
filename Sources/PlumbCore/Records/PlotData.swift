import Foundation

/// The numbers of one plot file as a run records them (`StageOutcome.plots`): its columns that
/// hold numbers, in file order, at most `maximumRows` rows of them.
///
/// Recorded rather than read back from the cache, so that `plumb plots` and the report draw a
/// run's curves from history/ alone, on a clone that never had its outputs. Bounded, because a
/// run record is committed on every run: a longer file keeps `maximumRows` rows spread evenly
/// over it, its first and last among them (docs/decisions.md, "Plots").
package struct PlotData: Sendable, Hashable, Codable {
    /// Rows kept at most; a chart is a few hundred pixels wide.
    package static let maximumRows = 1000
    /// Columns kept at most, in file order.
    package static let maximumColumns = 32
    /// The longest column name kept, in bytes.
    package static let maximumNameBytes = 256

    /// The data rows the file holds (more than the kept ones when it was downsampled).
    package var rows: Int
    /// Each kept row's number in the file, from 0, when not every row was kept; nil: all were.
    package var kept: [Int]?
    /// The columns that hold numbers, in the file's order.
    package var columns: [PlotColumn]

    package init(rows: Int, kept: [Int]? = nil, columns: [PlotColumn]) {
        self.rows = rows; self.kept = kept; self.columns = columns
    }

    /// The file's row number of each kept row.
    package var rowNumbers: [Int] { kept ?? Array(0..<rows) }

    /// The column called `name`, if it was recorded.
    package func column(_ name: String) -> PlotColumn? { columns.first { $0.name == name } }

    /// Which of `count` rows to keep so that at most `maximum` remain: all of them, or `maximum`
    /// spread evenly from the first to the last.
    package static func rowsKept(of count: Int, maximum: Int = maximumRows) -> [Int] {
        guard count > maximum, maximum > 1 else { return Array(0..<min(count, max(maximum, 0))) }
        let step = Double(count - 1) / Double(maximum - 1)
        return (0..<maximum).map { Int((Double($0) * step).rounded()) }
    }
}

/// One column of a plot file: one value per kept row, nil where that row holds no number.
package struct PlotColumn: Sendable, Hashable, Codable {
    package var name: String
    package var values: [Double?]

    package init(name: String, values: [Double?]) { self.name = name; self.values = values }
}

extension PlotData {
    /// Why this is not a plot a run could have recorded, or nil: what the decoder cannot check by
    /// type, for a record anyone who can push may have written.
    package func problem() -> String? {
        guard rows >= 0 else { return "holds a negative number of rows" }
        let count = kept?.count ?? rows
        guard count <= Self.maximumRows else { return "keeps \(count) rows; at most \(Self.maximumRows) are recorded" }
        if let kept {
            guard zip(kept, kept.dropFirst()).allSatisfy({ $0 < $1 }), kept.allSatisfy({ $0 >= 0 && $0 < rows }) else {
                return "names kept rows out of order or beyond its \(rows) rows"
            }
        }
        guard columns.count <= Self.maximumColumns else { return "has \(columns.count) columns; at most \(Self.maximumColumns) are recorded" }
        var names = Set<String>()
        for column in columns {
            guard PlotColumn.isName(column.name) else { return "has a column named \(RecordRules.quoted(column.name)), which is no column name" }
            guard names.insert(column.name).inserted else { return "has the column \(RecordRules.quoted(column.name)) twice" }
            guard column.values.count == count else {
                return "column \(RecordRules.quoted(column.name)) has \(column.values.count) values for \(count) rows"
            }
            guard column.values.allSatisfy({ $0?.isFinite ?? true }) else { return "column \(RecordRules.quoted(column.name)) holds a number that is not finite" }
        }
        return nil
    }
}

extension PlotColumn {
    /// A name a column may have: not empty, at most `PlotData.maximumNameBytes`, no control characters.
    static func isName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= PlotData.maximumNameBytes
            && !name.unicodeScalars.contains { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format }
    }
}
