import Foundation

/// What `plumb import dvc` makes of a DVC project: the spec text, the report, and whether Plumb
/// accepts the spec.
package struct DVCImportResult: Sendable {
    /// spec/pipeline.yaml as written; nil when dvc.yaml could not be read.
    package var pipeline: String?
    /// Line by line what was mapped, approximated, or left out; sorted by file and line.
    package var notes: [ImportNote]
    /// Why dvc.yaml could not be read, or what `plumb validate` finds in the written spec
    /// (located in spec/pipeline.yaml; each error also has an `unsupported` note at its dvc.yaml line).
    package var diagnostics: [Diagnostic]

    /// A spec exists and Plumb's own validator accepts it.
    package var isValid: Bool { pipeline != nil && !diagnostics.contains { $0.severity == .error } }
}

/// Translates a DVC project's `dvc.yaml` (with `params.yaml`, `dvc.lock` and `.dvc` files) into
/// Plumb's spec, which stays Plumb's own format: DVC's is an import, not a second dialect.
///
/// Pure: it reads only through the `SpecSource` it is given. Stages keep their commands exactly,
/// so scripts that read params.yaml keep working; their params are taken from that same file
/// (`params.yaml:train.lr`, docs/decisions.md "Importing DVC projects") rather than copied into
/// spec/params.yaml, so there is one file to edit. The written spec is validated as
/// `plumb validate` would, and every problem is reported at the dvc.yaml line that caused it.
package enum DVCImport {
    package static let file = "dvc.yaml"
    static let lockFile = "dvc.lock"
    /// DVC's params file when a stage names none; relative to the stage's `wdir`.
    static let defaultParams = "params.yaml"

    package static func run(_ source: SpecSource) -> DVCImportResult {
        let root: YAMLNode?
        do {
            guard let data = try source.read(file) else {
                return DVCImportResult(pipeline: nil, notes: [], diagnostics: [Diagnostic(at: nil, "no \(file) in \(source.label)",
                                                                                        hint: "run plumb import dvc in the folder that holds the DVC project's dvc.yaml (or give it with -C)")])
            }
            guard let text = String(data: data, encoding: .utf8) else {
                return DVCImportResult(pipeline: nil, notes: [], diagnostics: [Diagnostic(at: SpecLoader.invalidUTF8Location(data, file: file), "\(file) is not valid UTF-8")])
            }
            root = try YAMLReader.parse(text, file: file)
        } catch let error as DiagnosticsError {
            return DVCImportResult(pipeline: nil, notes: [], diagnostics: error.diagnostics)
        } catch {
            return DVCImportResult(pipeline: nil, notes: [], diagnostics: [Diagnostic(at: nil, "cannot read \(file): \(error)")])
        }
        guard let root, case let .mapping(pairs) = root.kind else {
            return DVCImportResult(pipeline: nil, notes: [], diagnostics: [Diagnostic(at: root?.location ?? SourceLocation(file: file, line: 1, column: 1),
                                                                                    "\(file) holds no mapping of stages", hint: "a dvc.yaml starts with 'stages:'")])
        }
        var importer = DVCImporter(source: source)
        importer.read(pairs)
        let written = importer.write()
        var notes = importer.notes
        let diagnostics = ImportedSpecSource.validate(written, over: source, notes: &notes)
        return DVCImportResult(pipeline: written.text, notes: notes.sortedForDisplay(), diagnostics: diagnostics)
    }
}

/// One entry of a stage's list (a path or a param), with its options, as Plumb will write it.
private struct Entry {
    enum Option { case bool(Bool), text(String), list([String]) }
    var value: String
    var options: [(key: String, value: Option)] = []
    var origin: SourceLocation
}

/// A stage being translated: what the Plumb stage will hold, with where each part came from.
private struct DraftStage {
    enum FanOut { case foreach(YAMLNode), matrix(YAMLNode) }
    var name: String
    var origin: SourceLocation
    var fanOut: FanOut?
    var desc: (String, SourceLocation)?
    var cmd: [(String, SourceLocation)] = []
    var cmdIsList = false
    var cmdOrigin: SourceLocation
    var wdir: (String, SourceLocation)?
    var deps: [Entry] = []
    var params: [Entry] = []
    var outs: [Entry] = []
    var metrics: [Entry] = []
    var plots: [Entry] = []
    var frozen: SourceLocation?
    var alwaysRun: SourceLocation?

    /// Every path it writes, for top-level `plots:` and `metrics:` to find their stage.
    var written: [String] { (outs + metrics + plots).map(\.value) }
}

/// The state of one import.
private struct DVCImporter {
    let source: SpecSource
    var notes: [ImportNote] = []
    private var vars: [(YAMLNode, SourceLocation)] = []
    private var varsFiles: [String] = []
    private var stages: [DraftStage] = []
    private var names: Set<String> = []
    private var templated = false
    private var top: SourceLocation { SourceLocation(file: DVCImport.file, line: 1, column: 1) }

