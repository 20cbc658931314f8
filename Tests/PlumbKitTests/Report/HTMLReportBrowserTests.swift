import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// The example's shape (prepare → train → evaluate → deploy) with a failing stage and one it
/// blocks: real runs through `plumb`, the page written by `plumb report --html`, rendered in
/// headless Chromium, and the DOM checked against history/.
let reportPipeline = """
version: 1
stages:
  prepare:
    cmd: mkdir -p build && echo rows > build/rows.txt
    outs: [build/rows.txt]
  train:
    cmd: mkdir -p build && cat "$PLUMB_PARAMS" > build/model.txt
    deps: [build/rows.txt]
    params: [train]
    outs: [build/model.txt]
  evaluate:
    cmd: >-
      mkdir -p build &&
      echo "{\\"accuracy\\": $(tr -d ' \\n' < "$PLUMB_PARAMS" | sed 's/.*"accuracy":\\([0-9.]*\\).*/\\1/')}" > build/metrics.json
    deps: [build/model.txt]
    params: [train]
    metrics: [build/metrics.json]
  deploy:
    cmd: mkdir -p build && cp build/model.txt build/deployed.txt
    deps: [build/model.txt, build/metrics.json]
    outs: [build/deployed.txt]
  flaky:
    cmd: "echo 'loading <script>alert(1)</script>'; echo 'Error: the flaky stage broke' >&2; exit 4"
    deps: [build/rows.txt]
    outs: [build/flaky.txt]
  notify:
    cmd: cat build/flaky.txt
    deps: [build/flaky.txt]
"""

/// A stage that writes a loss curve as CSV (its rate from params) and an accuracy table as TSV
/// inside its output folder.
let plotPipeline = """
version: 1
stages:
  train:
    cmd: >-
      mkdir -p build dvclive/plots &&
      rate=$(tr -d ' \\n' < "$PLUMB_PARAMS" | sed 's/.*"rate":\\([0-9.]*\\).*/\\1/') &&
      awk -v r="$rate" 'BEGIN{print "step,loss,note"; for(i=0;i<40;i++) printf "%d,%.6f,n%d\\n", i*10, 1/(1+r*i), i}' > build/loss.csv &&
      printf 'step\\tacc\\n0\\t0.5\\n1\\t0.75\\n2\\t0.8125\\n' > dvclive/plots/acc.tsv
    params: [train]
    outs: [dvclive]
    plots:
      - build/loss.csv: {x: step, y: loss, title: "Loss <by step>"}
      - dvclive/plots/acc.tsv
"""

