import Foundation

/// The one declaration of what each mapping in a spec file may hold.
///
/// The decoder checks keys and types against these values and `JSONSchema` renders
/// them for editors, so the two cannot drift: adding a key here is the whole change.
enum SpecSchema {
    /// Stage names, and environment names (file stems): lowercase words that are safe in paths and refs.
    static let namePattern = "^[a-z][a-z0-9_-]*$"
    /// A duration string: one or more `<number><unit>` parts, unit ms, s, m, h or d (`90s`, `1h30m`).
    static let durationPattern = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$"
    /// Names of environment variables (env and secrets).
    static let variablePattern = "^[A-Za-z_][A-Za-z0-9_]*$"

    /// One stage of `spec/pipeline.yaml`.
    package static let stage = SchemaObject(
        name: "stage",
        doc: "One step of the pipeline: a shell command with declared inputs and outputs.",
        fields: [
            .init("cmd", .commands, required: true,
                  doc: "Shell command, run with /bin/sh -c in a workspace checked out from the commit; or a list of them, run in order, each in its own subshell, stopping at the first that fails."),
            .init("wdir", .string(nonEmpty: true), doc: "The folder the command runs in, relative to the repository root; deps, outs and metrics stay relative to the root."),
            .init("deps", .strings, doc: "Files or folders the command reads, relative to the repository root (or absolute for data outside it)."),
            .init("outs", .outputs(outputOptions), doc: "Files or folders the command writes, relative to the repository root; an entry may carry options (`- model.pkl: {persist: true}`)."),
            .init("metrics", .outputs(outputOptions), doc: "JSON or YAML files of numbers the command writes; outputs whose numbers are recorded, possibly inside one of the stage's out folders."),
            .init("plots", .plotEntries(plot), doc: "Files of rows the command writes (CSV, TSV, JSON or YAML), drawn by `plumb plots` and the report: each a path, or `path: {x: step, y: loss, title: Loss}`. Outputs too, unless inside a folder in `outs`; their numbers are recorded with the run."),
            .init("params", .strings, doc: "Keys or subtrees of spec/params.yaml the command reads (`train`, `split.seed`), or of another tracked YAML/JSON file (`config/model.yaml:model.width`)."),
            .init("after", .strings, doc: "Stages that must finish first although no file passes between them."),
            .init("secrets", .strings, doc: "Names of variables passed through from Plumb's environment; never recorded."),
            .init("env", .variables, doc: "Variables set for the command; part of the stage's fingerprint."),
            .init("timeout", .duration, doc: "Seconds (a number) or a duration such as `90s`, `10m`, `1h30m`, after which the stage is killed."),
            .init("retries", .integer(minimum: 0, maximum: 100), doc: "Extra attempts after a failure, with backoff."),
            .init("check", .string(nonEmpty: true), doc: "Drift probe: a command whose exit status 0 means the deployed state matches the record."),
            .init("always_run", .boolean, doc: "Run on every reconcile, for inputs Plumb cannot see (a live table, an API); its outputs still cut off what depends on it when they come out the same."),
            .init("always_changed", .boolean, doc: "DVC's name for `always_run`: the same setting."),
            .init("frozen", .boolean, doc: "Never run: the recorded outputs stand whatever the inputs become (until unfrozen, or `--force STAGE`)."),
            .init("stale_after", .duration, doc: "Run again once the recorded run is older than this (`30d`), for inputs that age outside the repository."),
            .init("executor", .choice(ExecutorKind.allCases.map(\.rawValue)), doc: "Where the command runs: `local` (a process here; the default) or `slurm` (a batch job; docs/scaling.md)."),
            .init("resources", .object(resources), doc: "What the command needs of the machine; the Slurm runner asks for it, the local runner ignores it."),
            .init("matrix", .matrixAxes, doc: "Fan-out: one instance per combination of these named lists (`{model: [a, b], lr: [0.1, 0.01]}`), named `<stage>-a-0_1`; `${item.model}` is the instance's value."),
            .init("desc", .string(nonEmpty: false), doc: "A description for people; ignored by Plumb."),
        ],
        templated: true)

    /// What an out or metrics entry may say besides its path.
    package static let outputOptions = SchemaObject(
        name: "outputOptions",
        doc: "Options of one out or metrics file: `- path: {cache: false}`.",
        fields: [
            .init("cache", .boolean, doc: "false: a small output kept in git, with the run's record under history/, instead of in the artifact store; `plumb checkout` still puts it in place."),
            .init("persist", .boolean, doc: "true: not removed before the stage runs; the last recorded content is put back first (checkpoints a stage resumes from)."),
        ])

