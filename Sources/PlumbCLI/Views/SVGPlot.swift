import Foundation
import PlumbCore

/// One plot file's chart as a self-contained SVG: title, axes with ticks, one line per series
/// (several runs or environments on one chart for `plots diff`) and a legend. Styled by
/// presentation attributes only, so the same element is a file of its own (`plumb plots`) and a
/// part of the report, where it must not restyle the page. Series differ by dash pattern and
/// marker as well as colour. Every point carries its recorded values unrounded (`data-x`,
/// `data-y`) and every series its label (`data-series`), for tools and tests.
package struct SVGPlot {
    var chart: PlotChart
    var width = 580.0
    private let left = 70.0, right = 20.0, top = 40.0, plotHeight = 220.0

    package init(_ chart: PlotChart) { self.chart = chart }

    /// Colours that stay apart for the common colour blindnesses (Okabe and Ito), each with a dash pattern.
    static let styles: [(colour: String, dash: String?)] = [
        ("#0072B2", nil), ("#D55E00", "6 3"), ("#009E73", "2 2"), ("#CC79A7", "8 3 2 3"),
        ("#E69F00", "4 4"), ("#56B4E9", "1 3"), ("#000000", "10 4"), ("#F0E442", "3 2 1 2"),
    ]

    /// Circles are drawn for short series; a long one is a line, its points still in the DOM (radius 0).
    static let drawnPoints = 60

    var legendTop: Double { top + plotHeight + 44 }
    var height: Double { legendTop + Double(chart.series.count + chart.problems.count) * 18 + 10 }

    var xRange: (Double, Double) { Self.range(chart.series.flatMap(\.x), pad: 0) }
    var yRange: (Double, Double) { Self.range(chart.series.flatMap(\.y), pad: 0.05) }

    func x(_ value: Double) -> Double {
        let (low, high) = xRange
        return left + (value - low) / (high - low) * (width - left - right)
    }

    func y(_ value: Double) -> Double {
        let (low, high) = yRange
        return top + (1 - (value - low) / (high - low)) * plotHeight
    }

    package func svg(standalone: Bool = false) -> String {
        let label = "\(chart.title): \(chart.series.map(\.label).joined(separator: ", ")) against \(chart.x)"
        var out = "<svg"
        if standalone { out += " xmlns=\"http://www.w3.org/2000/svg\"" }
        out += " class=\"plot\" role=\"img\" aria-label=\"\(h(label))\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\""
        out += " font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"11\" data-path=\"\(h(chart.path))\" data-stage=\"\(h(chart.stage))\">"
        out += "<title>\(h(label))</title>"
        if standalone { out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>" }
        out += "<text class=\"plot-title\" x=\"\(n(left))\" y=\"20\" font-size=\"14\" font-weight=\"bold\" fill=\"#1b1f23\">\(h(chart.title))</text>"
        out += "<text x=\"\(n(width - right))\" y=\"20\" text-anchor=\"end\" fill=\"#57606a\">\(h(chart.stage)) · \(h(chart.path))</text>"
        let bottom = top + plotHeight
        out += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(width - left - right))\" height=\"\(n(plotHeight))\" fill=\"none\" stroke=\"#d0d7de\"/>"
        if !chart.series.isEmpty {
            let (xl, xh) = xRange, (yl, yh) = yRange
            for tick in Self.ticks(xl, xh) {
                out += "<line x1=\"\(n(x(tick)))\" y1=\"\(n(bottom))\" x2=\"\(n(x(tick)))\" y2=\"\(n(bottom + 4))\" stroke=\"#8c959f\"/>"
                out += "<text class=\"tick\" x=\"\(n(x(tick)))\" y=\"\(n(bottom + 16))\" text-anchor=\"middle\" fill=\"#57606a\">\(h(SVGChart.format(tick)))</text>"
            }
            for tick in Self.ticks(yl, yh) {
                out += "<line x1=\"\(n(left))\" y1=\"\(n(y(tick)))\" x2=\"\(n(width - right))\" y2=\"\(n(y(tick)))\" stroke=\"#eaeef2\"/>"
                out += "<text class=\"tick\" x=\"\(n(left - 6))\" y=\"\(n(y(tick) + 4))\" text-anchor=\"end\" fill=\"#57606a\">\(h(SVGChart.format(tick)))</text>"
            }
        }
        out += "<line class=\"axis\" x1=\"\(n(left))\" y1=\"\(n(bottom))\" x2=\"\(n(width - right))\" y2=\"\(n(bottom))\" stroke=\"#57606a\"/>"
        out += "<line class=\"axis\" x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(bottom))\" stroke=\"#57606a\"/>"
        out += "<text class=\"axis-label\" x=\"\(n((left + width - right) / 2))\" y=\"\(n(bottom + 34))\" text-anchor=\"middle\" fill=\"#1b1f23\">\(h(chart.x))</text>"
        if Set(chart.series.map(\.column)).count == 1, let column = chart.series.first?.column {
            out += "<text class=\"axis-label\" transform=\"translate(14 \(n(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\" fill=\"#1b1f23\">\(h(column))</text>"
        }
        for (index, series) in chart.series.enumerated() {
            let style = Self.styles[index % Self.styles.count]
            let dash = style.dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
            out += "<g class=\"plot-series\" data-series=\"\(h(series.label))\" data-column=\"\(h(series.column))\""
            if let source = series.source { out += " data-source=\"\(h(source))\"" }
            out += "><title>\(h(series.label)): \(series.x.count) point\(series.x.count == 1 ? "" : "s")</title>"
            if series.x.count > 1 {
                let points = zip(series.x, series.y).map { "\(n(x($0))),\(n(y($1)))" }.joined(separator: " ")
                out += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(style.colour)\" stroke-width=\"2\"\(dash)/>"
            }
            let radius = series.x.count <= Self.drawnPoints ? "3" : "0"
            for (px, py) in zip(series.x, series.y) {
                out += "<circle class=\"plot-point\" cx=\"\(n(x(px)))\" cy=\"\(n(y(py)))\" r=\"\(radius)\" fill=\"\(style.colour)\" data-x=\"\(px)\" data-y=\"\(py)\"/>"
            }
            out += "</g>"
            // The legend: a sample of the line (its dash), then the label.
            let ly = legendTop + Double(index) * 18
            out += "<g class=\"legend\"><line x1=\"\(n(left))\" y1=\"\(n(ly - 4))\" x2=\"\(n(left + 28))\" y2=\"\(n(ly - 4))\" stroke=\"\(style.colour)\" stroke-width=\"2\"\(dash)/>"
            out += "<text x=\"\(n(left + 36))\" y=\"\(n(ly))\" fill=\"#1b1f23\">\(h(series.label)) (\(series.x.count) point\(series.x.count == 1 ? "" : "s"))</text></g>"
        }
        for (index, problem) in chart.problems.enumerated() {
            let ly = legendTop + Double(chart.series.count + index) * 18
            out += "<text class=\"plot-problem\" x=\"\(n(left))\" y=\"\(n(ly))\" fill=\"#b21f2d\">⚠ \(h(problem))</text>"
        }
        return out + "</svg>"
    }

    /// The range drawn: the values' extent, padded by `pad` of it; a single value gets room around it.
    static func range(_ values: [Double], pad: Double) -> (Double, Double) {
        guard let low = values.min(), let high = values.max() else { return (0, 1) }
        if low == high { let room = low == 0 ? 1 : abs(low) * 0.1; return (low - room, high + room) }
        let room = (high - low) * pad
        return (low - room, high + room)
    }

    /// About five round values (1, 2 or 5 times a power of ten apart) inside `low...high`.
    static func ticks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        let span = high - low
        guard span > 0, span.isFinite else { return [] }
        let raw = span / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let ratio = raw / magnitude
        let step = (ratio >= 7.5 ? 10 : ratio >= 3.5 ? 5 : ratio >= 1.5 ? 2 : 1) * magnitude
        // Whole multiples of the step, so ticks do not drift by adding it up.
        let first = (low / step).rounded(.up)
        var out: [Double] = []
        for k in 0..<20 {
            let value = (first + Double(k)) * step
            if value > high + step * 1e-9 { break }
            out.append(value)
        }
        return out
    }

    private func h(_ text: String) -> String { Escape.html(text) }
    private func n(_ value: Double) -> String { SVGNumber.format(value) }
}
