import Foundation

/// What the planner decided for one stage. Its glyph leads the stage's line in a plan.
package enum StageAction: String, Sendable, Hashable, Codable, CaseIterable {
    /// Fingerprint as recorded and outputs in the cache.
    case unchanged
    /// New stage: never recorded in this environment.
    case create
    /// Inputs changed (or outputs missing, or the last attempt failed).
    case run
    /// This exact fingerprint ran before: take its outputs from the cache, run nothing.
    case restore
    /// An upstream stage runs; if its outputs come out byte-identical this one is skipped.
    case mayRun = "may-run"
    /// Outputs come from the environment's pin (a promotion), not from running.
    case pinned

    /// Terraform-style glyph.
    package var glyph: String {
        switch self {
        case .unchanged: return " "
        case .create: return "+"
        case .run: return "~"
        case .restore: return "<"
        case .mayRun: return "?"
        case .pinned: return "@"
        }
    }

    /// Whether the action needs the executor to do anything.
    package var isChange: Bool { self != .unchanged && self != .pinned }
}

/// Why a stage is planned the way it is. For display and records only: it never steers execution.
package struct PlanReason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The kind of reason.
    package enum Kind: String, Sendable, Codable {
        case newStage = "new-stage", command, env, param, dep, depAdded = "dep-added", depRemoved = "dep-removed"
        case outputMissing = "output-missing", previousFailure = "previous-failure", upstream, forced
        case restore, pinned, pinChanged = "pin-changed", drifted, resources
        case alwaysRun = "always-run", stale, scheduled, frozen
    }
    package var kind: Kind
    /// What changed: a dep path, a param key, a variable name, an upstream stage.
    package var subject: String?
    package var old: String?
    package var new: String?

    package init(_ kind: Kind, _ subject: String? = nil, old: String? = nil, new: String? = nil) {
        self.kind = kind; self.subject = subject; self.old = old; self.new = new
    }

    // JSON carries the sentence too, so a CI comment can print it without knowing every kind.
    private enum Keys: String, CodingKey { case kind, subject, old, new, message }

    package init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        subject = try c.decodeIfPresent(String.self, forKey: .subject)
        old = try c.decodeIfPresent(String.self, forKey: .old)
        new = try c.decodeIfPresent(String.self, forKey: .new)
    }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(subject, forKey: .subject)
        try c.encodeIfPresent(old, forKey: .old)
        try c.encodeIfPresent(new, forKey: .new)
        try c.encode(description, forKey: .message)
    }

    package var description: String {
        let change = (old != nil || new != nil) ? ": \(old ?? "(none)") → \(new ?? "(none)")" : ""
        let s = subject ?? ""
        switch kind {
        case .newStage: return "new stage"
        case .command: return "command changed\(change)"
        case .env: return "variable \(s) changed\(change)"
        case .param: return "param \(s)\(change)"
        case .dep: return "dep \(s) changed\(change)"
        case .depAdded: return "dep \(s) added"
        case .depRemoved: return "dep \(s) removed"
        case .outputMissing: return "output \(s) missing from the cache"
        case .previousFailure: return "previous attempt failed (run \(s))"
        case .upstream: return "runs if \(s)'s outputs change"
        case .forced: return "forced"
        case .restore: return "ran before with these inputs (run \(s)); outputs restored from the cache"
        case .pinned: return "from promotion of \(s)"
        case .pinChanged: return "promotion changed\(change)"
        case .drifted: return "drifted: \(s)"
        case .resources: return "resource \(s) changed\(change)"
        case .alwaysRun: return "always runs (always_run)"
        case .stale: return "last ran \(old ?? "?") ago (run \(s)), stale after \(new ?? "?")"
        case .scheduled: return "scheduled (\(s)): due \(new ?? "?"), last ran in run \(old ?? "?")"
        case .frozen: return "frozen: keeps the outputs of run \(s)"
        }
    }
}

/// Where a dep's content comes from when the executor needs it.
package enum DepSource: Sendable, Hashable, Codable {
    /// Identified at planning time (tracked by git, or untracked data hashed on disk).
    case known(String)
    /// An output of another stage, known once that stage has finished.
    case output(stage: String, path: String)

    // JSON: `{"id": "git:…"}` or `{"stage": "train", "path": "build/model.pkl"}`.
    private enum Keys: String, CodingKey { case id, stage, path }

    package init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        if let id = try c.decodeIfPresent(String.self, forKey: .id) { self = .known(id); return }
        self = .output(stage: try c.decode(String.self, forKey: .stage), path: try c.decode(String.self, forKey: .path))
    }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case let .known(id): try c.encode(id, forKey: .id)
        case let .output(stage, path): try c.encode(stage, forKey: .stage); try c.encode(path, forKey: .path)
        }
    }
}

