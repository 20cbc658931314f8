import Foundation

/// The desired pipeline declared in `spec/pipeline.yaml`.
package struct Pipeline: Sendable, Hashable {
    /// Format version; only 1 exists.
    package var version: Int
    /// Stages in the order the file declares them.
    package var stages: [Stage]
    /// The shared artifact store, when the repository names one (`cache: {url: …}`).
    package var cache: CacheSettings?

    package init(version: Int = 1, stages: [Stage], cache: CacheSettings? = nil) {
        self.version = version
        self.stages = stages
        self.cache = cache
    }

    /// The stage called `name`, if any. A linear search: for many lookups, use `stagesByName`.
    package func stage(_ name: String) -> Stage? { stages.first { $0.name == name } }

    /// The stages a name given on the command line means: the stage of that name, or every
    /// instance of the fan-out stage of that name (`featurize` → `featurize-a`, `featurize-b`),
    /// in declaration order. Empty when it means none.
    package func stages(answeringTo name: String) -> [String] {
        if stages.contains(where: { $0.name == name }) { return [name] }
        return stages.filter { $0.fanOut == name }.map(\.name)
    }

    /// Every name `stages(answeringTo:)` takes: stage names and fan-out stages' names.
    package var targetNames: [String] {
        var seen = Set<String>()
        return (stages.map(\.name) + stages.compactMap(\.fanOut)).filter { seen.insert($0).inserted }
    }

    /// Stages by name (the first, should a name repeat).
    package var stagesByName: [String: Stage] {
        Dictionary(stages.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// `cache:` in spec/pipeline.yaml: where the shared artifact store is.
package struct CacheSettings: Sendable, Hashable {
    /// `http(s)://…` or `file:///…`, without credentials.
    package var url: String

    package init(url: String) { self.url = url }

    /// What is wrong with `url` as a store address, or nil. Credentials in the URL are refused: it
    /// is committed to the repository (or shown in messages), and they come from the environment.
    package static func problem(with url: String) -> String? {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased() else {
            return "is not a URL"
        }
        if parts.user != nil || parts.password != nil {
            return "holds credentials; they come only from PLUMB_CACHE_USER and PLUMB_CACHE_PASSWORD, or PLUMB_CACHE_TOKEN"
        }
        switch scheme {
        case "http", "https":
            if (parts.host ?? "").isEmpty { return "names no host" }
            if parts.query != nil || parts.fragment != nil { return "has a query or fragment; give the store's base URL" }
        case "file":
            if let host = parts.host, !host.isEmpty, host != "localhost" { return "names a host; a file:// store is a folder on this machine (file:///mnt/share)" }
            if !parts.path.hasPrefix("/") { return "has no absolute folder path" }
        default:
            return "has the scheme '\(scheme)'; use http://, https:// or file://"
        }
        return nil
    }
}

/// One step of the pipeline: a command with declared inputs and outputs.
package struct Stage: Sendable, Hashable {
    package var name: String
    /// A shell command, run with `/bin/sh -c` in the workspace.
    package var cmd: String
    /// Files or directories read, relative to the repository root (or absolute for data outside it).
    package var deps: [String]
    /// Files or directories written, relative to the repository root.
    package var outs: [String]
    /// JSON files of numbers written by the stage; they are outputs too and their numbers are recorded.
    package var metrics: [String]
    /// Files of series to draw (`Plot`); outputs too (`plotOutputs`), their numbers recorded with the run.
    package var plots: [Plot] = []
    /// Keys or subtrees of params.yaml that the stage reads (`train`, `split.seed`).
    package var params: [String]
    /// Variables set for the command; part of the fingerprint.
    package var env: [String: String]
    /// Names of variables passed through from Plumb's own environment; never recorded.
    package var secrets: [String]
    /// Stages that must finish first although no file passes between them.
    package var after: [String]
    /// Seconds after which the stage's process group is killed.
    package var timeout: Double?
    /// Extra attempts after a failure, with backoff.
    package var retries: Int
    /// A drift probe: exit 0 means the deployed state matches the record.
    package var check: String?
    /// Runs on every reconcile (inputs Plumb cannot see).
    package var alwaysRun = false
    /// Runs again once its recorded run is older than this many seconds.
    package var staleAfter: Double?
    /// Where the command runs; nil: as its environment says (local by default).
    package var executor: ExecutorKind?
    /// What it asks of the machine, over its environment's `resources`.
    package var resources: StageResources?
    /// Where the stage is declared, for diagnostics.
    package var location: SourceLocation?
    /// The command with its `${…}` references to spec/params.yaml kept, when it has any: `cmd`
    /// is it rendered with params.yaml as written, `command(params:)` with an environment's.
    package var commandTemplate: CommandTemplate?
    /// The `foreach`/`matrix` stage this one is an instance of (`featurize` for `featurize-a`).
    package var fanOut: String?
    /// The folder the command runs in, relative to the repository root; deps and outs stay
    /// root-relative (docs/decisions.md, "Stage and output options").
    package var wdir: String?
    /// Never runs: its recorded outputs stand whatever its inputs become, until unfrozen or forced.
    package var frozen = false
    /// Options of the outs and metrics that have any (`- model.pkl: {persist: true}`), by path.
    package var outputOptions: [String: OutputOptions] = [:]

    package init(name: String, cmd: String, deps: [String] = [], outs: [String] = [], metrics: [String] = [],
                params: [String] = [], env: [String: String] = [:], secrets: [String] = [], after: [String] = [],
                timeout: Double? = nil, retries: Int = 0, check: String? = nil, executor: ExecutorKind? = nil,
                resources: StageResources? = nil, location: SourceLocation? = nil) {
        self.name = name; self.cmd = cmd; self.deps = deps; self.outs = outs; self.metrics = metrics
        self.params = params; self.env = env; self.secrets = secrets; self.after = after
        self.timeout = timeout; self.retries = retries; self.check = check
        self.executor = executor; self.resources = resources; self.location = location
    }

    /// The command run with `params` (spec/params.yaml with an environment's overrides): `cmd`
    /// unless the command interpolates params, which an environment may override.
    package func command(params: JSONValue) -> Result<String, TemplateProblem> {
        (commandTemplate?.render(params: params) ?? .success(cmd)).map(inWorkingFolder)
    }

    /// `script` run from `wdir`: the change of folder is part of the command, so it is in the
    /// fingerprint and the record, and every runner (a local process, a Slurm job) does it alike.
    func inWorkingFolder(_ script: String) -> String {
        guard let wdir else { return script }
        return "cd -- \(Escape.shellQuoted(wdir)) || exit\n" + script
    }

    /// Everything the stage writes and stores: outs, then the metrics files that are not inside
    /// one of its out folders (those are stored with the folder, and only read for their numbers),
    /// then the plot files outside both (`plotOutputs`).
    package var allOutputs: [String] { outs + metrics.filter { !Self.lies(inside: outs, $0) } + plotOutputs }

    /// Whether `path` is one of `folders` or lies inside one (`PathRule.contains`).
    package static func lies(inside folders: [String], _ path: String) -> Bool {
        folders.contains { PathRule.contains($0, path) }
    }

    /// The declared outputs kept out of the artifact store (`cache: false`).
    package var uncachedOutputs: [String] { allOutputs.filter { outputOptions[$0]?.cache == false } }
    /// The declared outputs kept from one run to the next (`persist: true`).
    package var persistentOutputs: [String] { allOutputs.filter { outputOptions[$0]?.persist == true } }

    /// The stage's declared variables with the environment's laid over them, as its params are
    /// over params.yaml: what the stage runs with, and what its fingerprint covers.
    package func variables(in environment: EnvironmentSpec) -> [String: String] {
        env.merging(environment.env) { _, environmentValue in environmentValue }
            .merging(environment.stageEnv[name] ?? [:]) { _, scoped in scoped }
    }

    /// The names of the secrets it gets in `environment`: its own, the environment's, and those
    /// the environment gives this stage alone.
    package func secrets(in environment: EnvironmentSpec) -> [String] {
        Array(Set(secrets + environment.secrets + (environment.stageSecrets[name] ?? []))).sorted()
    }
}

/// What an out or metrics entry may say besides its path (`- checkpoints: {persist: true}`).
package struct OutputOptions: Sendable, Hashable {
    /// false: the output is kept in git with the run's record instead of in the artifact store.
    package var cache = true
    /// true: not removed before the stage runs; the last recorded content is put back first.
    package var persist = false

    package init(cache: Bool = true, persist: Bool = false) { self.cache = cache; self.persist = persist }
}

/// The desired state of one environment, from `environments/<name>.yaml`.
package struct EnvironmentSpec: Sendable, Hashable {
    package var name: String
    /// The environment promotions into this one come from.
    package var from: String?
    /// Stages run here; nil means all. The others come from the pin.
    package var runs: [String]?
    /// Overrides laid over spec/params.yaml.
    package var params: JSONValue
    /// Variables for every stage in this environment.
    package var env: [String: String]
    /// Variable names passed through from Plumb's environment, never recorded.
    package var secrets: [String]
    /// Conditions a promotion into this environment must meet.
    package var gates: [Gate]
    /// Variables for named stages only (`stages: {deploy: {env: …}}`), over `env`.
    package var stageEnv: [String: [String: String]] = [:]
    /// Secrets passed to named stages only.
    package var stageSecrets: [String: [String]] = [:]
    /// The branch (or glob of branches) whose reconciles change this environment; nil: the
    /// repository's default branch (docs/decisions.md, "An environment follows a branch").
    package var branch: String?
    /// Cron schedules on which chosen stages run again though nothing changed.
    package var schedules: [Schedule] = []
    /// Where its stages run unless a stage says otherwise.
    package var executor: ExecutorKind?
    /// Resources for its stages, under each stage's own.
    package var resources: StageResources?
    package var location: SourceLocation?

    package init(name: String, from: String? = nil, runs: [String]? = nil, params: JSONValue = .object([:]),
                env: [String: String] = [:], secrets: [String] = [], gates: [Gate] = [], location: SourceLocation? = nil) {
        self.name = name; self.from = from; self.runs = runs; self.params = params
        self.env = env; self.secrets = secrets; self.gates = gates; self.location = location
    }

    /// The environment used when a repository has no `environments/` folder.
    static let implicitName = "default"
}

/// A promotion condition on one metric (`evaluate.accuracy`).
package struct Gate: Sendable, Hashable, Codable {
    package var metric: String
    package var min: Double?
    package var max: Double?
    /// Largest allowed fall against what the target environment runs now.
    package var maxDrop: Double?
    package var location: SourceLocation?

    package init(metric: String, min: Double? = nil, max: Double? = nil, maxDrop: Double? = nil, location: SourceLocation? = nil) {
        self.metric = metric; self.min = min; self.max = max; self.maxDrop = maxDrop; self.location = location
    }
    enum CodingKeys: String, CodingKey { case metric, min, max, maxDrop = "max_drop" }
}

/// Everything declared in a repository at one commit (or in the working tree).
package struct Spec: Sendable, Hashable {
    package var pipeline: Pipeline
    /// The content of spec/params.yaml.
    package var params: JSONValue
    /// Environments by name; one implicit environment when the repository declares none.
    package var environments: [String: EnvironmentSpec]
    /// Other tracked YAML/JSON files stages take params from (`config/model.yaml:model.width`), by path.
    package var paramFiles: [String: JSONValue]

    package init(pipeline: Pipeline, params: JSONValue = .object([:]), environments: [String: EnvironmentSpec] = [:],
                paramFiles: [String: JSONValue] = [:]) {
        self.pipeline = pipeline
        self.params = params
        self.paramFiles = paramFiles
        self.environments = environments.isEmpty
            ? [EnvironmentSpec.implicitName: EnvironmentSpec(name: EnvironmentSpec.implicitName)] : environments
    }
}

/// Paths of the files that make up a spec.
package enum SpecPaths {
    package static let pipeline = "spec/pipeline.yaml"
    package static let params = "spec/params.yaml"
    package static let environments = "environments"
    package static let history = "history"
    /// `history/<env>`: everything Plumb records for one environment, and the one folder a reconcile writes.
    package static func history(_ environment: String) -> String { "\(history)/\(environment)" }
    package static func environment(_ name: String) -> String { "environments/\(name).yaml" }
    package static func pin(_ name: String) -> String { "environments/\(name).pin.json" }
}