    /// A `foreach` stage: one template stage (`do`) expanded into an instance per item.
    package static let foreachStage = SchemaObject(
        name: "foreachStage",
        doc: "A stage run once per item: each instance is `<stage>-<item>` (or `-<key>` for a mapping), planned, cached and recorded on its own.",
        fields: [
            .init("foreach", .fanOutItems, required: true, doc: "A list, a mapping, or `${name}` of one from vars or spec/params.yaml; `${item}` (and `${key}` for a mapping) in `do`."),
            .init("do", .object(stage), required: true, doc: "The stage every item runs, with `${item}`, `${item.field}` and `${key}` where the item goes."),
            .init("desc", .string(nonEmpty: false), doc: "A description for people; ignored by Plumb."),
        ])

    /// The options of one entry of a stage's `plots:` (`- build/loss.csv: {x: step, y: loss}`).
    package static let plot = SchemaObject(
        name: "plot",
        doc: "How one plot file is drawn; every option may be left out.",
        fields: [
            .init("x", .string(nonEmpty: true), doc: "The column along the x axis (default: a `step` column if the file has one, else the row number)."),
            .init("y", .strings, doc: "The column, or list of columns, drawn as lines (default: the file's last column other than x)."),
            .init("title", .string(nonEmpty: false), doc: "The chart's title (default: the file's path)."),
        ])

    /// `resources:` of a stage or an environment, mapped to `sbatch` options (docs/scaling.md).
    package static let resources = SchemaObject(
        name: "resources",
        doc: "What a stage needs of the machine that runs it. Only the GPUs enter the fingerprint: the rest decides where a job runs, not what it computes.",
        fields: [
            .init("cpus", .integer(minimum: 1, maximum: 100_000), doc: "Cores (`--cpus-per-task`)."),
            .init("memory", .string(nonEmpty: true), doc: "Memory (`--mem`): megabytes, or with a unit K, M, G, T (`16G`)."),
            .init("gpus", .integer(minimum: 0, maximum: 1024), doc: "GPUs (`--gpus`); part of the fingerprint."),
            .init("gpu_type", .string(nonEmpty: true), doc: "The GPU type (`--gpus=<type>:<count>`, e.g. a100); part of the fingerprint."),
            .init("time", .duration, doc: "The job's time limit (`--time`); the stage's timeout when not set."),
            .init("partition", .string(nonEmpty: true), doc: "The Slurm partition (`--partition`)."),
            .init("account", .string(nonEmpty: true), doc: "The account charged (`--account`)."),
            .init("sbatch", .strings, doc: "More sbatch options, as they are (`--qos=high`, `--constraint=ib`)."),
            .init("desc", .string(nonEmpty: false), doc: "A description for people; ignored by Plumb."),
        ])

    /// The shared artifact store of `spec/pipeline.yaml` (docs/store.md).
    package static let cache = SchemaObject(
        name: "cache",
        doc: "The shared artifact store every clone uploads outputs to and fetches them from; PLUMB_CACHE_URL overrides it.",
        fields: [
            .init("url", .string(nonEmpty: true), required: true,
                  doc: "http(s)://host/path (Bazel's HTTP remote-cache protocol) or file:///folder (a shared folder); never with credentials, which come from PLUMB_CACHE_USER/PLUMB_CACHE_PASSWORD or PLUMB_CACHE_TOKEN."),
            .init("desc", .string(nonEmpty: false), doc: "A description for people; ignored by Plumb."),
        ])

    /// The root mapping of `spec/pipeline.yaml`.
    package static let pipeline = SchemaObject(
        name: "pipeline",
        doc: "The desired pipeline of a Plumb repository (spec/pipeline.yaml).",
        fields: [
            .init("version", .version(1), required: true, doc: "Format version; must be 1."),
            .init("vars", .varsSources, doc: "Names for `${…}` in stage strings: params files (YAML or JSON, `spec/vars.yaml`) and inline mappings (`{seed: 42}`), in a list."),
            .init("stages", .namedStages(stage, fanOut: foreachStage), required: true, doc: "Stages by name (lowercase letters, digits, '-' and '_', starting with a letter)."),
            .init("cache", .object(cache), doc: "The shared artifact store (`url:`), so that outputs built on one machine are used on every other."),
            .init("desc", .string(nonEmpty: false), doc: "A description for people; ignored by Plumb."),
        ])

