import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

extension HTMLReport {
    /// Everything the page shows, read once from the commit at HEAD: every number comes from
    /// history/ and environments/ (run records, recorded states, pins, the commits that promoted
    /// or rolled back), logs from the content store, the pending plan from the planner.
    struct Input {
        /// The repository's folder name, for the title.
        var project: String
        var environment: String
        var commit: ObjectID
        var branch: String?
        var graph: PipelineGraph
        /// Each stage's latest run in the environment: the run that last ran or restored it (the
        /// recorded state names it), else its entry in the last run record.
        var lastRuns: [String: StageRun]
        var environments: [EnvironmentStatus]
        /// What the last run of each environment recorded about drift: stages run again because their check failed.
        var recordedDrift: [String: [String]]
        /// Per environment, oldest first.
        var runs: [String: [RunRecord]]
        /// Promotions into and rollbacks of each environment, oldest first, with the runs recorded before each.
        var marks: [String: [(mark: SVGChart.Mark, runsBefore: Set<String>)]]
        /// The environment's plots, as the runs that produced its stages' outputs recorded them.
        var plots: [PlotChart]
        var plan: Plan
    }

    /// One stage in one run, with its log as the store has it (redacted when it was written).
    struct StageRun {
        var run: String
        var outcome: StageOutcome
        /// Nil when the log is not in this machine's cache (the record's tail is shown then).
        var log: String?
    }

    /// The most of one log the page holds: the end of a longer log, where errors are.
    static let logLimit = 64 * 1024

    /// Reads the page's input for `environment` (nil: the default one).
    static func gather(project: Project, environment: String?) throws -> Input {
        let (snapshot, plan) = try Reconciler(project: project).plan(ref: nil, environment: environment)
        let env = snapshot.environment.name
        let repository = project.repository
        let history = HistoryReader(repository: repository, commit: snapshot.commit)
        let names = StatusReader.order(snapshot.spec.environments)
        // Oldest first as the branch recorded them: run records' clocks tie within a second, commits do not.
        let entries = try history.entries(environments: names, limit: Int.max).reversed()
        var runs: [String: [RunRecord]] = [:]
        for name in names {
            let records = Dictionary(try history.runs(of: name).map { ($0.run, $0) }, uniquingKeysWith: { a, _ in a })
            let ordered = entries.filter { $0.kind == .run && $0.environment == name }.compactMap { records[$0.run] }
            runs[name] = ordered
        }
        let lastRun = snapshot.recorded?.lastRun.flatMap { id in runs[env]?.last { $0.run == id } }
        let graph = PipelineGraph(pipeline: snapshot.spec.pipeline, environment: snapshot.environment,
                                  recorded: snapshot.recorded, lastRun: lastRun)
        let byID = Dictionary((runs[env] ?? []).map { ($0.run, $0) }, uniquingKeysWith: { a, _ in a })
        var lastRuns: [String: StageRun] = [:]
        for stage in graph.stages {
            let ranIn = snapshot.recorded?.stages[stage.name].flatMap { byID[$0.run] }
            guard let record = [ranIn, lastRun].compactMap({ $0 }).first(where: { $0.stages[stage.name] != nil }),
                  let outcome = record.stages[stage.name] else { continue }
            var log: String?
            if let digest = outcome.log, project.store.contains(digest), let data = try? project.store.data(digest) {
                let redactor = LogsCommand.redactor(for: stage.name, in: record, project: project)
                log = redactor.redact(String(decoding: data.suffix(logLimit), as: UTF8.self))
                if data.count > logLimit { log = "[… \(data.count - logLimit) earlier bytes: plumb logs \(record.run) \(stage.name)]\n" + (log ?? "") }
            }
            lastRuns[stage.name] = StageRun(run: record.run, outcome: outcome, log: log)
        }
        // Marks per metric chart: `after` counts the runs before the mark that recorded that metric.
        var marks: [String: [(mark: SVGChart.Mark, runsBefore: Set<String>)]] = [:]
        var seen: [String: Set<String>] = [:]
        for entry in entries {
            if entry.kind == .run { seen[entry.environment, default: []].insert(entry.run); continue }
            marks[entry.environment, default: []].append(
                (SVGChart.Mark(kind: entry.kind == .promotion ? .promotion : .rollback, run: entry.run, after: 0), seen[entry.environment] ?? []))
        }
        var drift: [String: [String]] = [:]
        for name in names {
            guard let last = runs[name]?.last else { continue }
            drift[name] = last.stages.keys.sorted().filter { stage in
                last.stages[stage]!.reasons.contains { $0.hasPrefix("drifted") }
            }
        }
        let statuses = try StatusReader(project: project).statuses(checkDrift: false)
        let plots = try PlotHistory(repository: repository, commit: snapshot.commit, spec: snapshot.spec).plots(of: env).map { $0.chart() }
        return Input(project: URL(fileURLWithPath: project.root).lastPathComponent, environment: env,
                     commit: snapshot.commit, branch: snapshot.branch, graph: graph, lastRuns: lastRuns,
                     environments: statuses, recordedDrift: drift, runs: runs, marks: marks, plots: plots, plan: plan)
    }
}
