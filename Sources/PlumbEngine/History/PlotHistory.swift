import Foundation
import PlumbCore
import PlumbGit

/// Finds the recorded numbers of plots in history/: what `plumb plots` and the report draw.
///
/// A run records a stage's plots when the stage ran in it; a run that kept or took the stage's
/// outputs names the run that recorded them (`StageOutcome.plotsRun`), so the numbers are
/// committed once. Everything comes from run records at one commit: no cache, no workspace.
package struct PlotHistory {
    package let repository: Repository
    package let commit: ObjectID
    /// The spec at `commit`: which plots are declared, and how they are drawn.
    package let spec: Spec

    package init(repository: Repository, commit: ObjectID, spec: Spec) {
        self.repository = repository; self.commit = commit; self.spec = spec
    }

    /// One plot file's numbers as a run recorded them.
    package struct Recorded: Sendable {
        package var stage: String
        /// The declaration at `commit` (its path alone when the spec no longer declares it).
        package var plot: Plot
        /// The run whose record holds the numbers.
        package var run: String?
        package var data: PlotData?
        /// Why there are no numbers, when there are none.
        package var missing: String?

        /// The chart the numbers draw, `source` naming them in its legend; an empty chart with the reason when there are none.
        package func chart(source: String? = nil) -> PlotChart {
            guard let data else {
                return PlotChart(path: plot.path, stage: stage, title: plot.title ?? plot.path, x: plot.x ?? PlotData.rowAxis,
                                 series: [], problems: [missing ?? "no numbers are recorded for \(plot.path)"])
            }
            return data.chart(for: plot, stage: stage, source: source)
        }
    }

    /// The plots `environment` has now: each declared plot, from the run that produced its
    /// stage's outputs as the recorded state names it.
    package func plots(of environment: String) throws -> [Recorded] {
        let path = RecordedState.path(for: environment)
        let state = try repository.file(at: path, in: commit).map { try RecordedState.decode($0, path: path) }
        var records = RecordCache(history: self, environment: environment)
        var out: [Recorded] = []
        for stage in spec.pipeline.stages {
            for plot in stage.plots {
                var recorded = Recorded(stage: stage.name, plot: plot)
                if let run = state?.stages[stage.name]?.run {
                    try records.resolve(&recorded, run: run)
                } else {
                    recorded.missing = "\(stage.name) has no recorded run in \(environment)"
                }
                out.append(recorded)
            }
        }
        return out
    }

    /// The plots a run recorded, and those of the stages it kept or took outputs for, as they
    /// were after it; drawn as the spec at `commit` declares them.
    package func plots(of record: RunRecord) throws -> [Recorded] {
        var records = RecordCache(history: self, environment: record.environment)
        records.known[record.run] = record
        let declared = spec.pipeline.stagesByName
        // Stages in the pipeline's order, others after by name.
        let position = Dictionary(spec.pipeline.stages.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [Recorded] = []
        for name in record.stages.keys.sorted(by: { (position[$0] ?? Int.max, $0) < (position[$1] ?? Int.max, $1) }) {
            let outcome = record.stages[name]!
            let options = Dictionary((declared[name]?.plots ?? []).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            var paths = Set(outcome.plots?.keys.map { $0 } ?? [])
            if outcome.plotsRun != nil { paths.formUnion(options.keys) }
            // Declared order first, then what only the record has.
            let ordered = (declared[name]?.plots.map(\.path) ?? []).filter(paths.contains) + paths.subtracting(options.keys).sorted()
            for path in ordered {
                var recorded = Recorded(stage: name, plot: options[path] ?? Plot(path: path))
                try records.resolve(&recorded, run: record.run)
                out.append(recorded)
            }
        }
        return out
    }

    /// Run records read once each, looked up in the environment first, then in every other (a
    /// pinned stage's numbers are in the run of the environment it was promoted from).
    private struct RecordCache {
        let history: PlotHistory
        let environment: String
        var known: [String: RunRecord] = [:]

        mutating func record(_ run: String) throws -> RunRecord? {
            if let record = known[run] { return record }
            let others = history.spec.environments.keys.sorted().filter { $0 != environment }
            for env in [environment] + others {
                if let record = try RunRecord.read(run, environment: env, at: history.commit, in: history.repository) {
                    known[run] = record
                    return record
                }
            }
            return nil
        }

        /// Fills in the numbers of `recorded` from `run`, following its `plotsRun` once.
        mutating func resolve(_ recorded: inout Recorded, run: String) throws {
            var run = run
            for _ in 0..<2 {
                guard let record = try record(run) else {
                    recorded.missing = "run \(run), which recorded \(recorded.stage)'s plots, is not in history/ at \(history.commit.short)"
                    return
                }
                guard let outcome = record.stages[recorded.stage] else {
                    recorded.missing = "run \(run) has no record of \(recorded.stage)"
                    return
                }
                if let data = outcome.plots?[recorded.plot.path] {
                    recorded.run = run
                    recorded.data = data
                    return
                }
                guard let next = outcome.plotsRun, next != run else { break }
                run = next
            }
            recorded.missing = "run \(run) recorded no numbers for \(recorded.plot.path) (it was not declared then, or its file could not be read: the run warned why)"
        }
    }
}

extension PlotHistory {
    /// What `plumb plots` is given, at HEAD: an environment's name (the plots it has now) or a run
    /// by any name `RunReference` takes (with `environment`, that environment's runs only). The
    /// label names it in a chart's legend.
    package static func resolve(_ text: String, project: Project, environment: String?) throws -> (label: String, plots: [Recorded]) {
        let head = try Snapshot.read(project, ref: nil, environment: environment)
        let history = PlotHistory(repository: project.repository, commit: head.commit, spec: head.spec)
        if head.spec.environments[text] != nil { return (text, try history.plots(of: text)) }
        let resolver = try RunResolver(repository: project.repository, commit: head.commit, spec: head.spec, environment: environment)
        let names = head.spec.environments.keys.sorted()
        guard RunReference.isWellFormed(text), let found = try resolver.match(try RunReference(parsing: text)),
              let record = try RunRecord.read(found.run, environment: found.environment, at: head.commit, in: project.repository) else {
            throw PlumbError("'\(Escape.terminal(text))' is no environment or run at \(head.commit.short)",
                             hint: "environments: \(names.joined(separator: ", ")); runs: `plumb history`", kind: .usage)
        }
        return ("run \(RunID.suffix(of: record.run))", try history.plots(of: record))
    }
}
