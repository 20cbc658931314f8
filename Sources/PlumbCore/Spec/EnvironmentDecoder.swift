import Foundation

/// An environment as decoded, with locations for the cross-file checks.
struct DecodedEnvironment {
    var environment: EnvironmentSpec
    var file: String
    var from: LocatedString?
    var runs: [LocatedString]?
    /// The `params` mapping as written, to point at an override of a key params.yaml lacks.
    var paramsNode: YAMLNode?
    /// Each gate's metric with where it is written.
    var gateMetrics: [LocatedString]
    /// The stage names of `stages:`, with where they are written.
    var scopedStages: [LocatedString] = []
    /// The stage names of `schedule:` entries, with where they are written.
    var scheduledStages: [LocatedString] = []
}

/// Decodes `environments/<name>.yaml` against `SpecSchema.environment`.
enum EnvironmentDecoder {
    static func decode(name: String, _ root: YAMLNode?, file: String, diagnostics: inout [Diagnostic]) -> DecodedEnvironment? {
        let start = SourceLocation(file: file, line: 1, column: 1)
        let context = "environment '\(name)'"
        if !NameRule.isValid(name) {
            diagnostics.append(Diagnostic(at: start, "invalid environment name '\(name)' (from the file name \(file))",
                                          hint: "rename the file; " + NameRule.hint(for: name)))
        }
        // An empty file is a valid environment with every default: all stages, no overrides.
        guard let root, !root.kindIsNull else {
            return DecodedEnvironment(environment: EnvironmentSpec(name: name, location: start), file: file, gateMetrics: [])
        }
        var decoder = SchemaDecoder()
        guard let object = decoder.decodeObject(root, SpecSchema.environment, context: context) else {
            diagnostics += decoder.diagnostics
            return nil
        }
        var env = EnvironmentSpec(name: name, location: root.location)
        var from: LocatedString?
        if let f = object.string("from") {
            from = LocatedString(value: f, location: object.location(of: "from"))
            env.from = f
            if f == name {
                decoder.error(object.location(of: "from"), "\(context) promotes from itself", hint: "'from' names the environment before this one, e.g. dev for staging")
            }
        }
        if let branch = object.string("branch") {
            if let problem = BranchPattern.problem(in: branch) {
                decoder.error(object.location(of: "branch"), "branch '\(branch)' of \(context) \(problem)",
                              hint: "name a branch as git does (`main`, `release/2026`), or a glob of them (`release/*`, `*`)")
            } else {
                env.branch = branch
            }
        }
        let runs: [LocatedString]? = object.hasStrings("runs") ? object.strings("runs") : nil
        env.runs = runs?.map(\.value)
        let variables = object.variables("env")
        VariableRule.check(env: variables, secrets: object.strings("secrets"), context: context, diagnostics: &decoder.diagnostics)
        env.env = Dictionary(variables.map { ($0.key.value, $0.value) }, uniquingKeysWith: { a, _ in a })
        env.secrets = object.strings("secrets").map(\.value)
        var scopedStages: [LocatedString] = []
        for (stage, settings) in object.namedObjects("stages") {
            scopedStages.append(stage)
            let scoped = settings.variables("env")
            let scopedContext = "stage '\(stage.value)' of \(context)"
            VariableRule.check(env: scoped, secrets: settings.strings("secrets"), context: scopedContext, diagnostics: &decoder.diagnostics)
            env.stageEnv[stage.value] = Dictionary(scoped.map { ($0.key.value, $0.value) }, uniquingKeysWith: { a, _ in a })
            env.stageSecrets[stage.value] = settings.strings("secrets").map(\.value)
        }
        var scheduledStages: [LocatedString] = []
        for entry in object.objects("schedule") {
            guard let expression = entry.string("cron") else { continue }
            let cron: CronSchedule
            do { cron = try CronSchedule(expression) } catch {
                decoder.error(entry.location(of: "cron"), "schedule '\(expression)' of \(context) \(error.reason)",
                              hint: "write five fields, minute hour day-of-month month day-of-week: `0 3 1 * *` is 03:00 on the 1st of each month")
                continue
            }
            var schedule = Schedule(cron: cron)
            if let name = entry.string("zone") {
                guard let zone = TimeZone(identifier: name) else {
                    decoder.error(entry.location(of: "zone"), "unknown time zone '\(name)' in the schedule of \(context)",
                                  hint: "an IANA name such as `UTC`, `Europe/Berlin` or `America/New_York`")
                    continue
                }
                schedule.zone = zone
            }
            if entry.hasStrings("stages") {
                let stages = entry.strings("stages")
                scheduledStages += stages
                schedule.stages = stages.map(\.value)
            }
            env.schedules.append(schedule)
        }
        env.executor = object.string("executor").flatMap(ExecutorKind.init(rawValue:))
        env.resources = ResourcesDecoder.decode(object.object("resources"), context: context, diagnostics: &decoder.diagnostics)
        let paramsNode = object.mapping("params")
        if let paramsNode {
            env.params = ParamsDecoder.decode(paramsNode, context: "'params' of \(context)", diagnostics: &decoder.diagnostics)
        }
        var metrics: [LocatedString] = []
        for gate in object.objects("gates") {
            guard let metric = gate.string("metric") else { continue }
            let at = gate.location(of: "metric")
            let parts = metric.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count != 2 || parts[0].isEmpty || parts[1].isEmpty {
                decoder.error(at, "gate metric '\(metric)' in \(context) does not name a stage",
                              hint: "write '<stage>.<key>', e.g. 'evaluate.accuracy'")
            } else {
                metrics.append(LocatedString(value: metric, location: at))
            }
            let min = gate.number("min"), max = gate.number("max"), drop = gate.number("max_drop")
            if let min, let max, min > max {
                decoder.error(gate.location(of: "min"), "gate on '\(metric)' in \(context) can never pass: min \(JSONValue.format(min)) is above max \(JSONValue.format(max))")
            }
            if let drop, drop < 0 {
                decoder.error(gate.location(of: "max_drop"), "max_drop of the gate on '\(metric)' in \(context) is negative",
                              hint: "max_drop is the largest allowed fall, 0 or more")
            }
            env.gates.append(Gate(metric: metric, min: min, max: max, maxDrop: drop, location: gate.location))
        }
        diagnostics += decoder.diagnostics
        return DecodedEnvironment(environment: env, file: file, from: from, runs: runs, paramsNode: paramsNode, gateMetrics: metrics, scopedStages: scopedStages, scheduledStages: scheduledStages)
    }
}
