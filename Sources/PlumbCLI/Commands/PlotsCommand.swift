import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb plots show [RUN]` and `plumb plots diff [A [B]]`: one SVG and one JSON file per plot.
struct PlotsCommand: PlumbCommand {
    package static let name = "plots"
    package static let abstract = "Draw the recorded plots as SVG, or two runs or environments on one chart."
    package static let discussion = """
    plumb plots show [RUN]      the plots of RUN, or of the environment (--env, default dev) when no RUN
                                is given: each plot file a stage declares (`plots:` in
                                spec/pipeline.yaml), as its last run recorded it
    plumb plots diff [A [B]]    each plot of A and of B on one chart, one line per side and column;
                                A and B are environment names or runs (RUN below); B defaults to
                                latest, A to latest~1

    Writes DIR/<plot>.svg (self-contained: title, axes, legend) and DIR/<plot>.json (the series
    drawn) for every plot, DIR being --out (default .plumb/plots), and prints the paths written;
    --json prints the charts and the paths as one JSON document instead. The numbers come from
    run records in history/ (a run keeps at most 1000 rows of each plot file, evenly spread);
    nothing is read from the cache or the workspace. x, y and title are the spec's at HEAD.

    \(RunHelp.discussion)
    """
    package static let arguments: [ArgumentSpec] = [
        ArgumentSpec.positional("action", help: "`show` or `diff`.").choosing(["show", "diff"]),
        .positional("a", optional: true, help: "show: the run (default: the environment's plots now); diff: the baseline (default: latest~1)."),
        .positional("b", optional: true, help: "With diff: what is compared with it (default: latest)."),
    ] + GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .option("--out", "-o", value: "DIR", help: "The folder to write the SVG and JSON files to (default .plumb/plots)."),
    ]

    enum Action: Sendable, Equatable {
        /// nil: the environment's plots now.
        case show(String?)
        case diff(String, String)
    }

    var global: GlobalOptions
    var action: Action
    var out: String?

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        out = parsed.option("--out")
        switch parsed.positional("action") {
        case "show":
            if let extra = parsed.positional("b") {
                throw UsageError("`plots show` takes one run, not also '\(extra)'", hint: "compare two with `plumb plots diff A B`", command: Self.name)
            }
            action = .show(parsed.positional("a"))
        case "diff":
            // As `metrics diff` and `git diff`: nothing named compares the last two runs.
            action = .diff(parsed.positional("a") ?? "latest~1", parsed.positional("b") ?? "latest")
        case let word:
            let hint = Suggest.closest(to: word ?? "", in: ["show", "diff"]).map { "did you mean '\($0)'?" }
            throw UsageError("'\(Escape.terminal(word ?? ""))' is not something plots does: `plumb plots show [RUN]` or `plumb plots diff A B`",
                             hint: hint, command: Self.name)
        }
    }

    /// What `--json` prints.
    struct Written: Encodable {
        var files: [String]
        var charts: [PlotChart]
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let charts: [PlotChart]
        switch action {
        case let .show(reference):
            let name = try reference ?? Snapshot.read(project, ref: nil, environment: global.env).environment.name
            let (label, plots) = try PlotHistory.resolve(name, project: project, environment: reference == nil ? nil : global.env)
            guard !plots.isEmpty else {
                terminal.print("\(label) has no plots: no stage declares `plots:` (or the run recorded none).")
                return PlumbCLI.ExitCode.ok
            }
            charts = plots.map { $0.chart() }
        case let .diff(a, b):
            let left = try PlotHistory.resolve(a, project: project, environment: global.env)
            let right = try PlotHistory.resolve(b, project: project, environment: global.env)
            charts = Self.compare(left, right)
            guard !charts.isEmpty else {
                terminal.print("Neither \(left.label) nor \(right.label) has plots.")
                return PlumbCLI.ExitCode.ok
            }
        }
        let folder = Self.folder(out, project: project)
        let files = try Self.write(charts, to: folder)
        if global.json {
            try terminal.printJSON(Written(files: files, charts: charts))
        } else {
            for file in files { terminal.print(file) }
            for chart in charts { for problem in chart.problems { terminal.error("warning: \(problem)") } }
        }
        return PlumbCLI.ExitCode.ok
    }

    /// One chart per plot path of either side, A's lines first; the title and stage from the side that has them.
    static func compare(_ a: (label: String, plots: [PlotHistory.Recorded]), _ b: (label: String, plots: [PlotHistory.Recorded])) -> [PlotChart] {
        var order: [String] = []
        var sides: [String: [(String, PlotHistory.Recorded)]] = [:]
        for (label, plots) in [a, b] {
            for plot in plots {
                if sides[plot.plot.path] == nil { order.append(plot.plot.path) }
                sides[plot.plot.path, default: []].append((label, plot))
            }
        }
        return order.map { path in
            let recorded = sides[path]!
            let drawn = recorded.map { $0.1.chart(source: $0.0) }
            var chart = drawn[0]
            chart.series = drawn.flatMap(\.series)
            chart.problems = zip(recorded, drawn).flatMap { side, drawn in drawn.problems.map { "\(side.0): \($0)" } }
            // The x axis is named once: when the sides differ, both are said.
            let axes = Array(Set(drawn.filter { !$0.series.isEmpty }.map(\.x))).sorted()
            if axes.count > 1 { chart.x = axes.joined(separator: " / ") }
            return chart
        }
    }

    /// `--out` as given (relative to the current folder), else `.plumb/plots` of the project.
    static func folder(_ out: String?, project: Project) -> String {
        let base = out ?? project.root + "/.plumb/plots"
        let absolute = base.hasPrefix("/") ? base : FileManager.default.currentDirectoryPath + "/" + base
        return URL(fileURLWithPath: absolute).standardizedFileURL.path
    }

    /// Writes `<stem>.svg` and `<stem>.json` per chart, atomically; returns the paths in that order.
    static func write(_ charts: [PlotChart], to folder: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw PlumbError("cannot create \(folder): \(PlumbError.readable(error))", hint: "pass --out with a folder you can write to")
        }
        var used = Set<String>()
        var files: [String] = []
        for chart in charts {
            var stem = chart.fileStem
            var n = 2
            while used.contains(stem) { stem = chart.fileStem + "-\(n)"; n += 1 }
            used.insert(stem)
            let svg = folder + "/" + stem + ".svg", json = folder + "/" + stem + ".json"
            do {
                try AtomicFile.write(Data((SVGPlot(chart).svg(standalone: true) + "\n").utf8), to: svg)
                try AtomicFile.write(try RecordJSON.encode(chart), to: json)
            } catch {
                throw PlumbError("cannot write the plot \(chart.path) to \(folder): \(PlumbError.readable(error))",
                                 hint: "pass --out with a folder you can write to")
            }
            files += [svg, json]
        }
        return files
    }
}
