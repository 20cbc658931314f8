import Foundation

/// The outcome of reading a spec: the spec when it is valid, and every diagnostic either way.
package struct SpecLoadResult: Sendable {
    /// The spec; nil exactly when `diagnostics` holds an error.
    package var spec: Spec?
    /// Errors and warnings, sorted for display.
    package var diagnostics: [Diagnostic]

    package init(spec: Spec?, diagnostics: [Diagnostic]) {
        self.spec = spec
        self.diagnostics = diagnostics
    }
}

/// Reads and validates the spec of one source (a commit or a working tree).
///
/// Loading never throws and never traps on bad input: a broken file becomes diagnostics and
/// the other files are still checked, so `plumb validate` reports everything at once.
package enum SpecLoader {
    /// Reads `spec/params.yaml` (optional; first, since `${…}` in the pipeline may name its keys),
    /// `spec/pipeline.yaml` (required) with its `vars` files, and
    /// `environments/*.yaml`, decodes them and checks them against each other.
    package static func load(from source: SpecSource) -> SpecLoadResult {
        var diagnostics: [Diagnostic] = []

        var params: JSONValue? = .object([:])
        switch readYAML(SpecPaths.params, from: source, diagnostics: &diagnostics) {
        case .missing: break
        case .broken: params = nil
        case let .parsed(root):
            if let root, !root.kindIsNull {
                if case .mapping = root.kind {
                    var found: [Diagnostic] = []
                    let value = ParamsDecoder.decode(root, context: SpecPaths.params, diagnostics: &found)
                    diagnostics += found
                    params = found.hasErrors ? nil : value
                } else {
                    diagnostics.append(Diagnostic(at: root.location, "\(SpecPaths.params) must be a mapping, found \(ScalarResolver.typeName(root))",
                                                  hint: "write keys such as 'train:' with values nested below"))
                    params = nil
                }
            }
        }

        var pipeline: DecodedPipeline?
        switch readYAML(SpecPaths.pipeline, from: source, diagnostics: &diagnostics) {
        case .missing:
            diagnostics.append(Diagnostic(at: nil, "\(SpecPaths.pipeline) not found in \(source.label)",
                                          hint: "a Plumb repository declares its stages there; `plumb init` writes a starting one"))
        case let .parsed(root):
            // Templating first: the decoder and validator see the instances and resolved strings.
            let expanded = root.map { StageExpansion.expand($0, params: params ?? .object([:]), source: source, diagnostics: &diagnostics) }
            pipeline = PipelineDecoder.decode(expanded?.root, file: SpecPaths.pipeline,
                                              commandTemplates: expanded?.commandTemplates ?? [:], fanOuts: expanded?.fanOuts ?? [:],
                                              declaresStages: expanded?.declaresStages ?? false, diagnostics: &diagnostics)
        case .broken:
            break
        }

        var environments: [DecodedEnvironment] = []
        let names: [String]
        do {
            names = try source.files(in: SpecPaths.environments)
        } catch {
            diagnostics.append(Diagnostic(at: nil, "cannot list \(SpecPaths.environments)/ in \(source.label): \(error)"))
            names = []
        }
        for file in names {
            let path = "\(SpecPaths.environments)/\(file)"
            if file.hasSuffix(".yml") {
                diagnostics.append(Diagnostic(.warning, at: SourceLocation(file: path, line: 1, column: 1),
                                              "\(path) is ignored: environment files end in .yaml",
                                              hint: "rename it to \(SpecPaths.environments)/\(file.dropLast(4)).yaml"))
                continue
            }
            guard file.hasSuffix(".yaml"), !file.hasSuffix(".pin.json") else { continue }
            let name = String(file.dropLast(5))
            if case let .parsed(root) = readYAML(path, from: source, diagnostics: &diagnostics),
               let env = EnvironmentDecoder.decode(name: name, root, file: path, diagnostics: &diagnostics) {
                environments.append(env)
            }
        }

        var validator = SpecValidator(pipeline: pipeline, params: params, environments: environments, source: source)
        diagnostics += validator.run()
        if let pipeline, let params { diagnostics += commandProblems(pipeline.pipeline, params: params, environments: environments) }

        let paramFiles = pipeline.map { Self.paramFiles(of: $0, from: source, diagnostics: &diagnostics) } ?? [:]
        let sorted = diagnostics.sortedForDisplay()
        guard !sorted.hasErrors, let pipeline, let params else {
            if !sorted.hasErrors {
                // Unreachable by construction; kept so a spec is never returned half-decoded.
                return SpecLoadResult(spec: nil, diagnostics: sorted + [Diagnostic(at: nil, "the spec could not be decoded")])
            }
            return SpecLoadResult(spec: nil, diagnostics: sorted)
        }
        let spec = Spec(pipeline: pipeline.pipeline, params: params,
                        environments: Dictionary(environments.map { ($0.environment.name, $0.environment) }, uniquingKeysWith: { a, _ in a }),
                        paramFiles: paramFiles)
        return SpecLoadResult(spec: spec, diagnostics: sorted)
    }

    /// Commands that interpolate params but do not render with some environment's overrides
    /// (an override that turns a number into a mapping): found at validate time, not at planning.
    static func commandProblems(_ pipeline: Pipeline, params: JSONValue, environments: [DecodedEnvironment]) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for stage in pipeline.stages where stage.commandTemplate != nil {
            for decoded in environments {
                let environment = decoded.environment
                if case let .failure(problem) = stage.command(params: params.merging(environment.params)) {
                    out.append(Diagnostic(at: environment.location, "in environment '\(environment.name)', '${\(problem.reference)}' in the command of stage '\(stage.name)' \(problem.problem)",
                                          hint: "an override must keep the type of the param it replaces"))
                }
            }
        }
        return out
    }

    /// The other files stages take params from, read from the same source as the spec (so a
    /// plan of a commit reads that commit's), each once; every key a stage names must exist.
    static func paramFiles(of pipeline: DecodedPipeline, from source: SpecSource, diagnostics: inout [Diagnostic]) -> [String: JSONValue] {
        var files: [String: JSONValue] = [:]
        var unreadable: Set<String> = []
        for stage in pipeline.stages {
            for entry in stage.params {
                let reference = ParamReference(entry.value)
                guard let file = reference.file, reference.problem == nil, !unreadable.contains(file) else { continue }
                if files[file] == nil {
                    switch readYAML(file, from: source, diagnostics: &diagnostics) {
                    case .missing:
                        diagnostics.append(Diagnostic(at: entry.location, "stage '\(stage.name.value)' reads params from \(file), which is not in \(source.label)",
                                                      hint: "commit the file, or fix its path (relative to the repository)"))
                        unreadable.insert(file); continue
                    case .broken:
                        unreadable.insert(file); continue
                    case let .parsed(root):
                        guard let root, case .mapping = root.kind else {
                            diagnostics.append(Diagnostic(at: entry.location, "\(file) holds no mapping of params", hint: "stages read keys of a YAML or JSON object"))
                            unreadable.insert(file); continue
                        }
                        var found: [Diagnostic] = []
                        let value = ParamsDecoder.decode(root, context: file, diagnostics: &found)
                        diagnostics += found
                        if found.hasErrors { unreadable.insert(file); continue }
                        files[file] = value
                    }
                }
                if files[file]?.value(at: reference.key) == nil {
                    let known = files[file].map { ParamsDecoder.keyPaths($0) } ?? []
                    diagnostics.append(Diagnostic(at: entry.location, "stage '\(stage.name.value)' reads param '\(reference.key)' of \(file), which \(file) does not declare",
                                                  hint: Suggest.closest(to: reference.key, in: known).map { "did you mean '\($0)'?" } ?? "keys there: \(known.prefix(8).joined(separator: ", "))"))
                }
            }
        }
        return files
    }

    private enum Read { case missing, broken, parsed(YAMLNode?) }

    /// A file's YAML root: missing, broken (diagnostics appended), or parsed (nil for an empty document).
    private static func readYAML(_ path: String, from source: SpecSource, diagnostics: inout [Diagnostic]) -> Read {
        let data: Data?
        do { data = try source.read(path) } catch {
            diagnostics.append(Diagnostic(at: SourceLocation(file: path, line: 1, column: 1), "cannot read \(path): \(error)"))
            return .broken
        }
        guard let data else { return .missing }
        guard let text = String(data: data, encoding: .utf8) else {
            diagnostics.append(Diagnostic(at: invalidUTF8Location(data, file: path), "\(path) is not valid UTF-8",
                                          hint: "spec files are UTF-8 text"))
            return .broken
        }
        do {
            return .parsed(try YAMLReader.parse(text, file: path))
        } catch {
            diagnostics += error.diagnostics
            return .broken
        }
    }

    /// Where the first byte that is not UTF-8 sits, so an editor can jump to it.
    static func invalidUTF8Location(_ data: Data, file: String) -> SourceLocation {
        var line = 1, column = 1
        var iterator = data.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar):
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput, .error:
                return SourceLocation(file: file, line: line, column: column)
            }
        }
    }
}
