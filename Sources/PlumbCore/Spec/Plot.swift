import Foundation

/// A plot a stage declares (`plots:`): a file of rows the stage writes, and how to draw it.
///
/// The file is an output of the stage, unless it lies inside a folder the stage declares in
/// `outs` (dvclive's `dvclive/plots/metrics/loss.tsv` under `dvclive`). Its numbers are recorded
/// with the run (`PlotData`); `x`, `y` and `title` choose what is drawn, when it is drawn.
package struct Plot: Sendable, Hashable, Codable {
    /// Relative to the repository root; ends in `.csv`, `.tsv`, `.json`, `.yaml` or `.yml`.
    package var path: String
    /// The column along the x axis; nil: a `step` column if the file has one, else the row number.
    package var x: String?
    /// The columns drawn, one series each; empty: the file's last column other than x.
    package var y: [String]
    /// The chart's title; nil: the path.
    package var title: String?

    package init(path: String, x: String? = nil, y: [String] = [], title: String? = nil) {
        self.path = path; self.x = x; self.y = y; self.title = title
    }

    /// How the file is read, from its extension; nil for another extension.
    package var format: PlotFormat? { PlotFormat(path: path) }
}

/// The file formats a plot may be written in, told apart by extension.
package enum PlotFormat: String, Sendable, Hashable, Codable, CaseIterable {
    case csv, tsv, json, yaml

    package init?(path: String) {
        switch (path as NSString).pathExtension.lowercased() {
        case "csv": self = .csv
        case "tsv": self = .tsv
        case "json": self = .json
        case "yaml", "yml": self = .yaml
        default: return nil
        }
    }

    /// The extensions accepted, for messages.
    static let extensions = ".csv, .tsv, .json, .yaml or .yml"
}

extension Stage {
    /// The plot files that are outputs of their own: those not inside (or equal to) a declared
    /// out or metrics file, which already stores them.
    package var plotOutputs: [String] { plots.map(\.path).filter { !Self.lies(inside: outs + metrics, $0) } }
}
