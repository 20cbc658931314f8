import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Plots end to end: recorded by a run, found again in history/, written by `plumb plots`.
@Suite struct PlotsTests {
    /// `train` writes a curve whose slope is its param; `report` only reads it (and declares no plot).
    static let pipeline = """
    version: 1
    stages:
      train:
        cmd: >-
          mkdir -p build &&
          slope=$(tr -d ' \\n' < "$PLUMB_PARAMS" | sed 's/.*"slope":\\([0-9.]*\\).*/\\1/') &&
          awk -v s="$slope" 'BEGIN{print "epoch,loss,acc"; for(i=1;i<=3;i++) printf "%d,%s,%s\\n", i, s*i, i/4}' > build/curve.csv
        params: [train]
        plots:
          - build/curve.csv: {x: epoch, y: [loss, acc], title: Curve}
      report:
        cmd: cat build/curve.csv > /dev/null
        deps: [build/curve.csv]
    """

    static func harness() throws -> PipelineHarness {
        try PipelineHarness(pipeline: pipeline, params: "train:\n  slope: 2\n")
    }

    @Test func aRunRecordsThePlotsNumbersAndTheNextRunNamesIt() throws {
        let h = try Self.harness()
        try h.reconcile()
        let state = try #require(try h.state())
        let first = try #require(state.lastRun)
        let history = HistoryReader(repository: h.repository, commit: try h.scratch.head)
        let record = try #require(try history.run(first, environments: ["default"]))
        let plot = try #require(record.stages["train"]?.plots?["build/curve.csv"])
        #expect(plot == PlotData(rows: 3, columns: [PlotColumn(name: "epoch", values: [1, 2, 3]), PlotColumn(name: "loss", values: [2, 4, 6]),
                                                    PlotColumn(name: "acc", values: [0.25, 0.5, 0.75])]))
        #expect(record.stages["train"]?.outputs["build/curve.csv"] != nil, "the plot file is an output")
        #expect(record.stages["report"]?.plots == nil && record.stages["report"]?.plotsRun == nil)

        // Nothing changed: the next run keeps train's outputs and points at the run that has the numbers.
        try h.edit("README", "x\n")
        try h.reconcile(forced: ["report"])
        let secondRun = try #require(try h.state()?.lastRun)
        let second = try #require(try HistoryReader(repository: h.repository, commit: try h.scratch.head).run(secondRun, environments: ["default"]))
        #expect(second.run != first)
        #expect(second.stages["train"]?.status == .unchanged)
        #expect(second.stages["train"]?.plots == nil, "the numbers are committed once")
        #expect(second.stages["train"]?.plotsRun == first)
        // `plumb show` says which run holds them.
        let shown = try runProcess(plumbExecutable(), ["show", second.run], in: h.root)
        #expect(shown.stdout.contains("recorded by run \(first)"), "\(shown.stdout)")
        let shownFirst = try runProcess(plumbExecutable(), ["show", first], in: h.root)
        #expect(shownFirst.stdout.contains("build/curve.csv  3 rows: epoch, loss, acc"), "\(shownFirst.stdout)")

        let spec = try #require(SpecLoader.load(from: WorkingTreeSpecSource(root: h.root)).spec)
        let plots = PlotHistory(repository: h.repository, commit: try h.scratch.head, spec: spec)
        for found in [try plots.plots(of: "default"), try plots.plots(of: second)] {
            #expect(found.map(\.plot.path) == ["build/curve.csv"])
            #expect(found.first?.run == first)
            #expect(found.first?.data == plot)
            #expect(found.first?.chart().series.map(\.y) == [[2, 4, 6], [0.25, 0.5, 0.75]])
        }
    }

    @Test func plotsShowWritesAnSVGAndTheSeriesAsJSONPerPlot() throws {
        let h = try Self.harness()
        try h.reconcile()
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try runProcess(plumbExecutable(), ["plots", "show", "--out", out], in: h.root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "\(out)/build_curve.csv.svg\n\(out)/build_curve.csv.json\n")
        let svg = try String(contentsOfFile: out + "/build_curve.csv.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""), "a file of its own")
        #expect(svg.contains(">Curve</text>"), "the title")
        #expect(svg.contains("data-series=\"loss\"") && svg.contains("data-series=\"acc\""), "one line per y, in the legend")
        #expect(svg.contains("data-x=\"3.0\" data-y=\"6.0\""))
        #expect(!svg.contains("<script") && !svg.contains("href"), "self-contained")
        let chart = try JSONDecoder().decode(PlotChart.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/build_curve.csv.json")))
        #expect(chart.x == "epoch" && chart.stage == "train" && chart.title == "Curve")
        #expect(chart.series == [PlotSeries(column: "loss", x: [1, 2, 3], y: [2, 4, 6]), PlotSeries(column: "acc", x: [1, 2, 3], y: [0.25, 0.5, 0.75])])
    }

    @Test func plotsDiffPutsBothRunsOnOneChart() throws {
        let h = try Self.harness()
        try h.reconcile()
        let first = try #require(try h.state()?.lastRun)
        try h.edit("spec/params.yaml", "train:\n  slope: 3\n")
        try h.reconcile()
        let second = try #require(try h.state()?.lastRun)
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        // By default the last run against the one before; by short names as everywhere.
        for arguments in [["plots", "diff"], ["plots", "diff", RunID.suffix(of: first), "latest"]] {
            let result = try runProcess(plumbExecutable(), arguments + ["--out", out, "--json"], in: h.root)
            #expect(result.status == 0, "\(result.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(json["files"] as? [String] == ["\(out)/build_curve.csv.svg", "\(out)/build_curve.csv.json"])
            let chart = try JSONDecoder().decode(PlotChart.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/build_curve.csv.json")))
            #expect(chart.series.map(\.label) == ["run \(RunID.suffix(of: first)): loss", "run \(RunID.suffix(of: first)): acc",
                                                  "run \(RunID.suffix(of: second)): loss", "run \(RunID.suffix(of: second)): acc"])
            #expect(chart.series.map(\.y) == [[2, 4, 6], [0.25, 0.5, 0.75], [3, 6, 9], [0.25, 0.5, 0.75]])
        }
        // An environment is a side too: its plots now.
        let result = try runProcess(plumbExecutable(), ["plots", "diff", RunID.suffix(of: first), "default", "--out", out], in: h.root)
        #expect(result.status == 0, "\(result.stderr)")
        let svg = try String(contentsOfFile: out + "/build_curve.csv.svg", encoding: .utf8)
        #expect(svg.contains("data-series=\"default: loss\"") && svg.contains("data-x=\"3.0\" data-y=\"9.0\""))
    }

    @Test func aPinnedStagesPlotsAreFoundInTheRunOfTheEnvironmentItWasPromotedFrom() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline, params: "train:\n  slope: 2\n",
                                    files: ["environments/dev.yaml": "params: {}\n", "environments/staging.yaml": "from: dev\nruns: [report]\n"])
        func plumb(_ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
            let result = try runProcess(plumbExecutable(), arguments, in: h.root)
            #expect(result.status == 0, "plumb \(arguments.joined(separator: " ")): \(result.stderr)")
            return result
        }
        _ = try plumb("reconcile", "--env", "dev", "-q")
        let devRun = try #require(try h.state("dev")?.lastRun)
        _ = try plumb("promote", "dev", "staging", "-q")
        _ = try plumb("reconcile", "--env", "staging", "-q")
        let staging = try #require(try h.state("staging"))
        #expect(staging.stages["train"]?.run == devRun, "train is pinned from dev's run")
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try plumb("plots", "show", "--env", "staging", "--out", out, "--json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let charts = try #require(json["charts"] as? [[String: Any]])
        #expect(charts.count == 1)
        #expect((charts.first?["problems"] as? [String]) == [])
        let series = try #require(charts.first?["series"] as? [[String: Any]])
        #expect(series.compactMap { $0["y"] as? [Double] } == [[2, 4, 6], [0.25, 0.5, 0.75]])
        // The staging run that took train's outputs from the pin points at dev's run.
        let stagingRun = try #require(staging.lastRun)
        let record = try #require(try HistoryReader(repository: h.repository, commit: try h.scratch.head).run(stagingRun, environments: ["staging"]))
        #expect(record.stages["train"]?.status == .pinned)
        #expect(record.stages["train"]?.plotsRun == devRun)
    }

    @Test(arguments: [
        (["plots"], "missing argument <action>"),
        (["plots", "draw"], "'draw' is not something plots does: `plumb plots show [RUN]` or `plumb plots diff A B`"),
        (["plots", "shw"], "did you mean 'show'?"),
        (["plots", "show", "a", "b"], "takes one run"),
        (["plots", "show", "nosuchrun"], "no environment or run"),
        (["plots", "diff", "latest", "../etc"], "no environment or run"),
    ])
    func whatCannotBeDrawnIsAUsageError(_ arguments: [String], _ message: String) throws {
        let h = try Self.harness()
        try h.reconcile()
        let result = try runProcess(plumbExecutable(), arguments, in: h.root)
        #expect(result.status == 64, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.root + "/.plumb/plots"), "nothing is written")
    }

    @Test func aPlotFileThatCannotBeReadIsAWarningAndTheStageSucceeds() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          train:
            cmd: >-
              mkdir -p build logs &&
              printf 'step,loss\\n0,1\\n1\\n' > build/ragged.csv &&
              printf '[{"a": 1},' > logs/cut.json &&
              ln -s /etc/passwd logs/passwd.csv &&
              printf 'step,loss\\n0,1\\n' > build/ok.csv
            outs: [logs]
            plots:
              - build/ragged.csv
              - logs/cut.json
              - logs/passwd.csv
              - logs/missing.tsv
              - build/ok.csv: {y: [loss, acc]}
        """)
        let log = EventLog()
        let outcome = try Reconciler(project: try h.project(), observer: log).reconcile(ref: nil, environment: nil, jobs: 1)
        #expect(outcome.record?.status == .succeeded)
        let warnings = log.lines.filter { $0.hasPrefix("warning train ") }.map { String($0.dropFirst("warning train ".count)) }
        #expect(warnings == [
            "build/ragged.csv:3: plot not recorded: the file has 1 field on this line; the header has 2",
            "logs/cut.json:1: plot not recorded: the file is not JSON: ends where a value was expected",
            "logs/passwd.csv: plot not recorded: it is a symbolic link; a plot is a file the stage writes",
            "logs/missing.tsv: plot not recorded: the stage did not write it",
            "build/ok.csv has no column 'acc' of numbers (columns: step, loss)",
        ])
        let plots = try #require(outcome.record?.stages["train"]?.plots)
        #expect(plots.keys.sorted() == ["build/ok.csv"], "only what could be read, and never what a link points to")
    }
}
