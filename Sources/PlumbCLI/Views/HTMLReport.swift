import Foundation
import PlumbCore
import PlumbEngine

/// `plumb report --html`: one self-contained page (inline CSS and SVG, no script, no network)
/// with the graph, each stage's last run and log, the environments, metric charts and the
/// pending plan. A pure function of its `Input`; every value from a spec, record or log is
/// escaped (`Escape.html`) where it enters the page. Status is always a glyph and a word;
/// colour only adds to them. Elements carry data attributes (`data-stage`, `data-status`,
/// `data-value`) so that tests read the page as a browser lays it out.
enum HTMLReport {
    static func page(_ input: Input) -> String {
        let title = "Plumb report: \(input.project), \(input.environment) at \(input.commit.short)"
        var out = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
        <title>\(h(title))</title>
        <style>\(css)</style>
        </head><body>
        <header><h1>\(h(title))</h1>
        <p class="summary">Branch \(h(input.branch ?? "(detached)")), commit <code>\(h(input.commit.short))</code>. \(h(input.plan.summary))</p>
        <nav><a href="#graph">Graph</a> · <a href="#stages">Stages</a> · <a href="#environments">Environments</a> · <a href="#metrics">Metrics</a> · <a href="#plots">Plots</a> · <a href="#plan">Pending</a></nav>
        </header>

        """
        out += graphSection(input)
        out += stagesSection(input)
        out += environmentsSection(input)
        out += metricsSection(input)
        out += plotsSection(input)
        out += planSection(input)
        out += "<footer>Written by <code>plumb report --html</code> from history/ at \(h(input.commit.short)).</footer>\n</body></html>\n"
        return out
    }

    // MARK: Graph

    static func graphSection(_ input: Input) -> String {
        let graph = input.graph
        let layout = SVGGraphLayout(stages: graph.stages.map { ($0.name, $0.layer) }, edges: graph.edges.map { ($0.from, $0.to) })
        let byName = Dictionary(graph.stages.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var counts: [PipelineGraph.Status: Int] = [:]
        for stage in graph.stages { counts[stage.status, default: 0] += 1 }
        let legend = PipelineGraph.Status.allCases.compactMap { status in
            counts[status].map { "<span class=\"legend status-\(className(status))\">\(status.glyph) \(status.label): \($0)</span>" }
        }.joined(separator: " ")
        var out = "<section id=\"graph\"><h2>Graph of \(h(graph.environment))</h2>\n<p>\(graph.stages.count) stages in \(graph.layers.count) layers. \(legend)</p>\n"
        out += "<div class=\"scroll\"><svg id=\"pipeline-graph\" role=\"img\" aria-label=\"stage graph of \(h(graph.environment))\" "
        out += "viewBox=\"0 0 \(n(layout.width)) \(n(layout.height))\" width=\"\(n(layout.width))\" height=\"\(n(layout.height))\">\n"
        out += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>\n"
        let files = Dictionary(graph.edges.map { ("\($0.from)\u{0}\($0.to)", $0.files) }, uniquingKeysWith: { a, _ in a })
        for route in layout.routes {
            let edgeFiles = files["\(route.from)\u{0}\(route.to)"] ?? []
            out += "<path class=\"edge\(edgeFiles.isEmpty ? " after" : "")\" data-from=\"\(h(route.from))\" data-to=\"\(h(route.to))\" d=\"\(path(route.points))\" marker-end=\"url(#arrow)\">"
            out += "<title>\(h(route.from)) → \(h(route.to))\(edgeFiles.isEmpty ? " (after)" : ": " + h(PipelineGraph.listed(edgeFiles)))</title></path>\n"
        }
        for box in layout.boxes {
            guard let stage = byName[box.name] else { continue }
            let duration = input.lastRuns[box.name]?.outcome.duration.map(formatDuration)
            let detail = stage.status.label + (duration.map { " · \($0)" } ?? "")
            out += "<a href=\"#stage-\(anchor(box.name))\"><g class=\"stage status-\(className(stage.status))\" data-stage=\"\(h(box.name))\" data-status=\"\(stage.status.rawValue)\">"
            out += "<title>\(h(box.name)): \(h(detail))\(stage.run.map { " (run " + h($0) + ")" } ?? "")</title>"
            out += "<rect x=\"\(n(box.x))\" y=\"\(n(box.y))\" width=\"\(n(box.width))\" height=\"\(n(box.height))\" rx=\"6\" data-stage=\"\(h(box.name))\"/>"
            out += "<text class=\"name\" x=\"\(n(box.x + 8))\" y=\"\(n(box.y + 19))\">\(stage.status.glyph) \(h(shortened(box.name, to: 24)))</text>"
            out += "<text class=\"detail\" x=\"\(n(box.x + 8))\" y=\"\(n(box.y + 36))\">\(h(detail))</text></g></a>\n"
        }
        return out + "</svg></div></section>\n"
    }

    /// A polyline through the route's points, each piece between columns a cubic curve that
    /// stays inside that gap (its control points share the gap's x range).
    static func path(_ points: [(x: Double, y: Double)]) -> String {
        guard let first = points.first else { return "" }
        var d = "M\(n(first.x)),\(n(first.y))"
        for (a, b) in zip(points, points.dropFirst()) {
            if a.y == b.y { d += " L\(n(b.x)),\(n(b.y))"; continue }
            let mid = (a.x + b.x) / 2
            d += " C\(n(mid)),\(n(a.y)) \(n(mid)),\(n(b.y)) \(n(b.x)),\(n(b.y))"
        }
        return d
    }

    // MARK: Stages

    static func stagesSection(_ input: Input) -> String {
        var out = "<section id=\"stages\"><h2>Stages</h2>\n<p>Each stage's latest run in \(h(input.environment)); open one to read why it ran and its log.</p>\n"
        for stage in input.graph.stages {
            let last = input.lastRuns[stage.name]
            let status = stage.status
            out += "<details class=\"stage-run status-\(className(status))\" id=\"stage-\(anchor(stage.name))\" data-stage=\"\(h(stage.name))\" data-status=\"\(status.rawValue)\">"
            out += "<summary><span class=\"badge\">\(status.glyph) \(h(status.label))</span> <strong>\(h(stage.name))</strong>"
            if let last {
                let facts = [last.outcome.exitCode.map { "exit \($0)" }, last.outcome.duration.map(formatDuration), "run \(last.run)",
                             stage.executor].compactMap { $0 }
                out += " <span class=\"facts\">\(h(facts.joined(separator: " · ")))</span>"
            }
            out += "</summary>\n"
            guard let last else {
                out += "<p>No run of this stage is recorded in \(h(input.environment)).</p></details>\n"
                continue
            }
            out += "<dl><dt>Action</dt><dd>\(h(last.outcome.action.rawValue)) → \(h(last.outcome.status.rawValue))</dd>"
            out += "<dt>Why</dt><dd>\(last.outcome.reasons.isEmpty ? "nothing changed" : last.outcome.reasons.map(h).joined(separator: "<br>"))</dd>"
            if let attempts = last.outcome.attempts, attempts > 1 { out += "<dt>Attempts</dt><dd>\(attempts)</dd>" }
            if let placement = last.outcome.placement {
                let parts = [placement.runner, placement.job.map { "job \($0)" }, placement.node.map { "on \($0)" }, placement.state].compactMap { $0 }
                out += "<dt>Ran</dt><dd>\(h(parts.joined(separator: " ")))</dd>"
            }
            if !last.outcome.metrics.isEmpty {
                let metrics = last.outcome.metrics.keys.sorted().map { "\(h($0)) = \(h(JSONValue.format(last.outcome.metrics[$0]!)))" }
                out += "<dt>Metrics</dt><dd>\(metrics.joined(separator: ", "))</dd>"
            }
            out += "</dl>\n"
            if let log = last.log ?? last.outcome.logTail {
                let source = last.log == nil ? "last lines kept in the record (the log is not in this machine's cache)" : "log"
                out += "<details class=\"log\"><summary>\(source) (\(log.split(separator: "\n", omittingEmptySubsequences: false).count) lines)</summary>"
                out += "<pre>\(logHTML(log))</pre></details>\n"
            } else {
                out += "<p class=\"muted\">No log: \(last.outcome.log == nil ? "the stage did not run its command" : "the log is not in this machine's cache").</p>\n"
            }
            out += "</details>\n"
        }
        return out + "</section>\n"
    }

    /// The log escaped line by line; lines that look like errors are marked (and say so to a screen reader).
    static func logHTML(_ log: String) -> String {
        log.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let text = Escape.html(String(line), keeping: .layout)
            return isErrorLine(line) ? "<mark class=\"error-line\" data-error=\"1\"><span class=\"sr\">error: </span>\(text)</mark>" : text
        }.joined(separator: "\n")
    }

    static func isErrorLine(_ line: Substring) -> Bool {
        let lower = line.lowercased()
        return ["error", "traceback", "exception", "fatal", "failed", "panic"].contains { lower.contains($0) }
    }

    // MARK: Environments

    static func environmentsSection(_ input: Input) -> String {
        var out = "<section id=\"environments\"><h2>Environments</h2>\n<table><thead><tr><th>Environment</th><th>From</th><th>Runs</th><th>Last run</th><th>Model</th><th>Drift (recorded)</th><th>Pending</th></tr></thead><tbody>\n"
        for env in input.environments {
            let name = env.environment
            let runs = env.pin.map { "pin: \(h($0.source)) run \(h($0.run)) at <code>\(h($0.commit.short))</code>" } ?? (env.awaitingPromotion ? "waits for a promotion from \(h(env.from ?? "?"))" : "its own stages")
            let last = env.lastRun.map { "\(h($0))\(env.lastResult.map { " (" + h($0.rawValue) + ")" } ?? "")" } ?? "never ran"
            let model = env.model.map { "\(h($0)) <code>\(h(env.modelDigest.map { String($0.hex.prefix(12)) } ?? "?"))</code>" } ?? "—"
            let drifted = input.recordedDrift[name] ?? []
            let drift = drifted.isEmpty ? (env.lastRun == nil ? "—" : "none in the last run")
                : "✘ last run redeployed \(drifted.map(h).joined(separator: ", ")) after its check failed"
            let pending = env.planErrors.isEmpty ? "\(env.pending)" : "⚠ \(h(env.planErrors.first!))"
            out += "<tr data-environment=\"\(h(name))\"><th scope=\"row\">\(h(name))</th><td>\(h(env.from ?? "—"))</td><td>\(runs)</td><td>\(last)</td><td>\(model)</td><td>\(drift)</td><td>\(pending)</td></tr>\n"
        }
        return out + "</tbody></table>\n<p class=\"muted\">Drift here is what the runs recorded; <code>plumb status --check</code> runs the check now.</p></section>\n"
    }

    // MARK: Metrics

    static func metricsSection(_ input: Input) -> String {
        var out = "<section id=\"metrics\"><h2>Metrics over runs</h2>\n"
        var any = false
        for env in input.environments.map(\.environment) {
            let runs = input.runs[env] ?? []
            let keys = Set(runs.flatMap(\.metrics.keys)).sorted()
            guard !keys.isEmpty else { continue }
            any = true
            out += "<h3>\(h(env))</h3>\n<div class=\"charts\">\n"
            for key in keys {
                let points = runs.compactMap { run in run.metrics[key].map { SVGChart.Point(run: run.run, value: $0) } }
                let marks = (input.marks[env] ?? []).map { entry in
                    var mark = entry.mark
                    mark.after = points.filter { entry.runsBefore.contains($0.run) }.count
                    return mark
                }
                let chart = SVGChart(environment: env, metric: key, points: points, marks: marks)
                out += "<figure><figcaption>\(h(key))</figcaption>\(chart.svg())</figure>\n"
            }
            out += "</div>\n"
        }
        if !any { out += "<p>No run has recorded a metric yet.</p>\n" }
        return out + "<p class=\"muted\">▲ a promotion into the environment, ↶ a rollback; each point is one run.</p></section>\n"
    }

    // MARK: Plots

    static func plotsSection(_ input: Input) -> String {
        var out = "<section id=\"plots\"><h2>Plots of \(h(input.environment))</h2>\n"
        guard !input.plots.isEmpty else {
            return out + "<p>No stage declares plots (<code>plots:</code> in spec/pipeline.yaml).</p></section>\n"
        }
        var stages: [String] = []
        for chart in input.plots where !stages.contains(chart.stage) { stages.append(chart.stage) }
        for stage in stages {
            out += "<h3>\(h(stage))</h3>\n<div class=\"charts\">\n"
            for chart in input.plots where chart.stage == stage {
                out += "<figure class=\"plot-figure\" data-stage=\"\(h(stage))\" data-path=\"\(h(chart.path))\">\(SVGPlot(chart).svg())</figure>\n"
            }
            out += "</div>\n"
        }
        return out + "<p class=\"muted\">Each plot as the run that produced its stage's outputs recorded it (at most 1000 rows, evenly spread); <code>plumb plots diff</code> compares runs.</p></section>\n"
    }

    // MARK: Plan

    static func planSection(_ input: Input) -> String {
        let plan = input.plan
        var out = "<section id=\"plan\"><h2>Pending in \(h(plan.environment))</h2>\n<p>\(h(plan.summary))</p>\n"
        for error in plan.errors { out += "<p class=\"error\">⚠ \(h(error))</p>\n" }
        let pending = plan.stages.filter(\.action.isChange)
        if pending.isEmpty && plan.dropped.isEmpty {
            out += "<p>Nothing to do: a reconcile now would run nothing.</p>\n"
        } else {
            out += "<table><thead><tr><th>Stage</th><th>Action</th><th>Why</th></tr></thead><tbody>\n"
            for stage in pending {
                out += "<tr data-stage=\"\(h(stage.name))\" data-action=\"\(stage.action.rawValue)\"><td>\(h(stage.name))</td><td><code>\(h(stage.action.glyph))</code> \(h(stage.action.rawValue))</td><td>\(stage.reasons.map { h($0.description) }.joined(separator: "<br>"))</td></tr>\n"
            }
            for name in plan.dropped { out += "<tr data-stage=\"\(h(name))\" data-action=\"drop\"><td>\(h(name))</td><td><code>-</code> drop</td><td>left the spec</td></tr>\n" }
            out += "</tbody></table>\n"
        }
        return out + "</section>\n"
    }

    // MARK: Pieces

    static func h(_ text: String) -> String { Escape.html(text) }
    static func n(_ value: Double) -> String { SVGNumber.format(value) }

    static func className(_ status: PipelineGraph.Status) -> String { status.rawValue }

    /// An id fragment for a stage: letters, digits, `-` and `_` kept, anything else as its code.
    static func anchor(_ name: String) -> String {
        var out = ""
        for c in name.unicodeScalars {
            switch c {
            case "a"..."z", "A"..."Z", "0"..."9", "-": out.unicodeScalars.append(c)
            default: out += "_\(String(c.value, radix: 16))"
            }
        }
        return out
    }

    /// At most `limit` characters, the cut marked with `…` (the full name is in the box's title).
    static func shortened(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    static let css = """
    body{font:14px/1.45 system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0 auto;max-width:1400px;padding:0 20px 40px;color:#1b1f23;background:#fff}
    h1{font-size:20px;margin:18px 0 4px}h2{font-size:17px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}h3{font-size:15px}
    code,pre{font-family:"DejaVu Sans Mono",ui-monospace,monospace;font-size:12px}
    nav a{color:#0550ae}.muted{color:#57606a}.scroll{overflow:auto;border:1px solid #d0d7de;border-radius:6px;max-height:80vh}
    svg text{font-size:12px;fill:#1b1f23}.stage rect{stroke-width:1.5}.stage .name{font-weight:600}.stage .detail{fill:#3d444d;font-size:11px}
    .edge{fill:none;stroke:#6e7781;stroke-width:1.2}.edge.after{stroke-dasharray:4 3}marker path{fill:#6e7781}
    .status-succeeded rect{fill:#d4edda;stroke:#1e7e34}.status-failed rect{fill:#f8d7da;stroke:#b21f2d}.status-blocked rect{fill:#fff3cd;stroke:#b38600}
    .status-restored rect{fill:#d1ecf1;stroke:#117a8b}.status-unchanged rect{fill:#e9ecef;stroke:#6c757d}.status-pinned rect{fill:#e2d9f3;stroke:#6f42c1;stroke-dasharray:5 3}
    .status-interrupted rect{fill:#ffe5d0;stroke:#c35a00}.status-never-run rect{fill:#fff;stroke:#6c757d}
    .legend{display:inline-block;border:1px solid #d0d7de;border-radius:10px;padding:0 8px;margin:2px}
    details.stage-run{border:1px solid #d0d7de;border-left-width:6px;border-radius:4px;margin:4px 0;padding:4px 10px}
    details.status-succeeded{border-left-color:#1e7e34}details.status-failed{border-left-color:#b21f2d}details.status-blocked{border-left-color:#b38600}
    details.status-restored{border-left-color:#117a8b}details.status-pinned{border-left-color:#6f42c1}details.status-interrupted{border-left-color:#c35a00}
    summary{cursor:pointer}.badge{display:inline-block;min-width:92px;font-weight:600}.facts{color:#57606a}
    dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}dt{font-weight:600}dd{margin:0}
    pre{background:#f6f8fa;border-radius:4px;padding:8px;overflow:auto;max-height:480px;white-space:pre-wrap}
    mark.error-line{background:#ffd7d5;color:#82071e;display:inline-block;width:100%}.sr{position:absolute;left:-9999px}
    table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
    .charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:6px}figcaption{font-weight:600}
    .chart .axis{stroke:#8c959f}.chart .series{fill:none;stroke:#0550ae;stroke-width:2}.chart .point{fill:#0550ae}.chart .tick{font-size:10px;fill:#57606a}
    .mark line{stroke-width:1.5;stroke-dasharray:3 3}.mark.promotion line{stroke:#1e7e34}.mark.rollback line{stroke:#b21f2d}.mark text{font-size:10px}
    .error{color:#b21f2d}footer{margin-top:30px;color:#57606a;font-size:12px}
    """
}
