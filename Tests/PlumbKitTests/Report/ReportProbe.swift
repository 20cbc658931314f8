import Foundation

/// What the browser laid out, as the probe script (run in headless Chromium) reports it.
struct ReportProbe: Decodable {
    struct Box: Decodable { var name: String; var status: String; var x, y, width, height: Double }
    struct Run: Decodable { var name: String; var status: String; var errorLines: Int }
    struct Point: Decodable { var environment: String; var metric: String; var run: String; var value: Double }
    /// One line of a plot as drawn: its points' `data-x`/`data-y`, and where it is on the page.
    struct PlotSeries: Decodable { var stage: String; var path: String; var series: String; var x: [Double]; var y: [Double]; var visible: Bool }
    var boxes: [Box]
    var runs: [Run]
    var points: [Point]
    var marks: [String]
    var plots: [PlotSeries]
    /// Samples of edges that fall inside a box other than the edge's own ends.
    var edgesThroughBoxes: [String]
    var edges: Int
    var scripts: Int

    /// Collects the above into `<pre id="probe">`: boxes from getBoundingClientRect (as laid
    /// out), edges sampled along their rendered path against every box's rendered bounds.
    static let script = """
    (function(){
      const r = {boxes: [], runs: [], points: [], marks: [], plots: [], edgesThroughBoxes: [], edges: 0, scripts: document.scripts.length};
      const rects = [];
      document.querySelectorAll('#pipeline-graph g.stage').forEach(g => {
        const b = g.querySelector('rect').getBoundingClientRect();
        r.boxes.push({name: g.dataset.stage, status: g.dataset.status, x: b.x, y: b.y, width: b.width, height: b.height});
        const u = g.querySelector('rect').getBBox();
        rects.push({name: g.dataset.stage, x: u.x, y: u.y, w: u.width, h: u.height});
      });
      document.querySelectorAll('details.stage-run').forEach(d => r.runs.push(
        {name: d.dataset.stage, status: d.dataset.status, errorLines: d.querySelectorAll('mark.error-line').length}));
      document.querySelectorAll('svg.chart').forEach(svg => svg.querySelectorAll('circle.point').forEach(c => r.points.push(
        {environment: svg.dataset.environment, metric: svg.dataset.metric, run: c.dataset.run, value: parseFloat(c.dataset.value)})));
      document.querySelectorAll('#plots svg.plot').forEach(svg => svg.querySelectorAll('g.plot-series').forEach(g => {
        const line = g.querySelector('polyline'), b = (line || svg).getBoundingClientRect();
        const pts = Array.from(g.querySelectorAll('circle.plot-point'));
        r.plots.push({stage: svg.dataset.stage, path: svg.dataset.path, series: g.dataset.series,
          x: pts.map(c => parseFloat(c.dataset.x)), y: pts.map(c => parseFloat(c.dataset.y)), visible: b.width > 0 && b.height > 0});
      }));
      document.querySelectorAll('svg.chart g.mark').forEach(m => r.marks.push(m.dataset.kind + ' ' + m.dataset.run));
      document.querySelectorAll('#pipeline-graph path.edge').forEach(p => {
        r.edges++;
        const len = p.getTotalLength();
        for (let s = 0; s <= len; s += 3) {
          const pt = p.getPointAtLength(s);
          for (const b of rects) {
            if (b.name === p.dataset.from || b.name === p.dataset.to) continue;
            if (pt.x > b.x + 0.5 && pt.x < b.x + b.w - 0.5 && pt.y > b.y + 0.5 && pt.y < b.y + b.h - 0.5) {
              r.edgesThroughBoxes.push(p.dataset.from + '->' + p.dataset.to + ' through ' + b.name); s = len + 1; break;
            }
          }
        }
      });
      const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(r);
      document.body.appendChild(pre);
    })();
    """

    /// Renders `html` in headless Chromium with the probe; nil when Chromium cannot be had.
    static func render(_ html: String, in folder: String) throws -> ReportProbe? {
        let page = folder + "/probed.html"
        try Data(Chromium.withProbe(html, script: script).utf8).write(to: URL(fileURLWithPath: page))
        guard let dom = try Chromium.dumpDOM(page) else { return nil }
        guard let json = Chromium.probe(in: dom) else { throw ProbeMissing(dom: String(dom.prefix(2000))) }
        return try JSONDecoder().decode(ReportProbe.self, from: Data(json.utf8))
    }

    struct ProbeMissing: Error { var dom: String }

    /// Pairs of boxes whose rendered rectangles overlap.
    var overlappingBoxes: [String] {
        var out: [String] = []
        let sorted = boxes.sorted { $0.x < $1.x }
        for (i, a) in sorted.enumerated() {
            for b in sorted[(i + 1)...] {
                if b.x >= a.x + a.width { break }
                if a.y < b.y + b.height && b.y < a.y + a.height { out.append("\(a.name) and \(b.name)") }
            }
        }
        return out
    }
}