    init(source: SpecSource) { self.source = source }

    mutating func note(_ kind: ImportNote.Kind, _ at: SourceLocation, _ message: String, hint: String? = nil) {
        notes.append(ImportNote(kind, at: at, message, hint: hint))
    }

    // MARK: reading dvc.yaml

    mutating func read(_ pairs: [YAMLNode.Pair]) {
        templated = pairs.contains { $0.key.scalar == "stages" && Self.holdsTemplate($0.value) }
        for pair in pairs where pair.key.scalar == "vars" { readVars(pair.value) }
        if listsDefaultParams, let at = (pairs.first { $0.key.scalar == "vars" } ?? pairs.first { $0.key.scalar == "stages" })?.key.location {
            note(.mapped, at, "params.yaml is listed first in vars: DVC reads it for ${…} without being told, Plumb reads what vars lists")
        }
        for pair in pairs where pair.key.scalar == "stages" {
            guard case let .mapping(list) = pair.value.kind else {
                note(.unsupported, pair.value.location, "'stages' is \(ScalarResolver.typeName(pair.value)), not a mapping of stages")
                continue
            }
            for stage in list { if let draft = readStage(stage.key, stage.value) { stages.append(draft) } }
        }
        for pair in pairs {
            let at = pair.key.location
            switch pair.key.scalar ?? "" {
            case "vars", "stages": continue
            case "plots": readTopPlots(pair.value)
            case "metrics": readTopMetrics(pair.value)
            case "params":
                note(.approximated, at, "top-level 'params' (files `dvc params diff` shows) is not needed: each stage's params are tracked per key",
                     hint: "`plumb params diff` compares spec/params.yaml; `plumb plan` names every changed param of params.yaml")
            case "artifacts":
                note(.unsupported, at, "'artifacts' (DVC's model registry) has no counterpart; Plumb promotes the outputs a run recorded",
                     hint: "declare the model as a stage output and promote it with `plumb promote dev staging`")
            case "datasets":
                note(.unsupported, at, "'datasets' has no counterpart in Plumb",
                     hint: "depend on the data's path; data outside git is hashed where it lies")
            case let key:
                note(.unsupported, at, "top-level '\(key)' is not part of DVC's dvc.yaml that Plumb knows, and was left out")
            }
        }
        readUnusedTrackedData()
        if (try? source.read(DVCImport.lockFile)) ?? nil != nil {
            note(.approximated, SourceLocation(file: DVCImport.lockFile, line: 1, column: 1),
                 "the hashes dvc.lock records are not imported: Plumb keeps its own records in history/, so the first `plumb reconcile` runs every stage",
                 hint: "DVC's cache is not read either; dvc.lock and .dvc/ can stay for as long as both tools are used")
        }
    }

    /// `.dvc` files beside the pipeline's paths (and at the root) that no stage reads: data DVC
    /// fetches that the spec does not need; an import among them is reported with how to fetch it.
    private mutating func readUnusedTrackedData() {
        var paths: [String] = []
        for stage in stages { paths += (stage.deps + stage.outs + stage.metrics + stage.plots).map(\.value) }
        var folders: [String] = ["", "data"]
        for path in paths where !DVCTemplate.isTemplated(path) {
            guard let inside = contained(path) else { continue }
            let parts = inside.split(separator: "/").dropLast()
            for n in 0...parts.count {
                let folder = parts.prefix(n).joined(separator: "/")
                if !folders.contains(folder) { folders.append(folder) }
            }
        }
        var read: Set<String> = []
        for stage in stages {
            for dep in stage.deps { if let tracked = DVCTrackedData.find(for: dep.value, in: source) { read.insert(tracked.file) } }
        }
        for folder in folders {
            for name in ((try? source.files(in: folder)) ?? []) where name.hasSuffix(".dvc") {
                let file = folder.isEmpty ? name : folder + "/" + name
                guard !read.contains(file), let data = DVCTrackedData.read(file, from: source) else { continue }
                let at = SourceLocation(file: file, line: 1, column: 1)
                let path = String(file.dropLast(4))
                if data == .added {
                    note(.mapped, at, "\(path) is DVC-tracked data that no stage reads; nothing in the spec")
                } else {
                    note(.unsupported, at, "\(path) comes from \(data.origin) and no stage reads it: nothing in the spec, and Plumb does not fetch it",
                         hint: data.fetchHint(dep: path, file: file))
                }
            }
        }
    }

    private static func holdsTemplate(_ node: YAMLNode) -> Bool {
        switch node.kind {
        case let .scalar(text, _): return DVCTemplate.isTemplated(text)
        case let .sequence(items): return items.contains(where: holdsTemplate)
        case let .mapping(pairs): return pairs.contains { holdsTemplate($0.value) || $0.key.scalar == "foreach" || $0.key.scalar == "matrix" }
        }
    }

