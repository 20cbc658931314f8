import Foundation

/// Where the report's SVG graph draws each stage and edge: a layered (Sugiyama-style) layout,
/// pure so that tests check it without a browser.
///
/// Stages sit in columns by their longest-path layer, left to right. An edge that skips layers
/// passes through a reserved slot (a dummy node) in every column between, so each piece of an
/// edge lies in the gap between two columns or in its own slot, never across a box. Within a
/// column stages are ordered by barycentre sweeps (the mean position of their neighbours in the
/// column before, then after), which removes most crossings; ties keep execution order, so the
/// same graph always gives the same drawing.
struct SVGGraphLayout: Equatable {
    /// One stage's box, in SVG user units.
    struct Box: Equatable {
        var name: String
        var layer: Int
        var x: Double, y: Double, width: Double, height: Double
        var midY: Double { y + height / 2 }
    }

    /// One edge as a polyline: its first point is the right side of `from`'s box, its last the
    /// left side of `to`'s, and each pair between passes one skipped column at a reserved height.
    struct Route: Equatable {
        var from: String, to: String
        var points: [(x: Double, y: Double)]

        static func == (a: Route, b: Route) -> Bool {
            a.from == b.from && a.to == b.to && a.points.elementsEqual(b.points) { $0.x == $1.x && $0.y == $1.y }
        }
    }

    struct Metrics: Equatable {
        var boxWidth = 200.0, boxHeight = 46.0
        /// Horizontal room between columns, where edges bend.
        var columnGap = 70.0
        /// Vertical room between two slots in a column.
        var rowGap = 14.0
        /// The height a passing edge reserves in a column it skips.
        var laneHeight = 6.0
        var margin = 16.0
    }

    var boxes: [Box]
    var routes: [Route]
    var width: Double
    var height: Double

