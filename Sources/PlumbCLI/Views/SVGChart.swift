import Foundation
import PlumbCore

/// One metric of one environment over its runs, drawn as an SVG line chart with the promotions
/// into the environment and its rollbacks marked where they happened between runs. Pure: the
/// points come from run records, the marks from history entries, both passed in.
/// A point is a run that recorded the metric; a mark's `after` counts those points.
struct SVGChart {
    /// One run's value.
    struct Point: Equatable {
        var run: String
        var value: Double
    }

    /// A promotion into, or a rollback of, the environment.
    struct Mark: Equatable {
        enum Kind: String { case promotion, rollback }
        var kind: Kind
        var run: String
        /// How many of the environment's runs came before it (in the branch's history, which
        /// orders what clocks tie within a second).
        var after: Int
    }

    var environment: String
    var metric: String
    /// Oldest first, in the order the branch recorded them.
    var points: [Point]
    var marks: [Mark]

    var width = 560.0, height = 180.0
    private let left = 64.0, right = 16.0, top = 16.0, bottom = 30.0

    init(environment: String, metric: String, points: [Point], marks: [Mark]) {
        self.environment = environment; self.metric = metric
        self.points = points
        self.marks = marks
    }

    /// The x of run number `index` (runs are evenly spaced, oldest on the left).
    func x(_ index: Double) -> Double {
        let slots = Double(max(1, points.count))
        return left + (index + 0.5) / slots * (width - left - right)
    }

    /// Where a mark goes, in run indexes: between the last run before it and the first after.
    func index(of mark: Mark) -> Double { Double(min(mark.after, points.count)) - 0.5 }

    /// The value range shown, padded so a flat series sits mid-chart.
    var range: (low: Double, high: Double) {
        let values = points.map(\.value)
        guard let low = values.min(), let high = values.max() else { return (0, 1) }
        if low == high { let pad = low == 0 ? 1 : abs(low) * 0.1; return (low - pad, high + pad) }
        let pad = (high - low) * 0.08
        return (low - pad, high + pad)
    }

    func y(_ value: Double) -> Double {
        let (low, high) = range
        return top + (1 - (value - low) / (high - low)) * (height - top - bottom)
    }

    /// The chart as an `<svg>` element. Every point carries its run and exact value
    /// (`data-run`, `data-value`) and a `<title>` with both, so it is readable without colour
    /// or hovering tools, and testable.
    func svg() -> String {
        let label = "\(metric) in \(environment) over \(points.count) run\(points.count == 1 ? "" : "s")"
        var out = "<svg class=\"chart\" role=\"img\" aria-label=\"\(Escape.html(label))\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\" data-environment=\"\(Escape.html(environment))\" data-metric=\"\(Escape.html(metric))\">"
        out += "<title>\(Escape.html(label))</title>"
        let (low, high) = range
        // Axes and three value ticks.
        out += "<line class=\"axis\" x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(height - bottom))\"/>"
        out += "<line class=\"axis\" x1=\"\(n(left))\" y1=\"\(n(height - bottom))\" x2=\"\(n(width - right))\" y2=\"\(n(height - bottom))\"/>"
        for fraction in [0.0, 0.5, 1.0] {
            let value = low + (high - low) * fraction
            out += "<text class=\"tick\" x=\"\(n(left - 6))\" y=\"\(n(y(value) + 4))\" text-anchor=\"end\">\(Escape.html(Self.format(value)))</text>"
        }
        for mark in marks {
            let mx = x(index(of: mark))
            let glyph = mark.kind == .promotion ? "▲ promoted" : "↶ rolled back"
            out += "<g class=\"mark \(mark.kind.rawValue)\" data-kind=\"\(mark.kind.rawValue)\" data-run=\"\(Escape.html(mark.run))\">"
            out += "<title>\(mark.kind == .promotion ? "promoted" : "rolled back") to run \(Escape.html(mark.run))</title>"
            out += "<line x1=\"\(n(mx))\" y1=\"\(n(top))\" x2=\"\(n(mx))\" y2=\"\(n(height - bottom))\"/>"
            out += "<text x=\"\(n(mx + 3))\" y=\"\(n(top + 10))\">\(glyph)</text></g>"
        }
        if points.count > 1 {
            let path = points.enumerated().map { "\(n(x(Double($0.offset)))),\(n(y($0.element.value)))" }.joined(separator: " ")
            out += "<polyline class=\"series\" points=\"\(path)\"/>"
        }
        for (i, point) in points.enumerated() {
            out += "<circle class=\"point\" cx=\"\(n(x(Double(i))))\" cy=\"\(n(y(point.value)))\" r=\"4\" data-run=\"\(Escape.html(point.run))\" data-value=\"\(point.value)\">"
            out += "<title>run \(Escape.html(point.run)): \(Escape.html(Self.format(point.value)))</title></circle>"
        }
        if let first = points.first, let last = points.last {
            out += "<text class=\"tick\" x=\"\(n(left))\" y=\"\(n(height - 10))\">\(Escape.html(first.run))</text>"
            if points.count > 1 {
                out += "<text class=\"tick\" x=\"\(n(width - right))\" y=\"\(n(height - 10))\" text-anchor=\"end\">\(Escape.html(last.run))</text>"
            }
        }
        return out + "</svg>"
    }

    /// A value as people read it: up to 4 significant decimals.
    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.4g", value)
    }

    /// A coordinate with at most one decimal: short and byte-stable.
    private func n(_ value: Double) -> String { SVGNumber.format(value) }
}

/// Coordinates as the SVG files print them.
enum SVGNumber {
    static func format(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int64(rounded)) : String(rounded)
    }
}
