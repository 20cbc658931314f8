import Foundation

/// A fingerprint that ran before, as the local cache remembers it.
package struct CachedOutcome: Sendable, Hashable, Codable {
    package var outputs: [String: Digest]
    package var metrics: [String: Double]
    package var run: String
    package init(outputs: [String: Digest], metrics: [String: Double], run: String) {
        self.outputs = outputs; self.metrics = metrics; self.run = run
    }
}

/// What the planner may ask of the cache: read-only questions, answered from memory in tests.
package struct CacheView: Sendable {
    /// Whether an object is present.
    package var contains: @Sendable (Digest) -> Bool
    /// The outputs an earlier run of this fingerprint produced, if they are all still present.
    package var outcome: @Sendable (Digest) -> CachedOutcome?

    package init(contains: @escaping @Sendable (Digest) -> Bool, outcome: @escaping @Sendable (Digest) -> CachedOutcome?) {
        self.contains = contains
        self.outcome = outcome
    }

    /// A cache that holds nothing.
    package static let empty = CacheView(contains: { _ in false }, outcome: { _ in nil })
}

/// Everything the planner decides from. Gathered by one read of git and disk; nothing else is consulted.
package struct PlanningInput: Sendable {
    package var spec: Spec
    package var environment: EnvironmentSpec
    package var commit: ObjectID
    package var branch: String?
    package var recorded: RecordedState?
    package var pin: Pin?
    /// The identity of every dep that no stage produces: `git:<id>` or `sha256:<hex>`.
    package var sourceDigests: [String: String]
    /// Deps git tracks as Git LFS pointers (identified `sha256:<oid>`): content from the commit, not untracked data.
    package var lfsDeps: Set<String> = []
    package var uncommittedEdits: [String]
    /// Stages to run whatever their state.
    package var forced: Set<String>
    /// Stages whose drift probe failed, with what it printed: they run again (self-heal).
    /// Empty unless the caller ran the probes (`reconcile`, `plan --refresh`).
    package var drifted: [String: String] = [:]
    /// Stages to act on, with what they need; nil: every stage.
    package var targets: Set<String>?
    /// With `targets`: also every stage that depends on one.
    package var downstream = false
    /// The time `stale_after` is measured against: the planner reads no clock.
    package var now = Date()

    package init(spec: Spec, environment: EnvironmentSpec, commit: ObjectID, branch: String? = nil, recorded: RecordedState?,
                pin: Pin? = nil, sourceDigests: [String: String], uncommittedEdits: [String] = [], forced: Set<String> = []) {
        self.spec = spec; self.environment = environment; self.commit = commit; self.branch = branch
        self.recorded = recorded; self.pin = pin; self.sourceDigests = sourceDigests
        self.uncommittedEdits = uncommittedEdits; self.forced = forced
    }
}

