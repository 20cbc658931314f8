import Foundation

/// A plot as decoded, with where its path is written.
struct LocatedPlot {
    var plot: Plot
    var path: LocatedString
}

/// `plots:` of a stage: a list whose entries are a path, or a one-key mapping from a path to its
/// options (`- build/loss.csv: {x: step, y: loss, title: Loss}`), the form DVC's dvc.yaml uses.
///
/// Kept apart from the stage's other keys so that options on other lists' entries can take the
/// same form without touching this.
enum PlotEntries {
    /// The example the messages give.
    static let example = "- build/loss.csv: {x: step, y: loss, title: Loss}"

    /// The plots with their paths normalised (`PathRule`) and their formats known; bad ones are
    /// reported and dropped.
    static func check(_ plots: [LocatedPlot], context: String, diagnostics: inout [Diagnostic]) -> [LocatedPlot] {
        let paths = PathRule.check(plots.map(\.path), key: "plots", context: context, allowAbsolute: false, diagnostics: &diagnostics)
        let normalised = Dictionary(paths.map { ($0.location, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [LocatedPlot] = []
        for var entry in plots {
            guard let path = normalised[entry.path.location] else { continue }
            guard PlotFormat(path: path.value) != nil else {
                diagnostics.append(Diagnostic(at: path.location, "plot '\(path.value)' of \(context) is not a CSV, TSV, JSON or YAML file",
                                              hint: "a plot file's name ends in \(PlotFormat.extensions), which says how it is read"))
                continue
            }
            entry.path = path
            entry.plot.path = path.value
            out.append(entry)
        }
        return out
    }
}

extension SchemaDecoder {
    /// `plots:` checked against `options` (the shape of one entry's mapping). A single path may
    /// stand for a list of one, as in `deps`. Entries that fail are reported and left out.
    mutating func decodePlots(_ node: YAMLNode, _ options: SchemaObject, key: String, context: String) -> [LocatedPlot]? {
        if scalarText(node) != nil { return plotEntry(node, options, key: key, context: context).map { [$0] } }
        guard case let .sequence(items) = node.kind else {
            error(node.location, "'\(key)' in \(context): expected a list of plot files, found \(ScalarResolver.typeName(node))",
                  hint: "write one entry per file, e.g. '\(key): [build/acc.csv]' or, with options, \(PlotEntries.example)")
            return nil
        }
        // The good entries go on to the path checks, so one pass reports every problem.
        return items.compactMap { plotEntry($0, options, key: key, context: context) }
    }

    /// One entry: a path, or a mapping of one path to its options (or to nothing).
    private mutating func plotEntry(_ item: YAMLNode, _ options: SchemaObject, key: String, context: String) -> LocatedPlot? {
        if let text = scalarText(item) {
            return LocatedPlot(plot: Plot(path: text), path: LocatedString(value: text, location: item.location))
        }
        guard case let .mapping(pairs) = item.kind else {
            error(item.location, "an entry of '\(key)' in \(context) is \(ScalarResolver.typeName(item)); expected a path, or a path with its options",
                  hint: "e.g. \(PlotEntries.example)")
            return nil
        }
        guard pairs.count == 1, let pair = pairs.first else {
            // `- path: loss.csv` / `  x: step` reads as one mapping of several keys: the options went beside the path.
            let keys = pairs.compactMap(\.key.scalar)
            let beside = keys.contains { options.field($0) != nil }
            error(item.location, pairs.isEmpty ? "an entry of '\(key)' in \(context) is an empty mapping; expected a path"
                      : "an entry of '\(key)' in \(context) is a mapping of \(pairs.count) keys (\(keys.map { "'\($0)'" }.joined(separator: ", "))); expected one path with its options",
                  hint: beside ? "options go in a mapping under the path: \(PlotEntries.example)" : "one entry per plot file: \(PlotEntries.example)")
            return nil
        }
        guard let path = scalarText(pair.key) else {
            error(pair.key.location, "a plot of \(context) is named by \(ScalarResolver.typeName(pair.key)); expected a path")
            return nil
        }
        let located = LocatedString(value: path, location: pair.key.location)
        if pair.value.kindIsNull { return LocatedPlot(plot: Plot(path: path), path: located) }
        guard case .mapping = pair.value.kind else {
            error(pair.value.location, "the options of plot '\(path)' in \(context): expected a mapping, found \(ScalarResolver.typeName(pair.value))",
                  hint: "options: \(options.keys.joined(separator: ", ")), e.g. \(PlotEntries.example)")
            return nil
        }
        guard let object = decodeObject(pair.value, options, context: "plot '\(path)' of \(context)") else { return nil }
        let plot = Plot(path: path, x: object.string("x"), y: object.strings("y").map(\.value), title: object.string("title"))
        return LocatedPlot(plot: plot, path: located)
    }
}

extension DecodedObject {
    /// The plots under `key`, as `SchemaDecoder.decodePlots` checked them.
    func plots(_ key: String) -> [LocatedPlot] {
        if case let .plots(p)? = values[key] { return p }; return []
    }
}
