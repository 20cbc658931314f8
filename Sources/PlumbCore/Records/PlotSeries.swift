import Foundation

/// One line of a chart: the points of one y column against the x column, from one run.
package struct PlotSeries: Sendable, Hashable, Codable {
    /// The y column.
    package var column: String
    /// What the points come from, when a chart compares several (`dev`, `run 3fa9c1`).
    package var source: String?
    package var x: [Double]
    package var y: [Double]

    package init(column: String, source: String? = nil, x: [Double], y: [Double]) {
        self.column = column; self.source = source; self.x = x; self.y = y
    }

    /// The legend's text: the column, and its source when there is one.
    package var label: String { source.map { "\($0): \(column)" } ?? column }
}

/// A chart of one plot file: what `plumb plots` writes as SVG and JSON and the report draws.
package struct PlotChart: Sendable, Hashable, Codable {
    /// The plot file's path.
    package var path: String
    /// The stage that wrote it.
    package var stage: String
    package var title: String
    /// The x axis's name: a column, or `row` (the row's number in the file).
    package var x: String
    package var series: [PlotSeries]
    /// What was asked for and cannot be drawn, for a note beside the chart.
    package var problems: [String]

    package init(path: String, stage: String, title: String, x: String, series: [PlotSeries], problems: [String]) {
        self.path = path; self.stage = stage; self.title = title; self.x = x; self.series = series; self.problems = problems
    }

    /// A file name for the chart: the path with every character but letters, digits, `-` and `.`
    /// as `_` (`build_loss.csv`); whoever writes several makes them unique.
    package var fileStem: String {
        String(path.unicodeScalars.map { c -> Character in
            switch c {
            case "a"..."z", "A"..."Z", "0"..."9", "-", ".": return Character(c)
            default: return "_"
            }
        })
    }
}

extension PlotData {
    /// The x name used when a plot names none and the file has no `step` column.
    package static let rowAxis = "row"

    /// The series `plot`'s options choose from these columns: x is the plot's `x`, else a `step`
    /// column, else the row number; y is each of the plot's `y`, else the last column that is not
    /// x. A point needs a number in both; what cannot be drawn is said in the problems.
    package func series(for plot: Plot, source: String? = nil) -> (x: String, series: [PlotSeries], problems: [String]) {
        var problems: [String] = []
        let columnNames = columns.map(\.name)
        func known() -> String { columnNames.isEmpty ? "it records no column of numbers" : "columns: " + columnNames.joined(separator: ", ") }
        let xName: String
        let xs: [Double?]
        if let wanted = plot.x {
            guard let column = column(wanted) else {
                return (wanted, [], ["\(plot.path) has no column '\(wanted)' of numbers for x (\(known()))"])
            }
            (xName, xs) = (wanted, column.values)
        } else if let step = column("step") {
            (xName, xs) = ("step", step.values)
        } else {
            (xName, xs) = (Self.rowAxis, rowNumbers.map(Double.init))
        }
        var wanted = plot.y
        if wanted.isEmpty {
            guard let last = columnNames.last(where: { $0 != xName }) else {
                return (xName, [], ["\(plot.path) has no column to draw against \(xName) (\(known()))"])
            }
            wanted = [last]
        }
        var out: [PlotSeries] = []
        for name in wanted {
            guard let column = column(name) else {
                problems.append("\(plot.path) has no column '\(name)' of numbers (\(known()))")
                continue
            }
            var series = PlotSeries(column: name, source: source, x: [], y: [])
            for (x, y) in zip(xs, column.values) {
                guard let x, let y else { continue }
                series.x.append(x)
                series.y.append(y)
            }
            out.append(series)
        }
        return (xName, out, problems)
    }

    /// The chart of `plot` drawn from these numbers alone.
    package func chart(for plot: Plot, stage: String, source: String? = nil) -> PlotChart {
        let (x, series, problems) = series(for: plot, source: source)
        return PlotChart(path: plot.path, stage: stage, title: plot.title ?? plot.path, x: x, series: series, problems: problems)
    }
}