    /// One promotion gate of an environment.
    package static let gate = SchemaObject(
        name: "gate",
        doc: "A condition on one recorded metric that a promotion into this environment must meet.",
        fields: [
            .init("metric", .string(nonEmpty: true), required: true, doc: "`<stage>.<key>`: a key of a metrics file that the stage declares (`evaluate.accuracy`)."),
            .init("min", .number, doc: "Smallest allowed value."),
            .init("max", .number, doc: "Largest allowed value."),
            .init("max_drop", .number, doc: "Largest allowed fall against what the target environment runs now."),
            .init("desc", .string(nonEmpty: false), doc: "A description for people; ignored by Plumb."),
        ],
        requiresOneOf: ["min", "max", "max_drop"])

    /// One entry of an environment's `stages:`: settings for that stage only.
    package static let environmentStage = SchemaObject(
        name: "environmentStage",
        doc: "Settings this environment gives one stage only, so that changing them reruns that stage alone.",
        fields: [
            .init("env", .variables, doc: "Variables for this stage here; laid over the environment's `env` and the stage's own."),
            .init("secrets", .strings, doc: "Names of variables passed through to this stage here; never recorded."),
            .init("desc", .string(nonEmpty: false), doc: "A description for people; ignored by Plumb."),
        ])

    /// One entry of an environment's `schedule:`.
    package static let scheduleEntry = SchemaObject(
        name: "schedule",
        doc: "A cron schedule on which the chosen stages run again even when nothing changed (a refreshed external source, monthly retraining).",
        fields: [
            .init("cron", .string(nonEmpty: true), required: true, doc: "Five cron fields (minute hour day-of-month month day-of-week, e.g. `0 3 1 * *`) or @hourly, @daily, @weekly, @monthly, @yearly."),
            .init("zone", .string(nonEmpty: true), doc: "The time zone the times are in (`Europe/Berlin`); UTC when absent."),
            .init("stages", .strings, doc: "The stages it reruns (what depends on them runs if their outputs change); every stage the environment runs when absent."),
            .init("desc", .string(nonEmpty: false), doc: "A description for people; ignored by Plumb."),
        ])

    /// The root mapping of `environments/<name>.yaml`.
    package static let environment = SchemaObject(
        name: "environment",
        doc: "The desired state of one environment (environments/<name>.yaml).",
        fields: [
            .init("from", .string(nonEmpty: true), doc: "The environment promotions into this one come from."),
            .init("branch", .string(nonEmpty: true), doc: "The branch whose reconciles change this environment (default: the repository's default branch); a glob (`release/*`, `*`) lets several, each recording on its own branch."),
            .init("runs", .strings, doc: "Stages run in this environment; the others come pinned from `from`. All stages when absent."),
            .init("params", .anyMapping, doc: "Overrides laid over spec/params.yaml; every key must exist there."),
            .init("env", .variables, doc: "Variables set for every stage in this environment (part of every stage's fingerprint)."),
            .init("stages", .namedObjects(environmentStage), doc: "Variables and secrets for named stages only (`deploy: {env: {TARGET: …}}`): part of those stages' fingerprints alone."),
            .init("secrets", .strings, doc: "Names of variables passed through from Plumb's environment; never recorded."),
            .init("schedule", .objects(scheduleEntry), doc: "Cron schedules on which chosen stages run again though nothing changed; `plumb reconcile` (and each `--watch` cycle) runs a stage whose last run is older than the latest tick."),
            .init("gates", .objects(gate), doc: "Conditions checked by `plumb promote` before artifacts move into this environment."),
            .init("executor", .choice(ExecutorKind.allCases.map(\.rawValue)), doc: "Where this environment's stages run unless a stage says otherwise: `local` or `slurm`."),
            .init("resources", .object(resources), doc: "Resources for this environment's stages; a stage's own settings win key by key."),
            .init("desc", .string(nonEmpty: false), doc: "A description for people; ignored by Plumb."),
        ])

    /// Every mapping shape the spec language has, for tests and the schema generator.
    static let allObjects: [SchemaObject] = [pipeline, stage, outputOptions, plot, foreachStage, cache, resources, environment, environmentStage, scheduleEntry, gate]
}

