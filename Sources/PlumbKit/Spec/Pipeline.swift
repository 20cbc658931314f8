import Foundation

/// The desired pipeline declared in `spec/pipeline.yaml`.
public struct Pipeline: Sendable, Hashable {
    /// Format version; only 1 exists.
    public var version: Int
    /// Stages in the order the file declares them.
    public var stages: [Stage]

    public init(version: Int = 1, stages: [Stage]) {
        self.version = version
        self.stages = stages
    }

    /// The stage called `name`, if any. A linear search: for many lookups, use `stagesByName`.
    public func stage(_ name: String) -> Stage? { stages.first { $0.name == name } }

    /// Stages by name (the first, should a name repeat).
    public var stagesByName: [String: Stage] {
        Dictionary(stages.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// One step of the pipeline: a command with declared inputs and outputs.
public struct Stage: Sendable, Hashable {
    public var name: String
    /// A shell command, run with `/bin/sh -c` in the workspace.
    public var cmd: String
    /// Files or directories read, relative to the repository root (or absolute for data outside it).
    public var deps: [String]
    /// Files or directories written, relative to the repository root.
    public var outs: [String]
    /// JSON files of numbers written by the stage; they are outputs too and their numbers are recorded.
    public var metrics: [String]
    /// Keys or subtrees of params.yaml that the stage reads (`train`, `split.seed`).
    public var params: [String]
    /// Variables set for the command; part of the fingerprint.
    public var env: [String: String]
    /// Names of variables passed through from Plumb's own environment; never recorded.
    public var secrets: [String]
    /// Stages that must finish first although no file passes between them.
    public var after: [String]
    /// Seconds after which the stage's process group is killed.
    public var timeout: Double?
    /// Extra attempts after a failure, with backoff.
    public var retries: Int
    /// A drift probe: exit 0 means the deployed state matches the record.
    public var check: String?
    /// Where the stage is declared, for diagnostics.
    public var location: SourceLocation?

    public init(name: String, cmd: String, deps: [String] = [], outs: [String] = [], metrics: [String] = [],
                params: [String] = [], env: [String: String] = [:], secrets: [String] = [], after: [String] = [],
                timeout: Double? = nil, retries: Int = 0, check: String? = nil, location: SourceLocation? = nil) {
        self.name = name; self.cmd = cmd; self.deps = deps; self.outs = outs; self.metrics = metrics
        self.params = params; self.env = env; self.secrets = secrets; self.after = after
        self.timeout = timeout; self.retries = retries; self.check = check; self.location = location
    }

    /// Everything the stage writes: outs, then metrics files.
    public var allOutputs: [String] { outs + metrics }

    /// The stage's declared variables with the environment's laid over them, as its params are
    /// over params.yaml: what the stage runs with, and what its fingerprint covers.
    public func variables(in environment: EnvironmentSpec) -> [String: String] {
        env.merging(environment.env) { _, environmentValue in environmentValue }
    }
}

/// The desired state of one environment, from `environments/<name>.yaml`.
public struct EnvironmentSpec: Sendable, Hashable {
    public var name: String
    /// The environment promotions into this one come from.
    public var from: String?
    /// Stages run here; nil means all. The others come from the pin.
    public var runs: [String]?
    /// Overrides laid over spec/params.yaml.
    public var params: JSONValue
    /// Variables for every stage in this environment.
    public var env: [String: String]
    /// Variable names passed through from Plumb's environment, never recorded.
    public var secrets: [String]
    /// Conditions a promotion into this environment must meet.
    public var gates: [Gate]
    public var location: SourceLocation?

    public init(name: String, from: String? = nil, runs: [String]? = nil, params: JSONValue = .object([:]),
                env: [String: String] = [:], secrets: [String] = [], gates: [Gate] = [], location: SourceLocation? = nil) {
        self.name = name; self.from = from; self.runs = runs; self.params = params
        self.env = env; self.secrets = secrets; self.gates = gates; self.location = location
    }

    /// The environment used when a repository has no `environments/` folder.
    public static let implicitName = "default"
}

/// A promotion condition on one metric (`evaluate.accuracy`).
public struct Gate: Sendable, Hashable, Codable {
    public var metric: String
    public var min: Double?
    public var max: Double?
    /// Largest allowed fall against what the target environment runs now.
    public var maxDrop: Double?
    public var location: SourceLocation?

    public init(metric: String, min: Double? = nil, max: Double? = nil, maxDrop: Double? = nil, location: SourceLocation? = nil) {
        self.metric = metric; self.min = min; self.max = max; self.maxDrop = maxDrop; self.location = location
    }
    enum CodingKeys: String, CodingKey { case metric, min, max, maxDrop = "max_drop" }
}

/// Everything declared in a repository at one commit (or in the working tree).
public struct Spec: Sendable, Hashable {
    public var pipeline: Pipeline
    /// The content of spec/params.yaml.
    public var params: JSONValue
    /// Environments by name; one implicit environment when the repository declares none.
    public var environments: [String: EnvironmentSpec]

    public init(pipeline: Pipeline, params: JSONValue = .object([:]), environments: [String: EnvironmentSpec] = [:]) {
        self.pipeline = pipeline
        self.params = params
        self.environments = environments.isEmpty
            ? [EnvironmentSpec.implicitName: EnvironmentSpec(name: EnvironmentSpec.implicitName)] : environments
    }
}

/// Paths of the files that make up a spec.
public enum SpecPaths {
    public static let pipeline = "spec/pipeline.yaml"
    public static let params = "spec/params.yaml"
    public static let environments = "environments"
    public static let history = "history"
    /// `history/<env>`: everything Plumb records for one environment, and the one folder a reconcile writes.
    public static func history(_ environment: String) -> String { "\(history)/\(environment)" }
    public static func environment(_ name: String) -> String { "environments/\(name).yaml" }
    public static func pin(_ name: String) -> String { "environments/\(name).pin.json" }
}
