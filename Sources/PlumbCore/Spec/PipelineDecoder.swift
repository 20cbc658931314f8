import Foundation

/// A stage as decoded, with where each of its values is written, for the cross-file checks.
struct DecodedStage {
    var stage: Stage
    var name: LocatedString
    var deps: [LocatedString]
    var outs: [LocatedString]
    var metrics: [LocatedString]
    var params: [LocatedString]
    var after: [LocatedString]
    /// Plot files that are outputs of their own (`Stage.plotOutputs`), with where they are written.
    var plotOutputs: [LocatedString] = []

    /// Outs, the metrics files not inside one of its out folders, and the plot files outside both:
    /// each path Plumb stores (`Stage.allOutputs`).
    var storedOutputs: [LocatedString] { outs + metrics.filter { !Stage.lies(inside: outs.map(\.value), $0.value) } + plotOutputs }
}

/// `spec/pipeline.yaml` as decoded: the model plus locations.
struct DecodedPipeline {
    var pipeline: Pipeline
    var stages: [DecodedStage]
}

/// Decodes `spec/pipeline.yaml` against `SpecSchema.pipeline`, checking what one stage can
/// check alone (paths, variable names); relations between stages are `SpecValidator`'s.
enum PipelineDecoder {
    /// Decodes a pipeline whose fan-out stages are already expanded (`StageExpansion`);
    /// `commandTemplates` and the fan-out stage of each instance are attached to the stages they belong to.
    static func decode(_ root: YAMLNode?, file: String, commandTemplates: [String: CommandTemplate] = [:],
                       fanOuts: [String: String] = [:], declaresStages: Bool = false, diagnostics: inout [Diagnostic]) -> DecodedPipeline? {
        guard let root else {
            diagnostics.append(Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), "\(file) is empty",
                                          hint: "start with 'version: 1' and a 'stages:' mapping"))
            return nil
        }
        var decoder = SchemaDecoder()
        guard let object = decoder.decodeObject(root, SpecSchema.pipeline, context: file) else {
            diagnostics += decoder.diagnostics
            return nil
        }
        var stages: [DecodedStage] = []
        for (name, stageObject) in object.namedObjects("stages") {
            if var stage = decodeStage(name, stageObject, diagnostics: &decoder.diagnostics) {
                stage.stage.commandTemplate = commandTemplates[name.value]
                stage.stage.fanOut = fanOuts[name.value]
                stages.append(stage)
            }
        }
        if case let .namedObjects(list)? = object.values["stages"], list.isEmpty, decoder.diagnostics.isEmpty, !declaresStages {
            decoder.diagnostics.append(Diagnostic(.warning, at: object.location(of: "stages"), "the pipeline declares no stages"))
        }
        let cache = decodeCache(object.object("cache"), diagnostics: &decoder.diagnostics)
        diagnostics += decoder.diagnostics
        guard object.values["version"] != nil, object.values["stages"] != nil else { return nil }
        return DecodedPipeline(pipeline: Pipeline(version: object.integer("version") ?? 1, stages: stages.map(\.stage), cache: cache), stages: stages)
    }

    /// `cache: {url: …}`, its URL checked where it is written.
    static func decodeCache(_ object: DecodedObject?, diagnostics: inout [Diagnostic]) -> CacheSettings? {
        guard let object, let url = object.string("url") else { return nil }
        if let problem = CacheSettings.problem(with: url) {
            diagnostics.append(Diagnostic(at: object.location(of: "url"), "the cache URL \(Redactor.none.redact(url)) \(problem)",
                                          hint: "write http://host/path, https://host/path or file:///folder"))
            return nil
        }
        return CacheSettings(url: url)
    }

    static func decodeStage(_ name: LocatedString, _ object: DecodedObject, diagnostics: inout [Diagnostic]) -> DecodedStage? {
        let context = "stage '\(name.value)'"
        let commands = object.strings("cmd")
        guard !commands.isEmpty else { return nil }
        let cmd = CommandList.script(commands.map(\.value))
        let deps = PathRule.check(object.strings("deps"), key: "deps", context: context, allowAbsolute: true, diagnostics: &diagnostics)
        let outEntries = object.outputs("outs"), metricEntries = object.outputs("metrics")
        let outs = PathRule.check(outEntries.map(\.path), key: "outs", context: context, allowAbsolute: false, diagnostics: &diagnostics)
        let metrics = PathRule.check(metricEntries.map(\.path), key: "metrics", context: context, allowAbsolute: false, diagnostics: &diagnostics)
        let options = OutputOptionsRule.decode(outEntries + metricEntries, outs: outs.map(\.value), context: context, diagnostics: &diagnostics)
        let wdir = object.string("wdir").flatMap { PathRule.checkFolder($0, at: object.location(of: "wdir"), key: "wdir", context: context, diagnostics: &diagnostics) }
        let secrets = object.strings("secrets")
        let env = object.variables("env")
        VariableRule.check(env: env, secrets: secrets, context: context, diagnostics: &diagnostics)
        for param in object.strings("params") {
            guard let problem = ParamReference(param.value).problem else { continue }
            diagnostics.append(Diagnostic(at: param.location, "\(context) \(problem.message)", hint: problem.hint))
        }
        let stage = Stage(
            name: name.value, cmd: cmd, deps: deps.map(\.value), outs: outs.map(\.value), metrics: metrics.map(\.value),
            params: object.strings("params").map(\.value),
            env: Dictionary(env.map { ($0.key.value, $0.value) }, uniquingKeysWith: { a, _ in a }),
            secrets: secrets.map(\.value), after: object.strings("after").map(\.value),
            timeout: object.number("timeout"), retries: object.integer("retries") ?? 0, check: object.string("check"),
            executor: object.string("executor").flatMap(ExecutorKind.init(rawValue:)),
            resources: ResourcesDecoder.decode(object.object("resources"), context: context, diagnostics: &diagnostics),
            location: name.location)
        var decoded = stage
        decoded.alwaysRun = object.boolean("always_run") ?? object.boolean("always_changed") ?? false
        if let a = object.boolean("always_run"), let b = object.boolean("always_changed"), a != b {
            diagnostics.append(Diagnostic(at: object.location(of: "always_changed"), "\(context) sets 'always_run' and 'always_changed', its other name, to different values",
                                          hint: "keep one of them"))
        }
        decoded.staleAfter = object.number("stale_after")
        decoded.frozen = object.boolean("frozen") ?? false
        decoded.wdir = wdir
        decoded.outputOptions = options
        let plots = PlotEntries.check(object.plots("plots"), context: context, diagnostics: &diagnostics)
        decoded.plots = plots.map(\.plot)
        var located = DecodedStage(stage: decoded, name: name, deps: deps, outs: outs, metrics: metrics,
                                   params: object.strings("params"), after: object.strings("after"))
        located.plotOutputs = plots.map(\.path).filter { decoded.plotOutputs.contains($0.value) }
        return located
    }
}