/// The shape of a value in a spec file.
indirect enum SchemaType: Sendable {
    /// A scalar taken as text; `nonEmpty` rejects "" and whitespace-only strings.
    case string(nonEmpty: Bool)
    /// A string or a list of strings (paths, stage names, param keys, variable names).
    case strings
    /// A command, or a non-empty list of them.
    case commands
    /// Paths, each a string or a one-key mapping of the path to its options (`- model.pkl: {cache: false}`).
    case outputs(SchemaObject)
    /// An integer within bounds.
    case integer(minimum: Int, maximum: Int)
    /// Any finite number.
    case number
    /// A positive number of seconds, or a duration string.
    case duration
    /// One of a fixed set of words.
    case choice([String])
    /// `true` or `false`.
    case boolean
    /// A mapping from variable name to a scalar, taken as text.
    case variables
    /// Any mapping; its scalars are converted to JSON values by YAML's core schema.
    case anyMapping
    /// The integer `version` must equal.
    case version(Int)
    /// A list of mappings of one shape.
    case objects(SchemaObject)
    /// One mapping of a shape.
    case object(SchemaObject)
    /// A mapping from names (matching `SpecSchema.namePattern`) to mappings of one shape.
    case namedObjects(SchemaObject)
    /// Stages by name: each a stage, or a `foreach` stage (expanded before decoding, `StageExpansion`).
    case namedStages(SchemaObject, fanOut: SchemaObject)
    /// `vars:`, a list of params file paths and inline mappings.
    case varsSources
    /// `foreach:`, a list, a mapping, or a `${name}` string.
    case fanOutItems
    /// `matrix:`, a mapping of axis names to lists (or `${name}` strings).
    case matrixAxes
    /// `plots:`, a list of paths, each alone or a one-key mapping to its options of this shape (`PlotEntries`).
    case plotEntries(SchemaObject)

    /// A scalar that is not text (a number, boolean or choice), which a `${…}` can still produce.
    var isTyped: Bool {
        switch self {
        case .integer, .number, .duration, .boolean, .choice: return true
        default: return false
        }
    }

    /// How messages name this type: "expected a list of strings, found a mapping".
    var expectation: String {
        switch self {
        case .string: return "a string"
        case .strings: return "a string or a list of strings"
        case .commands: return "a command or a list of commands"
        case .outputs: return "a path or a list of paths, each optionally with options ('- path: {cache: false}')"
        case .integer: return "an integer"
        case .number: return "a number"
        case .duration: return "a number of seconds or a duration such as '90s', '10m', '1h'"
        case let .choice(words): return "one of " + words.joined(separator: ", ")
        case .boolean: return "true or false"
        case .variables: return "a mapping of variable names to values"
        case .anyMapping: return "a mapping"
        case let .version(v): return "the number \(v)"
        case .objects: return "a list of mappings"
        case .object: return "a mapping"
        case .namedObjects, .namedStages: return "a mapping of names to mappings"
        case .varsSources: return "a list of params files and mappings"
        case .fanOutItems: return "a list, a mapping, or '${name}' of one"
        case .matrixAxes: return "a mapping of names to lists"
        case .plotEntries: return "a list of plot files"
        }
    }
}

/// One allowed key of a mapping.
struct SchemaField: Sendable {
    package var name: String
    package var type: SchemaType
    var required: Bool
    /// One sentence for people; becomes the JSON Schema `description`.
    var doc: String

    package init(_ name: String, _ type: SchemaType, required: Bool = false, doc: String) {
        self.name = name; self.type = type; self.required = required; self.doc = doc
    }
}

/// The keys a mapping may hold.
struct SchemaObject: Sendable {
    /// The name of this shape in messages ("stage") and in the JSON Schema's `$defs`.
    package var name: String
    var doc: String
    /// Keys in the order the documentation lists them.
    package var fields: [SchemaField]
    /// At least one of these keys must be present (a gate needs a bound).
    var requiresOneOf: [String]
    /// Its values may be `${…}` (StageExpansion), so a typed key also takes one reference.
    var templated: Bool

    package init(name: String, doc: String, fields: [SchemaField], requiresOneOf: [String] = [], templated: Bool = false) {
        self.name = name; self.doc = doc; self.fields = fields; self.requiresOneOf = requiresOneOf; self.templated = templated
    }

    /// The field called `name`, if the shape allows it.
    package func field(_ name: String) -> SchemaField? { fields.first { $0.name == name } }
    /// All allowed key names.
    package var keys: [String] { fields.map(\.name) }
}