@Suite(.serialized) struct HTMLReportBrowserTests {
    @Test func theReportShowsEveryStageItsStatusAndTheRecordedMetricsInABrowser() throws {
        let harness = try PipelineHarness(pipeline: reportPipeline, params: "train:\n  accuracy: 0.81\n")
        try harness.scratch.write("environments/dev.yaml", "params: {}\n")
        try harness.scratch.commit("dev")
        try harness.reconcile(environment: "dev")
        try harness.edit("spec/params.yaml", "train:\n  accuracy: 0.86\n")
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        // The second run through the command line, which rewrites the page once it is recorded.
        let reconcile = try runProcess(plumbExecutable(), ["reconcile", "--env", "dev", "--report", out + "/live", "-q"], in: harness.root)
        #expect(reconcile.status == 1, "flaky fails: \(reconcile.stderr)")
        let live = try String(contentsOfFile: out + "/live/index.html", encoding: .utf8)

        let written = try runProcess(plumbExecutable(), ["report", "--html", "--env", "dev", "--out", out], in: harness.root)
        #expect(written.status == 0, "\(written.stderr)")
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        #expect(html == live, "reconcile --report writes the page report --html writes for the same commit")
        #expect(!html.contains("<script"), "no script in the page, and the log's <script> is escaped")
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))

        let head = try harness.scratch.head
        // Oldest first in the branch's order (two runs may start within one second).
        let history = HistoryReader(repository: harness.repository, commit: head)
        let byRun = Dictionary(uniqueKeysWithValues: try history.runs(of: "dev").map { ($0.run, $0) })
        let records = try history.entries(environments: ["dev"], limit: 10).reversed().filter { $0.kind == .run }.compactMap { byRun[$0.run] }
        #expect(records.count == 2)
        let last = try #require(records.last)
        let probe = try #require(try ReportProbe.render(html, in: out), "Chromium is not installed and could not be installed")

        // Every stage, in the graph and in the stage list, with the status its last run recorded.
        let expected = last.stages.mapValues(\.status.rawValue)
        #expect(Dictionary(uniqueKeysWithValues: probe.boxes.map { ($0.name, $0.status) }) == expected)
        #expect(Dictionary(uniqueKeysWithValues: probe.runs.map { ($0.name, $0.status) }) == expected)
        #expect(expected["flaky"] == "failed" && expected["notify"] == "blocked" && expected["train"] == "succeeded")
        // The failing stage's log is there, its error line marked.
        #expect((probe.runs.first { $0.name == "flaky" }?.errorLines ?? 0) >= 1)
        #expect(probe.scripts == 1, "only the probe runs")

        // One point per run, equal to what each run recorded.
        let points = probe.points.filter { $0.environment == "dev" && $0.metric == "evaluate.accuracy" }
        #expect(points.map(\.run) == records.map(\.run))
        #expect(points.map(\.value) == records.map { $0.metrics["evaluate.accuracy"] ?? .nan })
        #expect(points.map(\.value) == [0.81, 0.86])

        #expect(probe.overlappingBoxes.isEmpty, "\(probe.overlappingBoxes)")
        #expect(probe.edges == 6)
        #expect(probe.edgesThroughBoxes.isEmpty, "\(probe.edgesThroughBoxes)")
    }

    /// A promotion into staging is marked on staging's charts, and staging's points are its own runs' values.
    @Test func aPromotionIsMarkedOnTheChartsOfTheEnvironmentItWentTo() throws {
        let harness = try PipelineHarness(pipeline: promotionPipeline, params: promotionParams(version: 1, accuracy: "0.85"),
                                          files: ["spec/train.sh": "true\n", ".gitignore": ".plumb/\ndeployments/\n",
                                                  "environments/dev.yaml": "params: {}\n",
                                                  "environments/staging.yaml": "from: dev\nruns: [deploy]\n"])
        func plumb(_ arguments: String...) throws {
            let result = try runProcess(plumbExecutable(), arguments, in: harness.root)
            #expect(result.status == 0, "plumb \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        try plumb("reconcile", "--env", "dev", "-q")
        try plumb("promote", "dev", "staging")
        try plumb("reconcile", "--env", "staging", "-q")
        try harness.edit("spec/params.yaml", promotionParams(version: 2, accuracy: "0.9"))
        try plumb("reconcile", "--env", "dev", "-q")
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        try plumb("report", "--html", "--env", "dev", "--out", out)
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        let probe = try #require(try ReportProbe.render(html, in: out), "Chromium is not installed and could not be installed")

        let history = HistoryReader(repository: harness.repository, commit: try harness.scratch.head)
        let promoted = try #require(try history.entries(environments: ["staging"], limit: 10).first { $0.kind == .promotion })
        #expect(probe.marks.contains("promotion \(promoted.run)"))
        let staging = try history.runs(of: "staging")
        #expect(probe.points.filter { $0.environment == "staging" && $0.metric == "evaluate.accuracy" }.map(\.value)
                == staging.map { $0.metrics["evaluate.accuracy"] ?? .nan })
        #expect(staging.first?.metrics["evaluate.accuracy"] == 0.85)
        #expect(probe.points.filter { $0.environment == "dev" && $0.metric == "evaluate.accuracy" }.map(\.value) == [0.85, 0.9])
    }

    /// A stage writes a CSV plot (and a TSV inside its output folder, as dvclive does); the page
    /// draws each as the last run recorded it, and the points the browser has are the file's rows.
    @Test func thePlotsSeriesInTheBrowserAreTheStagesPlotFile() throws {
        let harness = try PipelineHarness(pipeline: plotPipeline, params: "train:\n  rate: 0.5\n")
        try harness.scratch.write("environments/dev.yaml", "params: {}\n")
        try harness.scratch.commit("dev")
        try harness.reconcile(environment: "dev")
        try harness.edit("spec/params.yaml", "train:\n  rate: 0.25\n")
        try harness.reconcile(environment: "dev")
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let written = try runProcess(plumbExecutable(), ["report", "--html", "--env", "dev", "--out", out], in: harness.root)
        #expect(written.status == 0, "\(written.stderr)")
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        #expect(html.contains("Loss &lt;by step&gt;") && !html.contains("<by step>"), "the title from the spec is escaped")

        // The files as the last run left them: the CSV from the cache by its recorded digest, the
        // TSV (inside the output folder `dvclive`) from the workspace.
        let project = try harness.project()
        // The last run by the recorded state: two runs within a second have no order by time.
        let last = try #require(try harness.state("dev")?.lastRun)
        let record = try #require(try HistoryReader(repository: harness.repository, commit: try harness.scratch.head).run(last, environments: ["dev"]))
        let digest = try #require(record.stages["train"]?.outputs["build/loss.csv"])
        let csv = try Self.columns(String(decoding: try project.store.data(digest), as: UTF8.self), separator: ",")
        let tsv = try Self.columns(try String(contentsOfFile: project.workspace(for: "dev") + "/dvclive/plots/acc.tsv", encoding: .utf8), separator: "\t")
        #expect(csv["step"]?.count == 40 && csv["loss"]?[1] == 0.8, "the second run's file (rate 0.25)")

        let probe = try #require(try ReportProbe.render(html, in: out), "Chromium is not installed and could not be installed")
        #expect(probe.scripts == 1)
        let loss = probe.plots.filter { $0.path == "build/loss.csv" }
        #expect(loss.map(\.series) == ["loss"], "y: loss only; the text column is not drawn")
        #expect(loss.first?.stage == "train")
        #expect(loss.first?.x == csv["step"])
        #expect(loss.first?.y == csv["loss"])
        #expect(loss.first?.visible == true, "the line is laid out")
        let acc = probe.plots.filter { $0.path == "dvclive/plots/acc.tsv" }
        #expect(acc.map(\.series) == ["acc"], "the default y: the last column other than x (step)")
        #expect(acc.first?.x == tsv["step"])
        #expect(acc.first?.y == tsv["acc"])
    }

    /// A CSV or TSV with a header, as the numbers of each column (in the test, every cell is a number or is skipped).
    static func columns(_ text: String, separator: Character) throws -> [String: [Double]] {
        let lines = text.split(separator: "\n").map { $0.split(separator: separator, omittingEmptySubsequences: false).map(String.init) }
        let header = try #require(lines.first)
        var out: [String: [Double]] = [:]
        for row in lines.dropFirst() {
            for (name, cell) in zip(header, row) { if let value = Double(cell) { out[name, default: []].append(value) } }
        }
        return out
    }

    /// 200 stages in 10 layers, each waiting for one or two stages of the layer before and some
    /// for one two layers back (an edge that must pass a column): every stage is drawn, no two
    /// boxes overlap and no edge passes through a box, as the browser lays them out.
    @Test func aGenerated200StagePipelineStaysReadable() throws {
        let harness = try PipelineHarness(pipeline: generatedPipeline(layers: 10, width: 20))
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let written = try runProcess(plumbExecutable(), ["report", "--html", "--out", out], in: harness.root)
        #expect(written.status == 0, "\(written.stderr)")
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        let probe = try #require(try ReportProbe.render(html, in: out), "Chromium is not installed and could not be installed")
        #expect(probe.boxes.count == 200)
        #expect(Set(probe.boxes.map(\.name)) == Set((0..<10).flatMap { l in (0..<20).map { "s\(l)-\($0)" } }))
        #expect(probe.boxes.allSatisfy { $0.status == "never-run" })
        #expect(probe.runs.count == 200)
        #expect(probe.boxes.allSatisfy { $0.width > 100 && $0.height > 20 }, "boxes are drawn at a readable size")
        #expect(probe.overlappingBoxes.isEmpty, "\(probe.overlappingBoxes.prefix(5))")
        #expect(probe.edgesThroughBoxes.isEmpty, "\(probe.edgesThroughBoxes.prefix(5))")
        #expect(probe.edges == generatedEdgeCount(layers: 10, width: 20))
    }
}