/// Paths in a spec: relative to the repository root, normalised so that `./build/x` and
/// `build//x` name the same file as `build/x` when stages are matched by path.
enum PathRule {
    /// Top-level folders Plumb owns; a stage writing there would corrupt history or the cache.
    static let reserved = [".git", ".plumb", SpecPaths.history]

    enum Normalised: Equatable { case path(String), empty, escapes }

    /// Lexical normalisation: no `.`, no empty parts, `..` resolved; never touches the disk.
    static func normalise(_ path: String) -> Normalised {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if parts.isEmpty { if absolute { continue } else { return .escapes } }
                parts.removeLast()
                continue
            }
            parts.append(part)
        }
        if parts.isEmpty { return absolute ? .path("/") : .empty }
        return .path((absolute ? "/" : "") + parts.joined(separator: "/"))
    }

    /// The normalised paths of one list; bad ones are reported and dropped.
    static func check(_ paths: [LocatedString], key: String, context: String, allowAbsolute: Bool,
                      diagnostics: inout [Diagnostic]) -> [LocatedString] {
        var out: [LocatedString] = []
        var seen: [String: SourceLocation] = [:]
        for item in paths {
            let raw = item.value
            if raw.hasPrefix("/"), !allowAbsolute {
                diagnostics.append(Diagnostic(at: item.location, "\(context) writes '\(raw)', an absolute path; \(key) must lie inside the repository",
                                              hint: "write to a path such as 'build/…'; a deploy stage can reach outside through $PLUMB_REPO"))
                continue
            }
            switch normalise(raw) {
            case .empty:
                diagnostics.append(Diagnostic(at: item.location, "'\(key)' of \(context) names the repository root ('\(raw)')",
                                              hint: "name a file or folder inside it"))
            case .escapes:
                diagnostics.append(Diagnostic(at: item.location, "'\(raw)' in '\(key)' of \(context) leaves the repository through '..'",
                                              hint: allowAbsolute ? "use an absolute path for data outside the repository" : "outputs must lie inside the repository"))
            case let .path(path):
                if !allowAbsolute, let top = path.split(separator: "/").first, reserved.contains(String(top)) {
                    diagnostics.append(Diagnostic(at: item.location, "\(context) writes '\(path)', inside '\(top)/', which Plumb owns",
                                                  hint: "write outputs elsewhere, e.g. under 'build/'"))
                    continue
                }
                if let first = seen[path] {
                    diagnostics.append(Diagnostic(.warning, at: item.location, "'\(path)' is listed twice in '\(key)' of \(context)",
                                                  hint: "the first is at line \(first.line)"))
                    continue
                }
                seen[path] = item.location
                out.append(LocatedString(value: path, location: item.location))
            }
        }
        return out
    }

    /// `wdir`: a folder inside the repository, normalised; nil (reported) otherwise.
    static func checkFolder(_ raw: String, at location: SourceLocation, key: String, context: String, diagnostics: inout [Diagnostic]) -> String? {
        switch normalise(raw) {
        case .path(let path) where !path.hasPrefix("/"):
            if let top = path.split(separator: "/").first, reserved.contains(String(top)) {
                diagnostics.append(Diagnostic(at: location, "'\(key)' of \(context) is '\(path)', inside '\(top)/', which Plumb owns",
                                              hint: "run the command from a folder of the project"))
                return nil
            }
            return path
        case .empty:
            return nil  // `wdir: .` is the root, where commands run anyway
        default:
            diagnostics.append(Diagnostic(at: location, "'\(key)' of \(context) is '\(raw)', which is not a folder inside the repository",
                                          hint: "write a path relative to the repository root, such as 'src'"))
            return nil
        }
    }

    /// Whether `inner` is `outer` or lies inside the folder `outer`.
    static func contains(_ outer: String, _ inner: String) -> Bool {
        inner == outer || (inner.hasPrefix(outer) && inner.dropFirst(outer.count).first == "/")
    }
}