    /// Top-level `vars`: files (`config.yaml`, or `config.yaml:a,b` for some keys) and inline mappings.
    private mutating func readVars(_ node: YAMLNode) {
        guard case let .sequence(items) = node.kind else {
            note(.unsupported, node.location, "'vars' is \(ScalarResolver.typeName(node)), not a list", hint: "write 'vars:' as a list of files and mappings")
            return
        }
        for item in items {
            switch item.kind {
            case let .scalar(text, _):
                let (path, keys) = Self.splitFile(text)
                if !ParamReference.extensions.contains(where: path.hasSuffix) {
                    note(.unsupported, item.location, "vars file '\(path)' is not YAML or JSON, which is all Plumb's vars read",
                         hint: "convert it to YAML, or write the values it holds inline")
                    continue
                }
                if keys.isEmpty {
                    note(.mapped, item.location, "vars file \(path)")
                } else {
                    note(.approximated, item.location, "vars file \(path) keeps all its names; Plumb's vars cannot take only \(keys.joined(separator: ", "))",
                         hint: "a name it holds that clashes with another vars name is reported by `plumb validate`")
                }
                if !varsFiles.contains(path) { varsFiles.append(path); vars.append((YAMLNode(kind: .scalar(path, plain: false), location: item.location), item.location)) }
            case .mapping:
                note(.mapped, item.location, "inline vars")
                vars.append((item, item.location))
            case .sequence:
                note(.unsupported, item.location, "a list inside 'vars' names nothing", hint: "write a file path or a mapping of names")
            }
        }
    }

