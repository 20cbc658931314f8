import Foundation
import PlumbCore

/// The pipeline's graph as `plumb graph` shows it: every stage with its last status in one
/// environment, and the files that pass along each edge. A pure value built from the spec and
/// the environment's records, so the views render it and tests build it without git.
package struct PipelineGraph: Sendable, Hashable, Codable {
    /// Bumped when the JSON shape changes incompatibly.
    package static let schemaVersion = 1

    /// A stage's last status in the environment: what the last run did with it, else what the
    /// recorded state says, else that it never ran. Each has a glyph and a word, so that no view
    /// shows status by colour alone.
    package enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case succeeded, failed, blocked, restored, unchanged, pinned, interrupted
        case neverRun = "never-run"

        /// The word printed beside the glyph.
        package var label: String { self == .neverRun ? "never run" : rawValue }

        /// The glyph for views that can show Unicode (Mermaid, DOT, an interactive terminal).
        package var glyph: String {
            switch self {
            case .succeeded: "✔"
            case .failed: "✘"
            case .blocked: "■"
            case .restored: "↺"
            case .unchanged: "="
            case .pinned: "📌"
            case .interrupted: "!"
            case .neverRun: "○"
            }
        }

        /// The glyph in plain ASCII, for output that may not be a Unicode terminal.
        package var asciiGlyph: String {
            switch self {
            case .succeeded: "+"
            case .failed: "x"
            case .blocked: "#"
            case .restored: "<"
            case .unchanged: "="
            case .pinned: "^"
            case .interrupted: "!"
            case .neverRun: "o"
            }
        }

        init(_ outcome: StageOutcome.Status) {
            switch outcome {
            case .succeeded: self = .succeeded
            case .failed: self = .failed
            case .blocked: self = .blocked
            case .restored: self = .restored
            case .unchanged: self = .unchanged
            case .pinned: self = .pinned
            case .interrupted: self = .interrupted
            }
        }
    }

    /// One stage: its status, the run that status comes from, and where its command last ran.
    package struct Stage: Sendable, Hashable, Codable {
        package var name: String
        package var status: Status
        package var run: String?
        /// Where its command ran in that run (`local`, `slurm`); nil when it did not run there.
        package var executor: String?
        /// Its topological layer: 0 for a stage that waits for nothing, else one more than the
        /// deepest stage it waits for. Not in the JSON (the edges say it).
        package var layer: Int

        enum CodingKeys: String, CodingKey { case name, status, run, executor }

        package init(name: String, status: Status, run: String? = nil, executor: String? = nil, layer: Int = 0) {
            self.name = name; self.status = status; self.run = run; self.executor = executor; self.layer = layer
        }

        package init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            status = try c.decode(Status.self, forKey: .status)
            run = try c.decodeIfPresent(String.self, forKey: .run)
            executor = try c.decodeIfPresent(String.self, forKey: .executor)
            layer = 0
        }
    }

    /// `to` waits for `from`; `files` are `to`'s deps that `from` writes (empty for an `after` edge).
    package struct Edge: Sendable, Hashable, Codable {
        package var from: String
        package var to: String
        package var files: [String]
        package init(from: String, to: String, files: [String]) { self.from = from; self.to = to; self.files = files }
    }

    package var schemaVersion: Int
    package var environment: String
    /// In execution order (topological, ties by name).
    package var stages: [Stage]
    /// Sorted by consumer in execution order, then producer by name.
    package var edges: [Edge]

    package init(environment: String, stages: [Stage], edges: [Edge]) {
        schemaVersion = Self.schemaVersion
        self.environment = environment; self.stages = stages; self.edges = edges
    }

    /// The graph of `pipeline` for `environment`, with statuses from its recorded state and last
    /// run record. A stage the environment takes from its pin (not in `runs:`) is pinned whatever
    /// the records say: its outputs are the pin's, not a run's here.
    package init(pipeline: Pipeline, environment: EnvironmentSpec, recorded: RecordedState?, lastRun: RunRecord?) {
        let graph = StageGraph(pipeline)
        let runsHere = environment.runs.map(Set.init)
        let byName = pipeline.stagesByName
        var layer: [String: Int] = [:]
        var stages: [Stage] = [], edges: [Edge] = []
        for name in graph.order {
            guard let stage = byName[name] else { continue }
            let ups = graph.upstream[name] ?? []
            // A stage on a cycle (an invalid spec) may come before what it waits for: it counts as 0.
            layer[name] = ups.map { (layer[$0] ?? 0) + 1 }.max() ?? 0
            var entry = Stage(name: name, status: .neverRun, layer: layer[name] ?? 0)
            if let runsHere, !runsHere.contains(name) {
                entry.status = .pinned
            } else if let lastRun, let outcome = lastRun.stages[name] {
                entry.status = Status(outcome.status)
                entry.run = lastRun.run
                // Records from local runs carry no placement: a stage that ran (it has an exit
                // code) ran on the executor its spec and environment choose, local by default.
                entry.executor = outcome.placement?.runner
                    ?? (outcome.exitCode == nil ? nil : (stage.executor ?? environment.executor ?? .local).rawValue)
            } else if let record = recorded?.stages[name] {
                entry.status = record.status == .succeeded ? .succeeded : .failed
                entry.run = record.run
            }
            stages.append(entry)
            for up in ups {
                edges.append(Edge(from: up, to: name, files: stage.deps.filter { graph.producer(of: $0)?.stage == up }))
            }
        }
        self.init(environment: environment.name, stages: stages, edges: edges)
    }

    /// The stages by layer, each layer in execution order.
    package var layers: [[Stage]] {
        var out: [[Stage]] = []
        for stage in stages {
            while out.count <= stage.layer { out.append([]) }
            out[stage.layer].append(stage)
        }
        return out.filter { !$0.isEmpty }
    }

    /// The edges into `stage`.
    package func incoming(_ stage: String) -> [Edge] { edges.filter { $0.to == stage } }

    /// Files for an edge label: all of them up to `limit`, else the first `limit - 1` and how
    /// many more (`a, b and 3 more`), so one wide dep folder cannot swamp the drawing.
    package static func listed(_ files: [String], limit: Int = 3) -> String {
        guard files.count > limit else { return files.joined(separator: ", ") }
        let shown = max(1, limit - 1)
        return files.prefix(shown).joined(separator: ", ") + " and \(files.count - shown) more"
    }
}