/// The pure planner: (spec, environment, recorded state, digests) → Plan. No I/O.
package enum Planner {
    /// The plan for `input`; `cache` answers only whether outputs are present, for restores.
    package static func plan(_ input: PlanningInput, cache: CacheView) -> Plan {
        decidedPlan(input, cache: cache).plan
    }

    /// The plan, and the decision behind each planned stage by name, for callers that must act on
    /// why a stage runs (the decision is not part of the plan's JSON, whose reasons are for display).
    package static func decidedPlan(_ input: PlanningInput, cache: CacheView) -> (plan: Plan, decisions: [String: StageDecision]) {
        var errors: [Diagnostic] = []
        let pipeline = input.spec.pipeline
        let byName = pipeline.stagesByName
        let graph = StageGraph(pipeline)
        if let cycle = graph.cycle {
            errors.append(Diagnostic(at: byName[cycle[0]]?.location, "dependency cycle: \(cycle.joined(separator: " → "))",
                                     hint: "each arrow is a dep on the next stage's output or an 'after'; remove one to break the cycle"))
        }
        let effectiveParams = input.spec.params.merging(input.environment.params)
        let runsHere = input.environment.runs.map(Set.init)
        let selected = input.targets.map { graph.selection(targets: $0, downstream: input.downstream) }

        // Output digests known at planning time, by producing stage and path.
        var knownOutputs: [String: [String: Digest]] = [:]
        var planned: [PlannedStage] = []
        var decisions: [String: StageDecision] = [:]

        for name in graph.order {
            guard let stage = byName[name], selected?.contains(name) ?? true else { continue }
            let record = input.recorded?.stages[name]

            var params: [String: JSONValue] = [:]
            var document = JSONValue.object([:])
            for key in stage.params.sorted() {
                // Another file's key sits under the file's path in PLUMB_PARAMS; the stage may
                // also read the file itself, which is in the workspace as committed.
                let reference = ParamReference(key)
                let source = reference.file.map { input.spec.paramFiles[$0] ?? .object([:]) } ?? effectiveParams
                guard let value = source.value(at: reference.key) else {
                    errors.append(Diagnostic(at: stage.location, "stage '\(name)' uses param '\(reference.key)', which \(reference.file ?? "spec/params.yaml") does not define"))
                    continue
                }
                params[key] = value
                let entry = nested(reference.key, value)
                document = document.merging(reference.file.map { .object([$0: entry]) } ?? entry)
            }
            let env = stage.variables(in: input.environment)
            // `${…}` of params in the command take this environment's overrides (StageExpansion).
            var command = stage.cmd
            switch stage.command(params: effectiveParams) {
            case let .success(rendered): command = rendered
            case let .failure(problem):
                errors.append(Diagnostic(at: stage.location, "stage '\(name)' puts '${\(problem.reference)}' into its command, which \(problem.problem) (environment '\(input.environment.name)')",
                                         hint: "an environment's params override must keep the type of the value it replaces"))
            }

            // Each dep's source, and its identity where known now.
            var deps: [String: DepSource] = [:]
            var known: [String: String] = [:]
            var external: [String] = []
            var unknownUpstream: Set<String> = []
            // A stage this environment takes from its pin never runs here: its deps are not read.
            let pinnedHere = runsHere.map { !$0.contains(name) } ?? false
            for dep in Self.expandingFolders(stage.deps, graph: graph, tracked: input.sourceDigests) where !pinnedHere {
                if let (producer, output) = graph.producer(of: dep) {
                    if let digest = knownOutputs[producer]?[output] {
                        let id = ContentID.produced(dep, output: output, digest: digest)
                        deps[dep] = .known(id)
                        known[dep] = id
                    } else {
                        deps[dep] = .output(stage: producer, path: dep)
                        unknownUpstream.insert(producer)
                    }
                } else if let id = input.sourceDigests[dep] {
                    deps[dep] = .known(id)
                    known[dep] = id
                    if id.hasPrefix("sha256:") && !dep.hasPrefix("/") && !input.lfsDeps.contains(dep) { external.append(dep) }
                } else {
                    errors.append(Diagnostic(at: stage.location, "stage '\(name)' depends on '\(dep)', which no stage produces, git does not track, and is not on disk"))
                }
            }
            var upstream = Set(graph.upstream[name] ?? [])
            upstream.formUnion(unknownUpstream)

            let executor = stage.executor ?? input.environment.executor ?? .local
            let resources = (stage.resources ?? StageResources()).over(input.environment.resources)
            let asked = resources == StageResources() ? nil : resources
            let inputs = FingerprintInputs(command: command, env: env, params: params, inputs: known,
                                           hardware: resources.fingerprintPart)
            let fingerprint = unknownUpstream.isEmpty ? inputs.fingerprint : nil

            var item = PlannedStage(
                name: name, action: .run, reasons: [], fingerprint: fingerprint, recordedFingerprint: record?.fingerprint,
                command: command, env: env, secrets: stage.secrets(in: input.environment),
                params: params, paramsDocument: document, deps: deps, externalDeps: external.sorted(),
                outputs: stage.outs + stage.plotOutputs, metricsFiles: stage.metrics, plots: stage.plots.isEmpty ? nil : stage.plots,
                cachedOutputs: [:], cachedMetrics: [:], cachedRun: nil,
                upstream: upstream.sorted(), timeout: stage.timeout, retries: stage.retries,
                executor: executor == .local ? nil : executor, resources: asked)

            if !stage.persistentOutputs.isEmpty, let record, record.status == .succeeded {
                item.persisted = record.outputs.filter { stage.persistentOutputs.contains($0.key) }
            }
            if !stage.uncachedOutputs.isEmpty { item.uncached = stage.uncachedOutputs }
            let decision = decide(stage, record: record, inputs: inputs, fingerprint: fingerprint,
                                  unknownUpstream: unknownUpstream, planning: input, cache: cache)
            decisions[name] = decision
            item.action = decision.action
            item.reasons = decision.reasons
            if let taken = decision.takenOutputs {
                item.cachedOutputs = taken.outputs
                item.cachedMetrics = taken.metrics
                item.cachedRun = taken.run
                knownOutputs[name] = taken.outputs
            }
            switch decision {
            case .unpinned:
                let source = input.environment.from ?? "the source environment"
                errors.append(Diagnostic(at: input.environment.location, "environment '\(input.environment.name)' takes '\(name)' from a promotion, but no promotion pins it; run `plumb promote \(source) \(input.environment.name)`"))
            case let .frozen(record, _):
                // It waits for nothing and is recorded as it was.
                item.fingerprint = record.fingerprint
                item.upstream = []
            case let .frozenWithoutOutputs(missing):
                let why: String
                switch record {
                case nil: why = "it never ran in environment '\(input.environment.name)'"
                case let record? where record.status != .succeeded: why = "its last run \(record.run) failed"
                default: why = "its recorded outputs \(missing.joined(separator: ", ")) are in no cache"
                }
                errors.append(Diagnostic(at: stage.location, "stage '\(name)' is frozen, but \(why), so there is nothing to keep",
                                         hint: "run it once with `plumb reconcile --force \(name)`, or drop 'frozen: true'"))
            case let .pinned(pinned, pin, _):
                item.fingerprint = pinned.fingerprint
                item.upstream = []
                for (path, digest) in pinned.outputs.sorted(by: { $0.key < $1.key }) where !cache.contains(digest) {
                    errors.append(Diagnostic(at: input.environment.location, "pinned artifact \(path) (\(digest.short)) from \(pin.source) run \(pin.run) is neither in the local cache nor in a shared store; reconcile '\(pin.source)' at commit \(pin.commit.short) on this machine first, or name the shared store it was uploaded to (cache.url in spec/pipeline.yaml, or PLUMB_CACHE_URL; docs/store.md)"))
                }
            default:
                break
            }
            planned.append(item)
        }

        let declared = Set(pipeline.stages.map(\.name))
        let dropped = (input.recorded?.stages.keys.filter { !declared.contains($0) } ?? []).sorted()
        let pinReference = input.pin.map { PinReference(source: $0.source, commit: $0.commit, run: $0.run) }
        var plan = Plan(environment: input.environment.name, commit: input.commit, branch: input.branch, stages: planned,
                    dropped: dropped, uncommittedEdits: input.uncommittedEdits, pin: pinReference, diagnostics: errors)
        if let selected { plan.untargeted = graph.order.filter { !selected.contains($0) } }
        if input.environment.params != .object([:]) { plan.effectiveParams = effectiveParams }
        return (plan, decisions)
    }

    /// `deps` with each folder that holds other stages' outputs, and is no output itself, standing
    /// for those outputs (as DVC connects a dep to every output inside it): the stage waits for
    /// each, stages each in its workspace, and its fingerprint covers each. A folder git also
    /// tracks (or that is on disk) stays a dep of its own besides, for its other files.
    static func expandingFolders(_ deps: [String], graph: StageGraph, tracked: [String: String]) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        for dep in deps {
            let inner = graph.producer(of: dep) == nil ? graph.outputs(inside: dep).map(\.output) : []
            if inner.isEmpty || tracked[dep] != nil { if seen.insert(dep).inserted { out.append(dep) } }
            for output in inner where seen.insert(output).inserted { out.append(output) }
        }
        return out
    }

    /// The decision for one stage, from its record and its inputs now. `fingerprint` is nil while
    /// `unknownUpstream` (stages whose outputs are known only once they finish) is not empty.
    static func decide(_ stage: Stage, record: StageRecord?, inputs: FingerprintInputs, fingerprint: Digest?,
                       unknownUpstream: Set<String>, planning input: PlanningInput, cache: CacheView) -> StageDecision {
        if let runsHere = input.environment.runs, !runsHere.contains(stage.name) {
            guard let pin = input.pin, let pinned = pin.stages[stage.name] else { return .unpinned }
            return .pinned(pinned, pin: pin, recorded: record?.fingerprint)
        }
        let changes = record.map { differences(record: $0, now: inputs) } ?? []
        if input.forced.contains(stage.name) { return .forced(changes: changes) }
        if let detail = input.drifted[stage.name] { return .drifted(detail, changes: changes) }
        if stage.frozen {
            guard let record, record.status == .succeeded else { return .frozenWithoutOutputs(missing: stage.allOutputs) }
            let missing = stage.allOutputs.filter { path in record.outputs[path].map { !cache.contains($0) } ?? true }
            return missing.isEmpty ? .frozen(record, changes: changes) : .frozenWithoutOutputs(missing: missing)
        }
        if stage.alwaysRun, record != nil { return .triggered(PlanReason(.alwaysRun), changes: changes) }
        if let limit = stage.staleAfter, let record, let ran = RunID.date(of: record.run), input.now.timeIntervalSince(ran) > limit {
            return .triggered(PlanReason(.stale, record.run, old: formatDuration(input.now.timeIntervalSince(ran)), new: formatDuration(limit)),
                              changes: changes)
        }
        if !input.environment.schedules.isEmpty, let record, let ran = RunID.date(of: record.run) {
            for schedule in input.environment.schedules where schedule.stages?.contains(stage.name) ?? true {
                guard let tick = schedule.missedTick(lastRan: ran, now: input.now) else { continue }
                return .triggered(PlanReason(.scheduled, schedule.cron.expression, old: record.run, new: Schedule.describe(tick, in: schedule.zone)),
                                  changes: changes)
            }
        }
        // A stage with a drift `check` deploys: its effect lives outside the workspace, so
        // outputs from the cache would not reproduce it. It runs again instead (a rollback
        // or a promotion back to an earlier model must really redeploy it).
        // Nor would a stage that resumes from its persistent outputs: its result depends on them,
        // and they are not in the fingerprint (as DVC skips its run cache for `persist`).
        let restorable = stage.check == nil && stage.persistentOutputs.isEmpty
        guard let record else {
            if restorable, let fingerprint, let outcome = cache.outcome(fingerprint) { return .newRestored(outcome) }
            return .new
        }
        // Only a successful record vouches for its outputs.
        let missing = record.status == .succeeded
            ? stage.allOutputs.filter { path in record.outputs[path].map { !cache.contains($0) } ?? true } : []
        if let fingerprint {
            if fingerprint == record.fingerprint && record.status == .succeeded {
                return missing.isEmpty ? .unchanged(record) : .outputsMissing(missing, changes: [])
            }
            if restorable, let outcome = cache.outcome(fingerprint), record.status == .succeeded || fingerprint != record.fingerprint {
                return .restored(outcome, changes: changes)
            }
            return record.status == .failed ? .previousFailure(run: record.run, changes: changes) : .changed(changes)
        }
        // Whatever upstream produces, this stage's own outputs must be rebuilt.
        if !missing.isEmpty { return .outputsMissing(missing, changes: changes) }
        if record.status == .failed { return .previousFailure(run: record.run, changes: changes) }
        if !changes.isEmpty { return .changed(changes) }
        return .upstreamRuns(unknownUpstream.sorted())
    }

    /// Every difference between a recorded stage and its inputs now, old → new, sorted.
    static func differences(record: StageRecord, now: FingerprintInputs) -> [PlanReason] {
        var reasons: [PlanReason] = []
        if record.command != now.command { reasons.append(PlanReason(.command, old: record.command, new: now.command)) }
        for key in Set(record.env.keys).union(now.env.keys).sorted() where record.env[key] != now.env[key] {
            reasons.append(PlanReason(.env, key, old: record.env[key], new: now.env[key]))
        }
        for key in Set(record.params.keys).union(now.params.keys).sorted() where record.params[key] != now.params[key] {
            let old = record.params[key], new = now.params[key]
            // For a subtree, name the leaves that changed: `train.max_depth: 4 → 6`, not the whole object.
            let leaves = changedLeaves(old ?? .null, new ?? .null, prefix: key)
            if leaves.isEmpty || leaves.count > 5 {
                reasons.append(PlanReason(.param, key, old: old?.display, new: new?.display))
            } else {
                reasons += leaves
            }
        }
        let recordedHardware = record.hardware ?? [:]
        for key in Set(recordedHardware.keys).union(now.hardware.keys).sorted() where recordedHardware[key] != now.hardware[key] {
            reasons.append(PlanReason(.resources, key, old: recordedHardware[key], new: now.hardware[key]))
        }
        for path in Set(record.inputs.keys).union(now.inputs.keys).sorted() {
            switch (record.inputs[path], now.inputs[path]) {
            case let (old?, new?) where old != new:
                reasons.append(PlanReason(.dep, path, old: ContentID.short(old), new: ContentID.short(new)))
            case (nil, _?): reasons.append(PlanReason(.depAdded, path))
            default: break
            }
        }
        return reasons
    }

    static func changedLeaves(_ old: JSONValue, _ new: JSONValue, prefix: String) -> [PlanReason] {
        if case let .object(a) = old, case let .object(b) = new {
            return Set(a.keys).union(b.keys).sorted().flatMap { key -> [PlanReason] in
                let x = a[key] ?? .null, y = b[key] ?? .null
                return x == y ? [] : changedLeaves(x, y, prefix: "\(prefix).\(key)")
            }
        }
        if old == new { return [] }
        return [PlanReason(.param, prefix, old: old == .null ? nil : old.display, new: new == .null ? nil : new.display)]
    }

    /// `split.seed`, 42 → `{"split": {"seed": 42}}`.
    static func nested(_ key: String, _ value: JSONValue) -> JSONValue {
        key.split(separator: ".").reversed().reduce(value) { .object([String($1): $0]) }
    }
}