/// One stage in a plan: the decision, and everything the executor needs to carry it out.
package struct PlannedStage: Sendable, Hashable, Codable {
    package var name: String
    package var action: StageAction
    /// For display only.
    package var reasons: [PlanReason]
    /// The fingerprint, when all inputs are known at planning time.
    package var fingerprint: Digest?
    /// What the recorded state holds for this stage, for early cutoff.
    package var recordedFingerprint: Digest?
    package var command: String
    package var env: [String: String]
    /// Names of variables passed through from plumb's environment; values never recorded.
    package var secrets: [String]
    package var params: [String: JSONValue]
    /// The effective params as a nested object, written to `PLUMB_PARAMS`.
    package var paramsDocument: JSONValue
    package var deps: [String: DepSource]
    /// Deps outside git (untracked data) to copy, read-only and verified, from the repository's directory into the workspace.
    package var externalDeps: [String]
    /// Declared outputs: outs, and plot files outside them.
    package var outputs: [String]
    package var metricsFiles: [String]
    /// The plots whose numbers are read once it succeeds; absent when it declares none.
    package var plots: [Plot]?
    /// For `persist: true` outputs, the content the last successful run recorded: put back in the
    /// workspace before the stage runs. Absent when the stage has none.
    package var persisted: [String: Digest]?
    /// Outputs kept in git with the record rather than in the artifact store (`cache: false`).
    package var uncached: [String]?
    /// Outputs to take from the cache (unchanged, restore, pinned).
    package var cachedOutputs: [String: Digest]
    /// Metrics that come with cached outputs.
    package var cachedMetrics: [String: Double]
    /// The run that produced the cached outputs (restore, pinned).
    package var cachedRun: String?
    /// Stages that must finish first (data deps and `after`), sorted.
    package var upstream: [String]
    package var timeout: Double?
    package var retries: Int
    /// Each path it stores: outputs, and the metrics files not inside an output folder.
    package var storedOutputs: [String] { outputs + metricsFiles.filter { !Stage.lies(inside: outputs, $0) } }
    /// Where it runs, when not on this machine (absent: local).
    package var executor: ExecutorKind?
    /// What it asks of the machine (its own over its environment's), when it asks anything.
    package var resources: StageResources?
}

/// The plan for one environment at one commit: a value the executor carries out and nothing else.
package struct Plan: Sendable, Hashable, Codable {
    /// The version of the JSON shape (docs/plan-json.md).
    package static let schemaVersion = 1

    package var schemaVersion: Int
    package var environment: String
    package var commit: ObjectID
    package var branch: String?
    /// Stages in execution order (topological, ties by name).
    package var stages: [PlannedStage]
    /// Recorded stages that left the spec; the next record drops them.
    package var dropped: [String]
    /// Files the pipeline uses whose working-tree content differs from the commit (not part of the run).
    package var uncommittedEdits: [String]
    /// The pin the environment deploys from, if any.
    package var pin: PinReference?
    /// spec/params.yaml with the environment's overrides laid over it, when it has any: what the
    /// workspace's spec/params.yaml holds, so a script that reads the file itself sees what its
    /// record says it ran with. nil when the environment overrides nothing.
    package var effectiveParams: JSONValue?
    /// With targets (`plumb reconcile STAGE…`): the stages left out of this plan, which keep their
    /// records; nil when every stage is planned.
    package var untargeted: [String]?
    /// The branch (or glob) the environment follows, and whether `branch` is not one of them: then
    /// the plan can be shown but not applied, so a feature branch never changes what a shared
    /// environment runs (docs/decisions.md). Set by the engine, which knows the default branch.
    package var follows: String?
    package var offBranch = false
    /// Problems that make the plan impossible to apply, located at the stage or environment they concern.
    package var diagnostics: [Diagnostic] { didSet { errors = diagnostics.map(\.message) } }
    /// The diagnostics' messages (JSON `errors`, kept for schema 1 readers); the executor refuses a plan with any.
    package private(set) var errors: [String]

    package init(environment: String, commit: ObjectID, branch: String?, stages: [PlannedStage], dropped: [String],
                uncommittedEdits: [String], pin: PinReference?, diagnostics: [Diagnostic]) {
        schemaVersion = Self.schemaVersion
        self.environment = environment; self.commit = commit; self.branch = branch; self.stages = stages
        self.dropped = dropped; self.uncommittedEdits = uncommittedEdits; self.pin = pin
        self.diagnostics = diagnostics; errors = diagnostics.map(\.message)
    }

    /// Whether applying the plan would do or record anything: a stage to run, a stage to drop, or
    /// a promotion the record does not have yet (so an environment that only pins, `runs: []`,
    /// records each promotion it takes, though nothing runs).
    package var hasChanges: Bool {
        stages.contains { $0.action.isChange || ($0.action == .pinned && $0.fingerprint != $0.recordedFingerprint) } || !dropped.isEmpty
    }

    /// Counts per action, for the summary line.
    package func count(_ actions: StageAction...) -> Int { stages.filter { actions.contains($0.action) }.count }

    /// `Plan: 1 to run, 2 may run, 1 unchanged, 0 restored from cache.`
    package var summary: String {
        var parts = ["\(count(.run, .create)) to run", "\(count(.mayRun)) may run", "\(count(.unchanged)) unchanged",
                     "\(count(.restore)) restored from cache"]
        let pinned = count(.pinned)
        if pinned > 0 { parts.append("\(pinned) pinned") }
        if !dropped.isEmpty { parts.append("\(dropped.count) dropped") }
        if let untargeted, !untargeted.isEmpty { parts.append("\(untargeted.count) not targeted") }
        return "Plan: " + parts.joined(separator: ", ") + "."
    }

    package func stage(_ name: String) -> PlannedStage? { stages.first { $0.name == name } }
}