    /// Lays out `stages` (name and layer, in execution order) joined by `edges` (from → to).
    /// Edges that do not go to a later layer (only a cycle in an invalid spec makes one) are left out.
    init(stages: [(name: String, layer: Int)], edges: [(from: String, to: String)], metrics m: Metrics = Metrics()) {
        // Slots: real stages, then one dummy per skipped column per edge.
        enum Slot: Equatable { case stage(String), lane(edge: Int, layer: Int) }
        let layerOf = Dictionary(stages.map { ($0.name, max(0, $0.layer)) }, uniquingKeysWith: { a, _ in a })
        let columnCount = (stages.map { max(0, $0.layer) }.max() ?? -1) + 1
        var columns = [[Slot]](repeating: [], count: columnCount)
        for stage in stages { columns[max(0, stage.layer)].append(.stage(stage.name)) }
        let kept = edges.enumerated().filter { _, e in
            guard let a = layerOf[e.from], let b = layerOf[e.to] else { return false }
            return b > a
        }
        // Each kept edge as its chain of slots, column by column.
        var chains: [(edge: Int, slots: [Slot])] = []
        for (index, edge) in kept {
            let a = layerOf[edge.from]!, b = layerOf[edge.to]!
            var chain: [Slot] = [.stage(edge.from)]
            for layer in (a + 1)..<b {
                let lane = Slot.lane(edge: index, layer: layer)
                columns[layer].append(lane)
                chain.append(lane)
            }
            chain.append(.stage(edge.to))
            chains.append((index, chain))
        }
        // Neighbours of each slot in the column before and after.
        func key(_ s: Slot) -> String {
            switch s {
            case let .stage(name): "s:" + name
            case let .lane(edge, layer): "l:\(edge):\(layer)"
            }
        }
        var before: [String: [Slot]] = [:], after: [String: [Slot]] = [:]
        for (_, chain) in chains {
            for (a, b) in zip(chain, chain.dropFirst()) {
                after[key(a), default: []].append(b)
                before[key(b), default: []].append(a)
            }
        }
        func positions() -> [String: Double] {
            var out: [String: Double] = [:]
            for column in columns { for (i, s) in column.enumerated() { out[key(s)] = Double(i) } }
            return out
        }
        // Barycentre sweeps: down using the column before, up using the column after.
        for sweep in 0..<8 {
            let down = sweep % 2 == 0
            let order = down ? Array(columns.indices.dropFirst()) : Array(columns.indices.dropLast().reversed())
            for c in order {
                let position = positions()
                let keyed = columns[c].enumerated().map { (index, slot) -> (Double, Int, Slot) in
                    let neighbours = (down ? before : after)[key(slot)] ?? []
                    let centre = neighbours.isEmpty ? Double(index)
                        : neighbours.compactMap { position[key($0)] }.reduce(0, +) / Double(neighbours.count)
                    return (centre, index, slot)
                }
                columns[c] = keyed.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
            }
        }
        // Coordinates: each column stacked from the top, centred on the tallest column.
        func slotHeight(_ s: Slot) -> Double { if case .stage = s { m.boxHeight } else { m.laneHeight } }
        func columnHeight(_ column: [Slot]) -> Double {
            column.map(slotHeight).reduce(0, +) + m.rowGap * Double(max(0, column.count - 1))
        }
        let tallest = columns.map(columnHeight).max() ?? 0
        var boxByName: [String: Box] = [:], laneY: [String: Double] = [:]
        var boxes: [Box] = []
        for (c, column) in columns.enumerated() {
            let x = m.margin + Double(c) * (m.boxWidth + m.columnGap)
            var y = m.margin + (tallest - columnHeight(column)) / 2
            for slot in column {
                switch slot {
                case let .stage(name):
                    let box = Box(name: name, layer: c, x: x, y: y, width: m.boxWidth, height: m.boxHeight)
                    boxes.append(box)
                    boxByName[name] = box
                case .lane:
                    laneY[key(slot)] = y + m.laneHeight / 2
                }
                y += slotHeight(slot) + m.rowGap
            }
        }
        var routes: [Route] = []
        for (index, chain) in chains {
            let edge = edges[index]
            guard let from = boxByName[edge.from], let to = boxByName[edge.to] else { continue }
            var points: [(x: Double, y: Double)] = [(from.x + from.width, from.midY)]
            for slot in chain.dropFirst().dropLast() {
                guard case let .lane(_, layer) = slot, let y = laneY[key(slot)] else { continue }
                let x = m.margin + Double(layer) * (m.boxWidth + m.columnGap)
                points.append((x, y))
                points.append((x + m.boxWidth, y))
            }
            points.append((to.x, to.midY))
            routes.append(Route(from: edge.from, to: edge.to, points: points))
        }
        self.boxes = boxes
        self.routes = routes
        width = 2 * m.margin + Double(columnCount) * m.boxWidth + Double(max(0, columnCount - 1)) * m.columnGap
        height = 2 * m.margin + tallest
    }

    /// Pairs of boxes that overlap (empty for every layout this type makes; tests check it).
    var overlaps: [(String, String)] {
        var out: [(String, String)] = []
        let byColumn = Dictionary(grouping: boxes, by: \.layer)
        for column in byColumn.values {
            let sorted = column.sorted { $0.y < $1.y }
            for (a, b) in zip(sorted, sorted.dropFirst()) where a.y + a.height > b.y { out.append((a.name, b.name)) }
        }
        return out
    }

    /// The number of pairs of edge pieces that cross between two adjacent columns.
    var crossings: Int {
        // A piece starts at a point on one column's right side and ends on the next column's left side.
        var pieces: [Int: [(Double, Double)]] = [:]
        for route in routes {
            var i = 0
            while i + 1 < route.points.count {
                let a = route.points[i], b = route.points[i + 1]
                if b.x > a.x + 0.5 && a.y.isFinite {
                    pieces[Int(a.x.rounded()), default: []].append((a.y, b.y))
                }
                i += 1
            }
        }
        var count = 0
        for list in pieces.values {
            for i in list.indices { for j in list.indices where j > i {
                let (a0, a1) = list[i], (b0, b1) = list[j]
                if (a0 - b0) * (a1 - b1) < 0 { count += 1 }
            } }
        }
        return count
    }
}