    /// `file.yaml:a,b` → (`file.yaml`, [a, b]); `file.yaml` → (`file.yaml`, []).
    private static func splitFile(_ text: String) -> (String, [String]) {
        guard let colon = text.lastIndex(of: ":"), !text[text.index(after: colon)...].contains("/") else { return (text, []) }
        let keys = text[text.index(after: colon)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return (String(text[..<colon]), keys.filter { !$0.isEmpty })
    }

    // MARK: stages

    /// A Plumb name for a DVC stage name: DVC allows capitals and more; Plumb's names are ref-safe words.
    private mutating func plumbName(_ name: String, at location: SourceLocation) -> String {
        var candidate = Templating.nameSafe(name)
        if candidate.first.map({ !("a"..."z").contains($0) }) ?? true { candidate = "stage-" + candidate }
        var unique = candidate, n = 2
        while names.contains(unique) { unique = "\(candidate)-\(n)"; n += 1 }
        names.insert(unique)
        if unique != name {
            note(.approximated, location, "stage '\(name)' is named '\(unique)' in Plumb", hint: NameRule.hint(for: name))
        }
        return unique
    }

    private mutating func readStage(_ key: YAMLNode, _ value: YAMLNode) -> DraftStage? {
        guard let dvcName = key.scalar, case let .mapping(pairs) = value.kind else {
            note(.unsupported, key.location, "stage '\(key.scalar ?? "?")' is \(ScalarResolver.typeName(value)), not a mapping; left out")
            return nil
        }
        var draft = DraftStage(name: plumbName(dvcName, at: key.location), origin: key.location, cmdOrigin: key.location)
        var body = pairs
        if let foreach = pairs.first(where: { $0.key.scalar == "foreach" }) {
            guard let doPair = pairs.first(where: { $0.key.scalar == "do" }), case let .mapping(template) = doPair.value.kind else {
                note(.unsupported, foreach.key.location, "the foreach stage '\(dvcName)' has no 'do' mapping; left out")
                return nil
            }
            draft.fanOut = .foreach(foreach.value)
            note(.mapped, foreach.key.location, "foreach: one stage per item, named '\(draft.name)-<item>' (DVC: '\(dvcName)@<item>')",
                 hint: "name instances that way on the command line: plumb reconcile \(draft.name)-<item>, or \(draft.name) for all")
            for other in pairs where !["foreach", "do"].contains(other.key.scalar ?? "") {
                note(.unsupported, other.key.location, "'\(other.key.scalar ?? "?")' beside 'foreach' is left out", hint: "move it under 'do:'")
            }
            body = template
        } else if let matrix = pairs.first(where: { $0.key.scalar == "matrix" }) {
            draft.fanOut = .matrix(matrix.value)
            note(.mapped, matrix.key.location, "matrix: one stage per combination, named '\(draft.name)-<value>-<value>…' (DVC: '\(dvcName)@<value>-<value>…')",
                 hint: "'.' and other characters of values become '_' in names (0.1 → 0_1)")
            body = pairs.filter { $0.key.scalar != "matrix" }
        }
        let local = stageVars(body)
        if let wdir = body.first(where: { $0.key.scalar == "wdir" }), let text = wdir.value.scalar {
            let converted = DVCTemplate.convert(text, local: local, at: wdir.value.location, notes: &notes)
            switch PathRule.normalise(converted) {
            case .empty:
                note(.mapped, wdir.key.location, "wdir '\(text)' is the repository root, which is where Plumb runs commands anyway")
            case .escapes:
                note(.unsupported, wdir.key.location, "wdir '\(text)' leaves the repository; the stage runs at the root",
                     hint: "Plumb runs commands inside the repository's checkout; move the dvc.yaml or the stage's files")
            case let .path(path):
                draft.wdir = (path, wdir.value.location)
                note(.mapped, wdir.key.location, "wdir: the command runs in \(path); its paths are written from the repository root (prefixed with \(path)/)")
            }
        }
        for pair in body {
            let at = pair.key.location
            switch pair.key.scalar ?? "" {
            case "cmd": readCommand(pair.value, local: local, into: &draft)
            case "wdir", "vars": continue
            case "deps": draft.deps = readDeps(pair.value, local: local, wdir: draft.wdir?.0, stage: draft.name)
            case "params": draft.params = readParams(pair.value, local: local, wdir: draft.wdir?.0, into: &draft)
            case "outs": draft.outs = readOutputs(pair.value, key: "outs", local: local, wdir: draft.wdir?.0, into: &draft)
            case "metrics": draft.metrics = readOutputs(pair.value, key: "metrics", local: local, wdir: draft.wdir?.0, into: &draft)
            case "plots": draft.plots = readOutputs(pair.value, key: "plots", local: local, wdir: draft.wdir?.0, into: &draft)
            case "frozen":
                if isTrue(pair.value) {
                    draft.frozen = pair.value.location
                    note(.mapped, at, "frozen: never run; the outputs Plumb recorded are kept whatever the inputs become",
                         hint: "Plumb has no record of it yet, so the first reconcile refuses it: run it once with `plumb reconcile --force \(draft.name)`")
                }
                else { note(.mapped, at, "frozen: false is the default") }
            case "always_changed":
                if isTrue(pair.value) { draft.alwaysRun = pair.value.location; note(.mapped, at, "always_changed: written as always_run: true (runs on every reconcile)") }
                else { note(.mapped, at, "always_changed: false is the default") }
            case "desc":
                if let text = pair.value.scalar { draft.desc = (text, pair.value.location); note(.mapped, at, "desc") }
            case "meta":
                note(.approximated, at, "meta is left out: Plumb has no such key, and DVC does not act on it either",
                     hint: "keep what matters to people in 'desc' or a YAML comment")
            case let other:
                note(.unsupported, at, "'\(other)' of stage '\(draft.name)' is not a DVC stage key Plumb knows; left out")
            }
        }
        if draft.cmd.isEmpty {
            note(.unsupported, draft.origin, "stage '\(dvcName)' has no command; left out", hint: "DVC stages need 'cmd' too")
            return nil
        }
        return draft
    }

    private func isTrue(_ node: YAMLNode) -> Bool {
        if case .bool(true)? = ScalarResolver.resolve(node) { return true }
        return false
    }

    /// A stage's own `vars`, which Plumb does not have: their values are substituted into the stage.
    private mutating func stageVars(_ body: [YAMLNode.Pair]) -> [String: JSONValue] {
        guard let pair = body.first(where: { $0.key.scalar == "vars" }) else { return [:] }
        guard case let .sequence(items) = pair.value.kind else {
            note(.unsupported, pair.value.location, "the stage's 'vars' is not a list; left out")
            return [:]
        }
        var local: [String: JSONValue] = [:]
        for item in items {
            var found: [Diagnostic] = []
            switch item.kind {
            case .mapping:
                if case let .object(object) = ParamsDecoder.decode(item, context: "'vars'", diagnostics: &found), !found.hasErrors {
                    local.merge(object) { _, new in new }
                    note(.approximated, item.location, "the stage's own vars are substituted into its strings: Plumb's vars are the pipeline's",
                         hint: "move them to the top-level vars to keep them as names")
                }
            case let .scalar(text, _):
                let (path, keys) = Self.splitFile(text)
                guard let data = contained(path).flatMap({ try? source.read($0) }), let yaml = String(data: data, encoding: .utf8),
                      let root = (try? YAMLReader.parse(yaml, file: path)) ?? nil,
                      case let .object(object) = ParamsDecoder.decode(root, context: path, diagnostics: &found), !found.hasErrors else {
                    note(.unsupported, item.location, "the stage's vars file \(path) cannot be read as YAML or JSON; its names stay unresolved")
                    continue
                }
                local.merge(keys.isEmpty ? object : object.filter { keys.contains($0.key) }) { _, new in new }
                note(.approximated, item.location, "the values of \(path) are substituted into the stage's strings: Plumb's vars are the pipeline's",
                     hint: "list \(path) in the top-level vars to keep them as names")
            case .sequence:
                note(.unsupported, item.location, "a list inside 'vars' names nothing")
            }
        }
        return local
    }

    private mutating func convert(_ text: String, _ local: [String: JSONValue], at location: SourceLocation) -> String {
        DVCTemplate.convert(text, local: local, at: location, notes: &notes)
    }

    private mutating func readCommand(_ node: YAMLNode, local: [String: JSONValue], into draft: inout DraftStage) {
        draft.cmdOrigin = node.location
        switch node.kind {
        case let .scalar(text, _):
            let command = convert(text, local, at: node.location)
            draft.cmd = [(command, node.location)]
            note(.mapped, node.location, command == text ? "cmd, unchanged" : "cmd, with the stage's vars filled in and '\\${' written '$${'")
        case let .sequence(items):
            draft.cmdIsList = true
            draft.cmd = items.compactMap { item in item.scalar.map { (convert($0, local, at: item.location), item.location) } }
            note(.mapped, node.location, "cmd as a list: each command runs in order, stopping at the first that fails, as in DVC")
        case .mapping:
            note(.unsupported, node.location, "cmd is a mapping, which neither DVC nor Plumb runs")
        }
    }

    /// `path` written from the repository root: DVC's paths are relative to the stage's `wdir`.
    private mutating func rooted(_ path: String, wdir: String?, at location: SourceLocation) -> String? {
        guard let wdir, !path.hasPrefix("/") else { return path }
        switch PathRule.normalise(wdir + "/" + path) {
        case let .path(rooted): return rooted
        case .empty: return "."
        case .escapes:
            note(.unsupported, location, "'\(path)' in wdir \(wdir) lies outside the repository; left out",
                 hint: "use an absolute path for data outside the repository")
            return nil
        }
    }

    private static func isURL(_ path: String) -> Bool {
        guard let range = path.range(of: "://") else { return false }
        return path[..<range.lowerBound].allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" }
    }

    private mutating func readDeps(_ node: YAMLNode, local: [String: JSONValue], wdir: String?, stage: String) -> [Entry] {
        var out: [Entry] = []
        for item in Self.items(node) {
            guard let raw = item.scalar else {
                note(.unsupported, item.location, "a dep that is \(ScalarResolver.typeName(item)) is left out", hint: "list deps as paths")
                continue
            }
            let text = convert(raw, local, at: item.location)
            if Self.isURL(text) {
                note(.unsupported, item.location, "the dep \(text) is a URL (DVC's external dependency), which Plumb cannot hash; left out",
                     hint: "add a stage that downloads it (cmd: curl -fsSL -o data/… \(text)) with always_run: true, and depend on its output")
                continue
            }
            guard let path = rooted(text, wdir: wdir, at: item.location) else { continue }
            out.append(Entry(value: path, origin: item.location))
            if !DVCTemplate.isTemplated(path), let tracked = DVCTrackedData.find(for: path, in: source) {
                notes.append(tracked.data.note(dep: path, file: tracked.file, at: item.location))
            }
        }
        if !out.isEmpty { note(.mapped, node.location, "deps: \(out.count) path\(out.count == 1 ? "" : "s")\(wdir == nil ? "" : ", from the repository root")") }
        return out
    }

    /// Params: DVC's keys of params.yaml (in the stage's wdir) and `- file: [keys]` become Plumb's
    /// `file:key` entries of that very file, so the scripts keep reading what they read.
    private mutating func readParams(_ node: YAMLNode, local: [String: JSONValue], wdir: String?, into draft: inout DraftStage) -> [Entry] {
        var out: [Entry] = []
        let defaultFile = rooted(DVCImport.defaultParams, wdir: wdir, at: node.location) ?? DVCImport.defaultParams
        for item in Self.items(node) {
            switch item.kind {
            case let .scalar(raw, _):
                let key = convert(raw, local, at: item.location)
                out.append(Entry(value: "\(defaultFile):\(key)", origin: item.location))
                note(.mapped, item.location, "param \(key) of \(defaultFile), as \(defaultFile):\(key)")
            case let .mapping(pairs):
                for pair in pairs {
                    guard let raw = pair.key.scalar, let file = rooted(convert(raw, local, at: pair.key.location), wdir: wdir, at: pair.key.location) else { continue }
                    let keys = Self.items(pair.value).compactMap { $0.scalar.map { (convert($0, local, at: pair.value.location), $0) } }
                    let readable = ParamReference.extensions.contains(where: file.hasSuffix)
                    if !readable {
                        draft.deps.append(Entry(value: file, origin: pair.key.location))
                        note(.approximated, pair.key.location, "params of \(file) become a dep on the whole file: Plumb reads params from YAML and JSON only",
                             hint: "any edit of \(file) reruns the stage, not only a change of \(keys.isEmpty ? "its values" : keys.map(\.0).joined(separator: ", "))")
                        continue
                    }
                    if keys.isEmpty {
                        let top = topLevelKeys(file)
                        if top.isEmpty {
                            draft.deps.append(Entry(value: file, origin: pair.key.location))
                            note(.approximated, pair.key.location, "all params of \(file) become a dep on the file: its keys cannot be read now")
                        } else {
                            for key in top { out.append(Entry(value: "\(file):\(key)", origin: pair.key.location)) }
                            note(.approximated, pair.key.location, "all params of \(file) become its top-level keys as they are now (\(top.joined(separator: ", ")))",
                                 hint: "a top-level key added to \(file) later must be added to the stage's params")
                        }
                        continue
                    }
                    for (key, _) in keys { out.append(Entry(value: "\(file):\(key)", origin: pair.value.location)) }
                    note(.mapped, pair.key.location, "params \(keys.map(\.0).joined(separator: ", ")) of \(file), as \(file):<key>")
                }
            case .sequence:
                note(.unsupported, item.location, "a list inside 'params' names nothing")
            }
        }
        return out
    }

    /// `path` when it names a file inside the repository (relative, not climbing out), normalised.
    private func contained(_ path: String) -> String? {
        guard !path.hasPrefix("/"), case let .path(inside) = PathRule.normalise(path) else { return nil }
        return inside
    }

    /// The top-level keys of a YAML or JSON file of the project, in file order; [] when it cannot be read.
    private func topLevelKeys(_ file: String) -> [String] {
        guard let data = contained(file).flatMap({ try? source.read($0) }), let text = String(data: data, encoding: .utf8),
              let root = (try? YAMLReader.parse(text, file: file)) ?? nil, case let .mapping(pairs) = root.kind else { return [] }
        return pairs.compactMap(\.key.scalar)
    }

    /// DVC's output options: which Plumb takes, which it does without.
    private static let plotFormats = [".csv", ".tsv", ".json", ".yaml", ".yml"]
    private static let metricsFormats = [".json", ".yaml", ".yml"]

    /// `outs`, `metrics` or `plots` entries: a path, or `- path: {options}`. Options Plumb has are kept
    /// (`cache`, `persist`; for plots `x`, `y`, `title`); the others are reported.
    private mutating func readOutputs(_ node: YAMLNode, key: String, local: [String: JSONValue], wdir: String?, into draft: inout DraftStage) -> [Entry] {
        var out: [Entry] = []
        for item in Self.items(node) {
            var raw: String?, options: [YAMLNode.Pair] = [], at = item.location
            switch item.kind {
            case let .scalar(text, _): raw = text
            case let .mapping(pairs) where pairs.count == 1:
                raw = pairs[0].key.scalar; at = pairs[0].key.location
                if case let .mapping(fields) = pairs[0].value.kind { options = fields }
            default:
                note(.unsupported, item.location, "an entry of '\(key)' that is \(ScalarResolver.typeName(item)) is left out", hint: "write a path, or '- path: {options}'")
                continue
            }
            guard let raw, let path = rooted(convert(raw, local, at: at), wdir: wdir, at: at) else { continue }
            var entry = Entry(value: path, origin: at)
            var dropped: [String] = []
            var destination = key
            for option in options {
                let name = option.key.scalar ?? "?"
                switch (name, key) {
                case ("cache", _):
                    if case .bool(false)? = ScalarResolver.resolve(option.value), key != "plots" {
                        entry.options.append(("cache", .bool(false)))
                    } else if case .bool(true)? = ScalarResolver.resolve(option.value) {
                        continue
                    } else {
                        dropped.append("cache: false (a plot is kept in Plumb's store)")
                    }
                case ("persist", _):
                    if case .bool(true)? = ScalarResolver.resolve(option.value), key != "plots" { entry.options.append(("persist", .bool(true))) }
                    else if case .bool(true)? = ScalarResolver.resolve(option.value) { dropped.append("persist") }
                case ("checkpoint", _):
                    if case .bool(true)? = ScalarResolver.resolve(option.value), key != "plots" {
                        entry.options.append(("persist", .bool(true)))
                        note(.approximated, option.key.location, "checkpoint: true (removed in DVC 3) is written as persist: true: the output is kept between runs")
                    }
                case ("x", "plots"), ("title", "plots"):
                    if let text = option.value.scalar { entry.options.append((name, .text(convert(text, local, at: option.value.location)))) }
                case ("y", "plots"):
                    if let text = option.value.scalar { entry.options.append(("y", .text(convert(text, local, at: option.value.location)))) }
                    else { entry.options.append(("y", .list(Self.items(option.value).compactMap(\.scalar)))) }
                case ("push", _):
                    if case .bool(false)? = ScalarResolver.resolve(option.value) { dropped.append("push: false (Plumb uploads every output to the shared store when one is configured)") }
                case ("remote", _): dropped.append("remote (Plumb has one shared store: cache.url)")
                case ("desc", _), ("type", _), ("labels", _), ("meta", _): dropped.append(name)
                case ("template", "plots"):
                    dropped.append("template (Plumb draws every plot as lines)")
                case ("x_label", "plots"), ("y_label", "plots"):
                    dropped.append("\(name) (Plumb labels an axis with its column)")
                case ("header", "plots"):
                    dropped.append("header (Plumb reads a CSV's first row as its header)")
                default: dropped.append(name)
                }
            }
            if key == "metrics", !Self.metricsFormats.contains(where: path.hasSuffix) {
                destination = "outs"
                note(.approximated, at, "metrics file \(path) becomes an output: Plumb records metrics from JSON and YAML",
                     hint: "write the metrics as JSON to have them recorded and usable in gates")
            }
            if key == "plots", !Self.plotFormats.contains(where: path.hasSuffix), !DVCTemplate.isTemplated(path) {
                destination = "outs"
                entry.options = entry.options.filter { $0.key == "cache" || $0.key == "persist" }
                note(.approximated, at, "plot \(path) becomes an output: Plumb draws plots from CSV, TSV, JSON and YAML data, not images",
                     hint: "the file is still stored and checked out like any output")
            }
            if !dropped.isEmpty {
                note(.approximated, at, "\(path): \(dropped.joined(separator: ", ")) left out")
            }
            if !entry.options.isEmpty {
                let written = entry.options.map { "\($0.key): \(Self.render($0.value))" }.joined(separator: ", ")
                let kept = entry.options.contains { $0.key == "cache" }
                note(.mapped, at, "\(path) with {\(written)}\(kept ? ": kept in git with the run's record, not in the artifact store" : "")",
                     hint: kept ? "Plumb keeps files of at most 10 MiB that way, not folders" : nil)
            }
            switch destination {
            case "outs" where key != "outs": draft.outs.append(entry)
            default: out.append(entry)
            }
        }
        if !out.isEmpty { note(.mapped, node.location, "\(key): \(out.count) path\(out.count == 1 ? "" : "s")\(wdir == nil ? "" : ", from the repository root")") }
        return out
    }

    private static func items(_ node: YAMLNode) -> [YAMLNode] {
        switch node.kind {
        case let .sequence(items): return items
        case .scalar where !node.isNull: return [node]
        default: return []
        }
    }

    // MARK: top-level plots and metrics

    /// The stage (index) that writes `path`, or lies around it in a folder output; fan-out stages
    /// are skipped (their paths are only known once expanded).
    private func producer(of path: String) -> Int? {
        stages.indices.first { i in
            stages[i].fanOut == nil && stages[i].written.contains { PathRule.contains($0, path) }
        }
    }

    /// DVC's top-level `plots:` draws files stages write; in Plumb a plot belongs to the stage that
    /// writes it, so each one moves there.
    private mutating func readTopPlots(_ node: YAMLNode) {
        for item in Self.items(node) {
            var id: String?, fields: [YAMLNode.Pair] = [], at = item.location
            switch item.kind {
            case let .scalar(text, _): id = text
            case let .mapping(pairs) where pairs.count == 1:
                id = pairs[0].key.scalar; at = pairs[0].key.location
                if case let .mapping(f) = pairs[0].value.kind { fields = f }
            default:
                note(.unsupported, item.location, "a plot that is \(ScalarResolver.typeName(item)) is left out")
                continue
            }
            guard let id else { continue }
            // y: {file: field(s)} names the files; otherwise the id is the file.
            var files: [(path: String, y: [String])] = []
            if let y = fields.first(where: { $0.key.scalar == "y" })?.value, case let .mapping(perFile) = y.kind {
                for pair in perFile { if let file = pair.key.scalar { files.append((file, Self.items(pair.value).compactMap(\.scalar))) } }
            } else {
                let y = fields.first { $0.key.scalar == "y" }.map { Self.items($0.value).compactMap(\.scalar) } ?? []
                files.append((id, y))
            }
            var x: String?
            if let xNode = fields.first(where: { $0.key.scalar == "x" })?.value {
                if let text = xNode.scalar { x = text }
                else if case let .mapping(perFile) = xNode.kind, perFile.count == 1 { x = perFile[0].value.scalar }
                else { note(.approximated, xNode.location, "x per file is left out: each file's chart uses its first column") }
            }
            let title = fields.first { $0.key.scalar == "title" }?.value.scalar
            for option in fields where !["x", "y", "title"].contains(option.key.scalar ?? "") {
                note(.approximated, option.key.location, "\(option.key.scalar ?? "?") of plot '\(id)' is left out (Plumb draws every plot as lines)")
            }
            if files.count > 1 {
                note(.approximated, at, "plot '\(id)' draws \(files.count) files on one chart; Plumb draws one chart per file")
            }
            for file in files {
                guard let index = producer(of: file.path) else {
                    note(.unsupported, at, "plot '\(id)' draws \(file.path), which no stage writes; left out",
                         hint: "Plumb's plots are files a stage writes: list it in that stage's plots")
                    continue
                }
                if !Self.plotFormats.contains(where: file.path.hasSuffix) {
                    note(.approximated, at, "plot \(file.path) stays an output of stage '\(stages[index].name)': Plumb draws plots from CSV, TSV, JSON and YAML data, not images",
                         hint: "the file is still stored and checked out like any output")
                    continue
                }
                var entry = Entry(value: file.path, origin: at)
                if let x { entry.options.append(("x", .text(x))) }
                if file.y.count == 1 { entry.options.append(("y", .text(file.y[0]))) } else if !file.y.isEmpty { entry.options.append(("y", .list(file.y))) }
                if let title { entry.options.append(("title", .text(title))) }
                stages[index].outs.removeAll { $0.value == file.path }
                if let existing = stages[index].plots.firstIndex(where: { $0.value == file.path }) {
                    // The stage's own options win; the top-level ones fill what it left out.
                    let own = Set(stages[index].plots[existing].options.map(\.key))
                    stages[index].plots[existing].options += entry.options.filter { !own.contains($0.key) }
                } else {
                    stages[index].plots.append(entry)
                }
                note(.approximated, at, "plot \(file.path) is declared in the plots of stage '\(stages[index].name)', which writes it")
            }
        }
    }

    /// DVC 3's top-level `metrics:` lists metrics files; in Plumb they belong to the stage that writes them.
    private mutating func readTopMetrics(_ node: YAMLNode) {
        for item in Self.items(node) {
            guard let path = item.scalar else { continue }
            guard let index = producer(of: path) else {
                note(.unsupported, item.location, "metrics file \(path) is written by no stage; left out",
                     hint: "Plumb records metrics files that a stage declares")
                continue
            }
            if stages[index].metrics.contains(where: { $0.value == path }) {
                note(.mapped, item.location, "metrics file \(path) is already in the metrics of stage '\(stages[index].name)'")
                continue
            }
            let options = stages[index].outs.first { $0.value == path }?.options ?? []
            stages[index].outs.removeAll { $0.value == path }
            stages[index].metrics.append(Entry(value: path, options: options, origin: item.location))
            note(.mapped, item.location, "metrics file \(path) is declared in the metrics of stage '\(stages[index].name)', which writes it")
        }
    }

    // MARK: writing

    /// DVC reads params.yaml for `${…}` without being told; Plumb reads only what vars lists.
    private var listsDefaultParams: Bool {
        templated && !varsFiles.contains(DVCImport.defaultParams) && ((try? source.read(DVCImport.defaultParams)) ?? nil) != nil
    }

    func write() -> SpecText {
        var text = SpecText()
        text.line("# Imported from dvc.yaml by `plumb import dvc`; the report says what was mapped and how.", nil)
        text.line("version: 1", nil)
        if listsDefaultParams || !vars.isEmpty {
            text.line("vars:", vars.first?.1)
            if listsDefaultParams { text.line("- \(DVCImport.defaultParams)", nil, indent: 2) }
            for (node, _) in vars { text.node(nil, node, indent: 2) }
        }
        text.line("stages:", nil)
        for stage in stages { write(stage, into: &text) }
        return text
    }

    private func write(_ stage: DraftStage, into text: inout SpecText) {
        text.line("\(stage.name):", stage.origin, indent: 2)
        var indent = 4
        switch stage.fanOut {
        case let .foreach(items)?:
            text.node("foreach", items, indent: 4)
            text.line("do:", stage.origin, indent: 4)
            indent = 6
        case let .matrix(axes)?:
            text.node("matrix", axes, indent: 4)
        case nil: break
        }
        if let (desc, at) = stage.desc { text.string("desc", desc, at, indent: indent) }
        if stage.cmdIsList {
            text.line("cmd:", stage.cmdOrigin, indent: indent)
            for (command, at) in stage.cmd { text.item(command, at, indent: indent + 2) }
        } else if let (command, at) = stage.cmd.first {
            text.string("cmd", command, at, indent: indent)
        }
        if let (wdir, at) = stage.wdir { text.string("wdir", wdir, at, indent: indent) }
        for (key, entries) in [("deps", stage.deps), ("params", stage.params), ("outs", stage.outs), ("metrics", stage.metrics), ("plots", stage.plots)] where !entries.isEmpty {
            text.line("\(key):", entries[0].origin, indent: indent)
            for entry in entries {
                if entry.options.isEmpty {
                    text.item(entry.value, entry.origin, indent: indent + 2)
                } else {
                    let options = entry.options.map { "\($0.key): \(Self.render($0.value))" }.joined(separator: ", ")
                    text.line("- \(SpecText.scalar(entry.value)): {\(options)}", entry.origin, indent: indent + 2)
                }
            }
        }
        if let at = stage.frozen { text.line("frozen: true", at, indent: indent) }
        if let at = stage.alwaysRun { text.line("always_run: true", at, indent: indent) }
    }

    private static func render(_ option: Entry.Option) -> String {
        switch option {
        case let .bool(value): return value ? "true" : "false"
        case let .text(text): return SpecText.scalar(text, flow: true)
        case let .list(items): return "[" + items.map { SpecText.scalar($0, flow: true) }.joined(separator: ", ") + "]"
        }
    }
}