/// The options of `outs` and `metrics` entries (`- model.pkl: {cache: false}`).
enum OutputOptionsRule {
    /// Options by normalised path, for the entries that set any away from the defaults.
    static func decode(_ entries: [OutputEntry], outs: [String], context: String, diagnostics: inout [Diagnostic]) -> [String: OutputOptions] {
        var out: [String: OutputOptions] = [:]
        for entry in entries {
            guard let options = entry.options, case let .path(path) = PathRule.normalise(entry.path.value) else { continue }
            let value = OutputOptions(cache: options.boolean("cache") ?? true, persist: options.boolean("persist") ?? false)
            // A file inside one of the stage's out folders is stored with the folder.
            if path != outs.first(where: { PathRule.contains($0, path) }) ?? path, value != OutputOptions() {
                diagnostics.append(Diagnostic(at: options.location, "'\(path)' of \(context) lies inside one of its out folders, whose options it has",
                                              hint: "set cache and persist on the folder"))
                continue
            }
            if value != OutputOptions() { out[path] = value }
        }
        return out
    }
}

/// Variable names in `env` and `secrets`.
enum VariableRule {
    static func check(env: [LocatedString: String], secrets: [LocatedString], context: String, diagnostics: inout [Diagnostic]) {
        for name in env.keys.sorted(by: { $0.location < $1.location }) {
            check(name, key: "env", context: context, diagnostics: &diagnostics)
        }
        let envNames = Set(env.keys.map(\.value))
        for secret in secrets {
            check(secret, key: "secrets", context: context, diagnostics: &diagnostics)
            if envNames.contains(secret.value) {
                diagnostics.append(Diagnostic(at: secret.location, "'\(secret.value)' is both a variable and a secret in \(context)",
                                              hint: "a secret is passed through unrecorded; drop it from 'env'"))
            }
        }
    }

    private static func check(_ name: LocatedString, key: String, context: String, diagnostics: inout [Diagnostic]) {
        if !NameRule.isVariable(name.value) {
            diagnostics.append(Diagnostic(at: name.location, "'\(name.value)' in '\(key)' of \(context) is not a variable name",
                                          hint: "variable names use letters, digits and '_', and do not start with a digit"))
        } else if name.value.hasPrefix("PLUMB_") {
            diagnostics.append(Diagnostic(at: name.location, "'\(name.value)' in '\(key)' of \(context) is set by Plumb itself",
                                          hint: "PLUMB_ variables (PLUMB_ENV, PLUMB_STAGE, PLUMB_RUN_ID, PLUMB_PARAMS, PLUMB_REPO) are reserved"))
        } else if PlumbCredentials.contains(name.value) {
            diagnostics.append(Diagnostic(at: name.location, "'\(name.value)' in '\(key)' of \(context) is one of Plumb's own credentials, which no stage gets",
                                          hint: "give the stage a credential of its own under another name (a secret such as DEPLOY_TOKEN)"))
        }
    }
}

extension CacheSettings {
    /// The `cache:` section of a pipeline file, if it is there and valid. Only what opening the
    /// shared store needs: the rest of the file is `plumb validate`'s and the planner's to judge.
    package static func read(pipelineYAML data: Data, file: String) -> CacheSettings? {
        guard let root = (try? YAMLReader.parse(String(decoding: data, as: UTF8.self), file: file)) ?? nil else { return nil }
        var diagnostics: [Diagnostic] = []
        return PipelineDecoder.decode(root, file: file, diagnostics: &diagnostics)?.pipeline.cache
    }
}
