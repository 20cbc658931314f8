import Foundation

/// Checks that need more than one stage or more than one file: who produces what, the graph,
/// params keys, and the references environments make to stages, metrics and each other.
///
/// Every check runs even when an earlier one failed, so a user fixes everything in one pass.
struct SpecValidator {
    let pipeline: DecodedPipeline?
    /// spec/params.yaml's value, nil when the file could not be decoded (params checks are skipped then).
    let params: JSONValue?
    let environments: [DecodedEnvironment]
    let source: SpecSource
    private(set) var diagnostics: [Diagnostic] = []

    init(pipeline: DecodedPipeline?, params: JSONValue?, environments: [DecodedEnvironment], source: SpecSource) {
        self.pipeline = pipeline; self.params = params; self.environments = environments; self.source = source
    }

    mutating func run() -> [Diagnostic] {
        if let pipeline {
            checkOutputs(pipeline.stages)
            checkDependencies(pipeline.stages)
            if let params { checkParams(pipeline.stages, params) }
        }
        checkEnvironments()
        return diagnostics
    }

    private mutating func error(_ at: SourceLocation?, _ message: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(.error, at: at, message, hint: hint))
    }

    /// Every output has one producer, and no output lies inside another's folder: otherwise
    /// which stage's bytes a path holds would depend on the order stages ran in.
    private mutating func checkOutputs(_ stages: [DecodedStage]) {
        var earlier: [(path: LocatedString, stage: String)] = []
        var index = OutputIndex()
        for stage in stages {
            for out in stage.storedOutputs {
                // Only the first earlier output in conflict is reported; the index finds the candidates
                // without comparing every pair (1,000 stages would mean a million comparisons).
                let first = index.related(to: out.value).first
                for (other, owner) in first.map({ [earlier[$0]] }) ?? [] {
                    let who = owner == stage.name.value ? "the same stage" : "stage '\(owner)'"
                    if other.value == out.value {
                        error(out.location, "stage '\(stage.name.value)' writes '\(out.value)', which \(owner == stage.name.value ? "it already writes" : "stage '\(owner)' also writes")",
                              hint: "each output has one producer; the other is at line \(other.location.line)")
                    } else if PathRule.contains(other.value, out.value) {
                        error(out.location, "output '\(out.value)' of stage '\(stage.name.value)' lies inside '\(other.value)', an output of \(who)",
                              hint: "a folder output belongs wholly to one stage")
                    } else if PathRule.contains(out.value, other.value) {
                        error(out.location, "output '\(out.value)' of stage '\(stage.name.value)' contains '\(other.value)', an output of \(who)",
                              hint: "a folder output belongs wholly to one stage")
                    } else {
                        continue
                    }
                    break
                }
                index.insert(out.value, earlier.count)
                earlier.append((out, stage.name.value))
            }
        }
    }

    /// Builds the graph from paths and `after`, reports deps nobody provides, and cycles.
    private mutating func checkDependencies(_ stages: [DecodedStage]) {
        let names = stages.map(\.name.value)
        let graph = StageGraph(stages.map {
            StageGraph.Node(name: $0.name.value, deps: $0.deps.map(\.value), after: $0.after.map(\.value),
                            outputs: $0.storedOutputs.map(\.value))
        })
        let outputs: [(path: String, stage: String)] = stages.flatMap { s in s.storedOutputs.map { ($0.value, s.name.value) } }
        for problem in graph.problems {
            switch problem {
            case let .readsOwnOutput(i, k):
                let dep = stages[i].deps[k]
                error(dep.location, "stage '\(names[i])' depends on '\(dep.value)', which it writes itself",
                      hint: "a stage cannot read its own output; name what it reads more precisely")
            case let .unproduced(i, k):
                checkProvided(stages[i].deps[k], stage: names[i], outputs: outputs)
            case let .unknownAfter(i, k):
                let after = stages[i].after[k]
                let hint = Suggest.closest(to: after.value, in: names).map { "did you mean '\($0)'?" }
                error(after.location, "stage '\(names[i])' runs after '\(after.value)', which is not a stage", hint: hint ?? "stages: \(names.joined(separator: ", "))")
            case let .afterItself(i, k):
                error(stages[i].after[k].location, "stage '\(names[i])' runs after itself")
            }
        }
        for cycle in graph.cycles {
            // Printed in the direction data flows: producer → consumer → … → producer.
            let path = (cycle + [cycle[0]]).map { names[$0] }.joined(separator: " → ")
            error(stages[cycle[0]].name.location, "stages form a cycle: \(path)",
                  hint: "each arrow is a dep on the next stage's output or an 'after'; remove one to break the cycle")
        }
    }

    /// A dep no stage produces must be in git or on this machine, or the run could not start.
    private mutating func checkProvided(_ dep: LocatedString, stage: String, outputs: [(path: String, stage: String)]) {
        let path = dep.value
        if path.hasPrefix("/") {
            let kind = source.diskKind(path)
            if kind == .missing {
                error(dep.location, "stage '\(stage)' depends on '\(path)', which does not exist on this machine",
                      hint: "data outside the repository must exist where Plumb runs")
            } else if let refusal = kind.refusal {
                // Checked before anything reads it: a FIFO would block planning, a /proc file never end.
                error(dep.location, "stage '\(stage)' depends on '\(path)', which \(refusal)",
                      hint: "copy the data into a regular file and depend on that")
            }
            return
        }
        if source.isTracked(path) || source.existsOnDisk(path) { return }
        let folder = path.split(separator: "/").dropLast().joined(separator: "/")
        let neighbours = outputs.filter { $0.path.split(separator: "/").dropLast().joined(separator: "/") == folder && !folder.isEmpty }
        let hint = Suggest.closest(to: path, in: outputs.map(\.path)).map { best in
            "did you mean '\(best)' (an output of '\(outputs.first { $0.path == best }?.stage ?? "?")')?"
        } ?? (neighbours.isEmpty ? nil : "outputs in \(folder)/: " + neighbours.prefix(5).map { "'\($0.path)' (of '\($0.stage)')" }.joined(separator: ", "))
            ?? "add it to a stage's outs, commit it, or put the data at that path"
        error(dep.location, "stage '\(stage)' depends on '\(path)', which no stage produces and git does not track", hint: hint)
    }

    /// A stage's `params` entries must exist in spec/params.yaml; a typo would otherwise
    /// silently leave the stage without the values it reads.
    private mutating func checkParams(_ stages: [DecodedStage], _ params: JSONValue) {
        let known = ParamsDecoder.keyPaths(params)
        for stage in stages {
            // Entries that are not key paths at all were reported by the decoder.
            // Keys of other files are checked where those files are read (SpecLoader.paramFiles).
            for key in stage.params where ParamReference(key.value).file == nil && ParamReference(key.value).problem == nil
                && params.value(at: key.value) == nil {
                let hint = Suggest.closest(to: key.value, in: known).map { "did you mean '\($0)'?" }
                    ?? (known.isEmpty ? "spec/params.yaml declares no params" : "add it to spec/params.yaml")
                error(key.location, "stage '\(stage.name.value)' reads param '\(key.value)', which spec/params.yaml does not declare", hint: hint)
            }
        }
    }

    private mutating func checkEnvironments() {
        let envNames = environments.map(\.environment.name)
        let stageNames = pipeline?.stages.map(\.name.value) ?? []
        let metricStages = Set(pipeline?.stages.filter { !$0.metrics.isEmpty }.map(\.name.value) ?? [])
        let byName = Dictionary(environments.map { ($0.environment.name, $0) }, uniquingKeysWith: { a, _ in a })
        for env in environments {
            let context = "environment '\(env.environment.name)'"
            if let from = env.from, from.value != env.environment.name {
                if byName[from.value] == nil {
                    let hint = Suggest.closest(to: from.value, in: envNames).map { "did you mean '\($0)'?" }
                        ?? (envNames.count > 1 ? "environments: \(envNames.joined(separator: ", "))" : "create \(SpecPaths.environment(from.value))")
                    error(from.location, "\(context) promotes from '\(from.value)', which is not an environment", hint: hint)
                } else if let loop = promotionLoop(from: env.environment.name, byName) {
                    error(from.location, "environments promote in a circle: \(loop)", hint: "promotions flow one way, e.g. dev → staging → prod")
                }
            }
            if pipeline != nil {
                for run in env.runs ?? [] where !stageNames.contains(run.value) {
                    let hint = Suggest.closest(to: run.value, in: stageNames).map { "did you mean '\($0)'?" }
                    error(run.location, "\(context) runs '\(run.value)', which is not a stage", hint: hint ?? "stages: \(stageNames.joined(separator: ", "))")
                }
                for scoped in env.scopedStages where !stageNames.contains(scoped.value) {
                    let hint = Suggest.closest(to: scoped.value, in: stageNames).map { "did you mean '\($0)'?" }
                    error(scoped.location, "\(context) sets variables for '\(scoped.value)', which is not a stage", hint: hint ?? "stages: \(stageNames.joined(separator: ", "))")
                }
                for scheduled in env.scheduledStages where !stageNames.contains(scheduled.value) {
                    let hint = Suggest.closest(to: scheduled.value, in: stageNames).map { "did you mean '\($0)'?" }
                    error(scheduled.location, "the schedule of \(context) reruns '\(scheduled.value)', which is not a stage", hint: hint ?? "stages: \(stageNames.joined(separator: ", "))")
                }
                for metric in env.gateMetrics {
                    let stage = String(metric.value.prefix { $0 != "." })
                    if !stageNames.contains(stage) {
                        let hint = Suggest.closest(to: stage, in: stageNames).map { "did you mean '\($0)'?" }
                        error(metric.location, "gate metric '\(metric.value)' in \(context) names '\(stage)', which is not a stage", hint: hint)
                    } else if !metricStages.contains(stage) {
                        let hint = metricStages.isEmpty ? "declare a metrics file in the stage: metrics: [build/metrics.json]"
                            : "stages with metrics: \(metricStages.sorted().joined(separator: ", "))"
                        error(metric.location, "gate metric '\(metric.value)' in \(context): stage '\(stage)' declares no metrics", hint: hint)
                    }
                }
            }
            if let params, let node = env.paramsNode { checkOverrides(node, base: params, prefix: "", context: context) }
        }
    }

    /// Overrides may only replace keys spec/params.yaml has: a misspelt key in prod's
    /// overrides would otherwise be ignored while everyone believes it applies.
    private mutating func checkOverrides(_ node: YAMLNode, base: JSONValue, prefix: String, context: String) {
        guard case let .mapping(pairs) = node.kind, case let .object(object) = base else { return }
        for pair in pairs {
            guard case let .scalar(key, _) = pair.key.kind else { continue }
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            guard let value = object[key] else {
                let siblings = object.keys.map { prefix.isEmpty ? $0 : "\(prefix).\($0)" }
                let hint = Suggest.closest(to: path, in: siblings).map { "did you mean '\($0)'?" } ?? "overrides replace keys that spec/params.yaml declares"
                error(pair.key.location, "\(context) overrides param '\(path)', which spec/params.yaml does not declare", hint: hint)
                continue
            }
            checkOverrides(pair.value, base: value, prefix: path, context: context)
        }
    }

    /// "dev → staging → dev" when following `from` from `start` comes back to it.
    private func promotionLoop(from start: String, _ byName: [String: DecodedEnvironment]) -> String? {
        var chain = [start], current = start
        while let next = byName[current]?.from?.value, byName[next] != nil {
            if next == start { return (chain.reversed() + [chain.last ?? start]).joined(separator: " → ") }
            if chain.contains(next) || next == current { return nil }
            chain.append(next); current = next
        }
        return nil
    }
}
