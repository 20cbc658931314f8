import Foundation
import PlumbCore
import PlumbEngine

/// `plumb graph`'s output formats, one pure function each over a `PipelineGraph`. Every stage
/// name and path is escaped for the format it enters: a path holding `"]` or `<script>` cannot
/// add nodes, attributes or markup. Status is always a glyph and a word, colour only on top.
enum GraphRenderer {
    /// The formats `--format` accepts.
    enum Format: String, CaseIterable {
        case text, mermaid, dot, json
    }

    // MARK: Mermaid

    /// A Mermaid `flowchart LR`, which GitHub and GitLab render in Markdown (inside a ```mermaid block).
    static func mermaid(_ graph: PipelineGraph) -> String {
        var lines = ["flowchart LR"]
        for stage in graph.stages {
            lines.append("  \(mermaidID(stage.name))[\"\(mermaidText("\(stage.status.glyph) \(stage.name)"))<br/>\(mermaidText(stage.status.label))\"]")
        }
        for edge in graph.edges {
            let from = mermaidID(edge.from), to = mermaidID(edge.to)
            // An `after` edge passes no file: dotted, as in the DOT output.
            lines.append(edge.files.isEmpty ? "  \(from) -.-> \(to)"
                                            : "  \(from) -->|\"\(mermaidText(PipelineGraph.listed(edge.files)))\"| \(to)")
        }
        let used = Set(graph.stages.map(\.status))
        for status in PipelineGraph.Status.allCases where used.contains(status) {
            let (fill, stroke) = colours(status)
            lines.append("  classDef \(className(status)) fill:\(fill),stroke:\(stroke),color:#000")
        }
        for status in PipelineGraph.Status.allCases where used.contains(status) {
            let members = graph.stages.filter { $0.status == status }.map { mermaidID($0.name) }
            lines.append("  class \(members.joined(separator: ",")) \(className(status))")
        }
        return lines.joined(separator: "\n")
    }

    /// A Mermaid node id for a stage: `s_` then the name with `_` doubled and `-` as `_h` (and any
    /// other character as `_x<hex>_`), so ids stay distinct, never a keyword (`end`) and never `-`.
    static func mermaidID(_ name: String) -> String {
        var out = "s_"
        for c in name.unicodeScalars {
            switch c {
            case "a"..."z", "A"..."Z", "0"..."9": out.unicodeScalars.append(c)
            case "_": out += "__"
            case "-": out += "_h"
            default: out += "_x" + String(c.value, radix: 16) + "_"
            }
        }
        return out
    }

    /// Text inside a Mermaid double-quoted label: controls made visible, then every character
    /// that could end the string, open markup or an entity as Mermaid's `#…;` entity code.
    static func mermaidText(_ text: String) -> String {
        var out = ""
        for c in Escape.terminal(text).unicodeScalars {
            switch c {
            case "\"": out += "#quot;"
            case "<": out += "#lt;"
            case ">": out += "#gt;"
            case "&": out += "#amp;"
            case "#": out += "#35;"
            case "|": out += "#124;"
            case "`": out += "#96;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func className(_ status: PipelineGraph.Status) -> String {
        status == .neverRun ? "neverRun" : status.rawValue
    }

    /// Fill and stroke per status; the label carries the status too.
    static func colours(_ status: PipelineGraph.Status) -> (String, String) {
        switch status {
        case .succeeded: ("#d4edda", "#1e7e34")
        case .failed: ("#f8d7da", "#b21f2d")
        case .blocked: ("#fff3cd", "#b38600")
        case .restored: ("#d1ecf1", "#117a8b")
        case .unchanged: ("#e9ecef", "#6c757d")
        case .pinned: ("#e2d9f3", "#6f42c1")
        case .interrupted: ("#ffe5d0", "#c35a00")
        case .neverRun: ("#ffffff", "#6c757d")
        }
    }

    // MARK: DOT

    /// Graphviz: quoted ids, escaped labels (`Escape.dot`), edges labelled with their files,
    /// `after` edges dashed, pinned stages dashed.
    static func dot(_ graph: PipelineGraph) -> String {
        func quoted(_ text: String) -> String { "\"" + Escape.dot(text) + "\"" }
        var lines = ["digraph plumb {", "  rankdir=LR;", "  node [shape=box, style=\"rounded,filled\"];"]
        for stage in graph.stages {
            let (fill, stroke) = colours(stage.status)
            // `\n` between the escaped parts is DOT's own line break.
            let label = "\"\(Escape.dot("\(stage.status.glyph) \(stage.name)"))\\n\(Escape.dot(stage.status.label))\""
            let style = stage.status == .pinned ? ", style=\"rounded,filled,dashed\"" : ""
            lines.append("  \(quoted(stage.name)) [label=\(label), fillcolor=\"\(fill)\", color=\"\(stroke)\"\(style)];")
        }
        for edge in graph.edges {
            let attributes = edge.files.isEmpty ? " [style=dashed]" : " [label=\(quoted(PipelineGraph.listed(edge.files)))]"
            lines.append("  \(quoted(edge.from)) -> \(quoted(edge.to))\(attributes);")
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    // MARK: Text

    /// Layered listing: each topological layer, its stages with glyph and status, and what comes
    /// in from which stage. `unicode` picks the glyphs (ASCII otherwise); `style` colours the
    /// status word on a colour terminal.
    static func text(_ graph: PipelineGraph, unicode: Bool, style: (String, TextStyle?) -> String = { text, _ in text }) -> [String] {
        let width = (graph.stages.map(\.name.count).max() ?? 0) + 2
        let statusWidth = (graph.stages.map(\.status.label.count).max() ?? 0) + 2
        var lines = ["environment \(Escape.terminal(graph.environment))"]
        for (index, layer) in graph.layers.enumerated() {
            lines.append("layer \(index + 1)")
            for stage in layer {
                let glyph = unicode ? stage.status.glyph : stage.status.asciiGlyph
                let name = Escape.terminal(stage.name).padding(toLength: width, withPad: " ", startingAt: 0)
                let incoming = graph.incoming(stage.name).map { edge in
                    Escape.terminal(edge.from) + ": " + (edge.files.isEmpty ? "(after)" : Escape.terminal(PipelineGraph.listed(edge.files)))
                }
                let status = incoming.isEmpty ? stage.status.label : stage.status.label.padding(toLength: statusWidth, withPad: " ", startingAt: 0)
                let line = "  \(glyph) \(name)\(style(status, textStyle(stage.status)))"
                    + (incoming.isEmpty ? "" : (unicode ? "← " : "<- ") + incoming.joined(separator: "; "))
                lines.append(line.trimmingTrailingSpaces())
            }
        }
        return lines
    }

    static func textStyle(_ status: PipelineGraph.Status) -> TextStyle? {
        switch status {
        case .succeeded: .green
        case .failed, .interrupted: .red
        case .blocked: .yellow
        case .pinned: .magenta
        case .restored: .cyan
        case .unchanged, .neverRun: .dim
        }
    }
}

private extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
