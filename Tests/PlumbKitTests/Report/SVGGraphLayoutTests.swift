import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbCLI

/// The report's layout and escaping as pure values, no browser.
struct SVGGraphLayoutTests {
    @Test func barycentreOrderingRemovesACrossingTheExecutionOrderWouldDraw() {
        // c waits for b and d for a: in name order (c above d) their edges would cross.
        let layout = SVGGraphLayout(stages: [("a", 0), ("b", 0), ("c", 1), ("d", 1)], edges: [("b", "c"), ("a", "d")])
        #expect(layout.crossings == 0)
        let y = Dictionary(uniqueKeysWithValues: layout.boxes.map { ($0.name, $0.y) })
        #expect((y["a"]! < y["b"]!) == (y["d"]! < y["c"]!))
        #expect(layout.overlaps.isEmpty)
    }

    @Test func anEdgeThatSkipsAColumnPassesThroughItsOwnLaneNotABox() throws {
        let layout = SVGGraphLayout(stages: [("a", 0), ("b", 1), ("c", 2)], edges: [("a", "b"), ("b", "c"), ("a", "c")])
        let skip = try #require(layout.routes.first { $0.from == "a" && $0.to == "c" })
        #expect(skip.points.count == 4, "start, into the middle column, out of it, end")
        let b = try #require(layout.boxes.first { $0.name == "b" })
        let laneY = skip.points[1].y
        #expect(laneY < b.y || laneY > b.y + b.height, "the lane is above or below b's box, not across it")
    }

    @Test func a200StageLayoutHasNoOverlapsAndNoEdgeAcrossABox() {
        let stages = (0..<10).flatMap { l in (0..<20).map { (name: "s\(l)-\($0)", layer: l) } }
        let edges = (0..<10).flatMap { l in (0..<20).flatMap { i in generatedDeps(l, i, width: 20).map { (from: $0, to: "s\(l)-\(i)") } } }
        let layout = SVGGraphLayout(stages: stages, edges: edges)
        #expect(layout.boxes.count == 200)
        #expect(layout.routes.count == edges.count)
        #expect(layout.overlaps.isEmpty)
        // Every point where a route enters or leaves a column lies on a column edge at a height no box there covers.
        let byColumn = Dictionary(grouping: layout.boxes, by: \.layer)
        for route in layout.routes {
            for point in route.points.dropFirst().dropLast() {
                let column = byColumn.values.first { $0[0].x == point.x || $0[0].x + $0[0].width == point.x }
                #expect(column?.allSatisfy { point.y < $0.y || point.y > $0.y + $0.height } == true, "\(route.from) → \(route.to)")
            }
        }
        let again = SVGGraphLayout(stages: stages, edges: edges)
        #expect(layout == again, "the same graph gives the same drawing")
    }

    @Test(arguments: [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("a\" onload=\"x", "a&quot; onload=&quot;x"),
        ("Tom & 'Jerry'", "Tom &amp; &#39;Jerry&#39;"),
        ("bell\u{7}\u{1B}[2J", "bell\\u{7}\\e[2J"),
    ])
    func htmlEscapingLeavesNoMarkupAndNoControls(_ given: String, _ want: String) {
        #expect(Escape.html(given) == want)
    }

    @Test func aLogKeepsItsLinesAndMarksErrorLines() {
        let html = HTMLReport.logHTML("ok <b>\nError: it broke\n")
        #expect(html == "ok &lt;b&gt;\n<mark class=\"error-line\" data-error=\"1\"><span class=\"sr\">error: </span>Error: it broke</mark>\n")
    }

    @Test func aChartCarriesEachRunsExactValueAndMarksAPromotionBetweenTheRunsItCameBetween() throws {
        let chart = SVGChart(environment: "staging", metric: "evaluate.accuracy",
                             points: [.init(run: "r1", value: 0.8123456), .init(run: "r2", value: 0.79), .init(run: "r3", value: 0.85)],
                             marks: [.init(kind: .promotion, run: "d7", after: 2), .init(kind: .rollback, run: "d5", after: 3)])
        let svg = chart.svg()
        #expect(svg.contains("data-run=\"r1\" data-value=\"0.8123456\""))
        #expect(svg.contains("data-run=\"r3\" data-value=\"0.85\""))
        #expect(chart.x(chart.index(of: chart.marks[0])) > chart.x(1) && chart.x(chart.index(of: chart.marks[0])) < chart.x(2))
        #expect(chart.x(chart.index(of: chart.marks[1])) > chart.x(2), "a rollback after the last run is drawn after it")
        #expect(svg.contains("data-kind=\"promotion\" data-run=\"d7\"") && svg.contains("▲ promoted"))
        #expect(chart.y(0.85) < chart.y(0.79), "higher values are drawn higher")
    }
}