/// Stage `s<l>-<i>` writes `out/s<l>-<i>`; in layer l > 0 it reads `s<l-1>-<i>` and
/// `s<l-1>-<(i*7+3)%width>`, and every third stage from l ≥ 2 also `s<l-2>-<(i*3)%width>`.
func generatedPipeline(layers: Int, width: Int) -> String {
    var lines = ["version: 1", "stages:"]
    for l in 0..<layers {
        for i in 0..<width {
            lines.append("  s\(l)-\(i):")
            lines.append("    cmd: mkdir -p out && echo \(l) > out/s\(l)-\(i)")
            lines.append("    outs: [out/s\(l)-\(i)]")
            let deps = generatedDeps(l, i, width: width)
            if !deps.isEmpty { lines.append("    deps: [\(deps.map { "out/\($0)" }.joined(separator: ", "))]") }
        }
    }
    return lines.joined(separator: "\n") + "\n"
}

func generatedDeps(_ l: Int, _ i: Int, width: Int) -> [String] {
    guard l > 0 else { return [] }
    var deps = ["s\(l - 1)-\(i)", "s\(l - 1)-\((i * 7 + 3) % width)"]
    if l >= 2 && i % 3 == 0 { deps.append("s\(l - 2)-\((i * 3) % width)") }
    return Array(Set(deps)).sorted()
}

func generatedEdgeCount(layers: Int, width: Int) -> Int {
    (0..<layers).map { l in (0..<width).map { generatedDeps(l, $0, width: width).count }.reduce(0, +) }.reduce(0, +)
}
