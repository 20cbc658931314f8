import Foundation

/// spec/pipeline.yaml after templating: what the schema decoder then checks as if written by hand.
struct ExpandedPipeline {
    var root: YAMLNode
    /// Commands that use spec/params.yaml, by stage name: rendered again for each environment.
    var commandTemplates: [String: CommandTemplate] = [:]
    /// The fan-out stage each instance came from, by instance name: `featurize-a` → `featurize`.
    var fanOuts: [String: String] = [:]
    /// The file declares stages, even if none expanded (all reported): no "no stages" warning then.
    var declaresStages = false
}

/// Reads `vars`, replaces each `foreach`/`matrix` stage by its instances and interpolates every
/// string of every stage, on the YAML tree, before decoding. Working on the tree keeps each
/// value's location, so later diagnostics about an instance point at the template's lines.
///
/// Deterministic: instances come in file order (a list's order, a mapping's order as written,
/// a matrix's axes as written with the last varying fastest) and take the template's place
/// among the stages. Shapes (`vars` is a list, …) are the schema decoder's to report; values
/// (unknown names, a matrix axis that is not a list, duplicate instances) are reported here.
enum StageExpansion {
    /// Joins a template's name and an instance's key: `featurize-a`, `evaluate-test-lr0_1`.
    static let separator = "-"
    /// A matrix larger than this is refused before it is built (a typo can multiply lists).
    static let maxInstances = 10_000

    /// One instance of a fan-out stage: its name suffix, the names it binds, where its item is written.
    struct Instance {
        var suffix: String
        var local: [String: JSONValue]
        var location: SourceLocation
    }

    static func expand(_ root: YAMLNode, params: JSONValue, source: SpecSource?, diagnostics: inout [Diagnostic]) -> ExpandedPipeline {
        guard case let .mapping(pairs) = root.kind else { return ExpandedPipeline(root: root) }
        var scope = TemplateScope()
        if case let .object(top) = params {
            for (name, value) in top { scope.names[name] = .init(value: value, origin: .params) }
        }
        for pair in pairs where pair.key.scalar == "vars" {
            readVars(pair.value, source: source, scope: &scope, diagnostics: &diagnostics)
        }
        var expansion = Expansion(scope: scope)
        var declaresStages = false
        var out: [YAMLNode.Pair] = []
        for pair in pairs {
            if pair.key.scalar == "stages", case let .mapping(stages) = pair.value.kind {
                var node = pair.value
                node.kind = .mapping(expansion.stages(stages))
                declaresStages = declaresStages || !stages.isEmpty
                out.append(.init(key: pair.key, value: node))
            } else {
                out.append(pair)
            }
        }
        diagnostics += expansion.diagnostics
        var expanded = root
        expanded.kind = .mapping(out)
        return ExpandedPipeline(root: expanded, commandTemplates: expansion.templates, fanOuts: expansion.fanOuts, declaresStages: declaresStages)
    }

    /// Adds the names of each `vars` entry: a params file (YAML or JSON, read from the same
    /// commit) or an inline mapping. A name declared twice, or also in spec/params.yaml, is refused.
    static func readVars(_ node: YAMLNode, source: SpecSource?, scope: inout TemplateScope, diagnostics: inout [Diagnostic]) {
        guard case let .sequence(items) = node.kind else { return }
        var declared: [String: SourceLocation] = [:]
        func add(_ name: String, _ value: JSONValue, at location: SourceLocation) {
            if let first = declared[name] {
                diagnostics.append(Diagnostic(at: location, "'\(name)' is declared twice in 'vars'",
                                              hint: "the first is at \(first.file):\(first.line):\(first.column); a name means one value"))
                return
            }
            if scope.names[name]?.origin == .params {
                diagnostics.append(Diagnostic(at: location, "'\(name)' in 'vars' is also a top-level key of \(SpecPaths.params)",
                                              hint: "rename one: '${\(name)}' would name both"))
                return
            }
            declared[name] = location
            scope.names[name] = .init(value: value, origin: .vars)
        }
        for item in items {
            switch item.kind {
            case let .scalar(raw, _) where !item.kindIsNull:
                guard case let .path(path) = PathRule.normalise(raw), !raw.hasPrefix("/") else {
                    diagnostics.append(Diagnostic(at: item.location, "the vars file '\(raw)' is not a path inside the repository",
                                                  hint: "name a YAML or JSON file relative to the repository root, e.g. spec/vars.yaml"))
                    continue
                }
                // spec/params.yaml is always in scope, with environment overrides; listing it changes nothing.
                if path == SpecPaths.params { continue }
                guard let source else { continue }
                guard let root = readFile(path, from: source, at: item.location, diagnostics: &diagnostics) else { continue }
                guard case let .mapping(filePairs) = root.kind else {
                    diagnostics.append(Diagnostic(at: root.location, "the vars file \(path) must be a mapping, found \(ScalarResolver.typeName(root))",
                                                  hint: "write names at the top level, e.g. 'seed: 42'"))
                    continue
                }
                var found: [Diagnostic] = []
                let value = ParamsDecoder.decode(root, context: path, diagnostics: &found)
                diagnostics += found
                guard !found.hasErrors, case let .object(object) = value else { continue }
                for pair in filePairs {
                    if let name = pair.key.scalar, let value = object[name] { add(name, value, at: pair.key.location) }
                }
            case let .mapping(inline):
                var found: [Diagnostic] = []
                let value = ParamsDecoder.decode(item, context: "'vars'", diagnostics: &found)
                diagnostics += found
                guard !found.hasErrors, case let .object(object) = value else { continue }
                for pair in inline {
                    if let name = pair.key.scalar, let value = object[name] { add(name, value, at: pair.key.location) }
                }
            default:
                continue
            }
        }
    }

    private static func readFile(_ path: String, from source: SpecSource, at location: SourceLocation, diagnostics: inout [Diagnostic]) -> YAMLNode? {
        let data: Data?
        do { data = try source.read(path) } catch {
            diagnostics.append(Diagnostic(at: location, "cannot read the vars file \(path): \(error)"))
            return nil
        }
        guard let data else {
            diagnostics.append(Diagnostic(at: location, "the vars file \(path) is not in \(source.label)",
                                          hint: "vars files are read from the same commit as the pipeline: commit it"))
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            diagnostics.append(Diagnostic(at: SpecLoader.invalidUTF8Location(data, file: path), "\(path) is not valid UTF-8"))
            return nil
        }
        do {
            guard let root = try YAMLReader.parse(text, file: path) else {
                diagnostics.append(Diagnostic(at: SourceLocation(file: path, line: 1, column: 1), "the vars file \(path) is empty"))
                return nil
            }
            return root
        } catch {
            diagnostics += error.diagnostics
            return nil
        }
    }
}

/// The state of expanding one `stages:` mapping.
private struct Expansion {
    var scope: TemplateScope
    var diagnostics: [Diagnostic] = []
    var templates: [String: CommandTemplate] = [:]
    var fanOuts: [String: String] = [:]
    /// Problems already reported: a template's mistake is reported once, not once per instance.
    private var reported: Set<Diagnostic> = []

    init(scope: TemplateScope) { self.scope = scope }

    mutating func report(_ found: [Diagnostic]) {
        for diagnostic in found where reported.insert(diagnostic).inserted { diagnostics.append(diagnostic) }
    }

    mutating func stages(_ pairs: [YAMLNode.Pair]) -> [YAMLNode.Pair] {
        // Names written by hand (first declaration), which no instance may take.
        var declared: [String: SourceLocation] = [:]
        for pair in pairs {
            guard let name = pair.key.scalar, !isFanOut(pair.value), declared[name] == nil else { continue }
            declared[name] = pair.key.location
        }
        var generated: [String: SourceLocation] = [:]
        var out: [YAMLNode.Pair] = []
        for pair in pairs {
            guard let name = pair.key.scalar, case let .mapping(body) = pair.value.kind else { out.append(pair); continue }
            let context = "stage '\(name)'"
            let fanOut: (instances: [StageExpansion.Instance], template: [YAMLNode.Pair])?
            if let foreach = body.first(where: { $0.key.scalar == "foreach" }) {
                fanOut = foreachStage(foreach, body: body, context: context, at: pair.key.location)
            } else if let matrix = body.first(where: { $0.key.scalar == "matrix" }) {
                fanOut = matrixStage(matrix, body: body, context: context)
            } else {
                var node = pair.value
                node.kind = .mapping(stageBody(body, name: name, context: context, scope: scope))
                out.append(.init(key: pair.key, value: node))
                continue
            }
            guard let fanOut else { continue }
            guard NameRule.isValid(name) else {
                report([Diagnostic(at: pair.key.location, "invalid stage name '\(name)'", hint: NameRule.hint(for: name))])
                continue
            }
            for instance in fanOut.instances {
                let instanceName = name + StageExpansion.separator + instance.suffix
                if let other = declared[instanceName] {
                    report([Diagnostic(at: instance.location, "stage '\(name)' makes the instance '\(instanceName)', which is also declared at line \(other.line)",
                                       hint: "rename the stage or the item; each stage name is unique")])
                    continue
                }
                if let first = generated[instanceName] {
                    report([Diagnostic(at: instance.location, "stage '\(name)' makes the instance '\(instanceName)' twice; the first comes from line \(first.line), column \(first.column)",
                                       hint: "instance names are the items made safe as names (lowercase; '.' and other characters become '_'): make the items differ")])
                    continue
                }
                generated[instanceName] = instance.location
                fanOuts[instanceName] = name
                var node = pair.value
                node.kind = .mapping(stageBody(fanOut.template, name: instanceName, context: context, scope: scope.with(instance.local)))
                out.append(.init(key: YAMLNode(kind: .scalar(instanceName, plain: true), location: pair.key.location), value: node))
            }
        }
        return out
    }

    private func isFanOut(_ node: YAMLNode) -> Bool {
        guard case let .mapping(body) = node.kind else { return false }
        return body.contains { $0.key.scalar == "foreach" || $0.key.scalar == "matrix" }
    }

    /// A stage's keys with every string interpolated; the command's params template is kept.
    private mutating func stageBody(_ body: [YAMLNode.Pair], name: String, context: String, scope: TemplateScope) -> [YAMLNode.Pair] {
        var interpolator = Interpolator(scope: scope)
        var out: [YAMLNode.Pair] = []
        for pair in body {
            if pair.key.scalar == "cmd", case let .scalar(text, _) = pair.value.kind, text.contains("${") {
                let resolved = interpolator.resolve(text, context: context) { Self.locate(pair.value, text, $0, keyColumn: pair.key.location.column) }
                if let resolved {
                    out.append(.init(key: pair.key, value: Self.scalar(resolved, like: pair.value)))
                    if let template = resolved.template { templates[name] = template }
                } else {
                    out.append(pair)
                }
                continue
            }
            if pair.key.scalar == "cmd", case let .sequence(items) = pair.value.kind {
                // Each command resolved on its own; the params template is the list's (CommandList).
                var resolvedItems: [YAMLNode] = []
                var commands: [CommandTemplate] = []
                var usesParams = false
                for item in items {
                    guard case let .scalar(text, _) = item.kind, text.contains("${") else {
                        resolvedItems.append(item)
                        if case let .scalar(text, _) = item.kind { commands.append(CommandTemplate(parts: [.text(text)])) }
                        continue
                    }
                    let resolved = interpolator.resolve(text, context: context) { Self.locate(item, text, $0, keyColumn: pair.key.location.column) }
                    resolvedItems.append(resolved.map { Self.scalar($0, like: item) } ?? item)
                    if let template = resolved?.template { usesParams = true; commands.append(template) }
                    else if let resolved { commands.append(CommandTemplate(parts: [.text(resolved.text)])) }
                }
                var node = pair.value
                node.kind = .sequence(resolvedItems)
                out.append(.init(key: pair.key, value: node))
                if usesParams, commands.count == items.count { templates[name] = CommandList.template(commands) }
                continue
            }
            out.append(.init(key: pair.key, value: interpolate(pair.value, keyColumn: pair.key.location.column, context: context, interpolator: &interpolator)))
        }
        report(interpolator.diagnostics)
        return out
    }

    /// The node with its strings resolved; a scalar that does not resolve (diagnosed) stays as
    /// written, except in a list, where it is dropped so that no check reports it a second time.
    private func interpolate(_ node: YAMLNode, keyColumn: Int, context: String, interpolator: inout Interpolator) -> YAMLNode {
        resolving(node, keyColumn: keyColumn, context: context, interpolator: &interpolator) ?? node
    }

    private func resolving(_ node: YAMLNode, keyColumn: Int, context: String, interpolator: inout Interpolator) -> YAMLNode? {
        var copy = node
        switch node.kind {
        case let .scalar(text, _):
            guard text.contains("${") else { return node }
            return interpolator.resolve(text, context: context, locate: { Self.locate(node, text, $0, keyColumn: keyColumn) })
                .map { Self.scalar($0, like: node) }
        case let .sequence(items):
            copy.kind = .sequence(items.compactMap { resolving($0, keyColumn: keyColumn, context: context, interpolator: &interpolator) })
        case let .mapping(pairs):
            // Keys too: an out with options is `- build/${item}/model: {persist: true}`.
            copy.kind = .mapping(pairs.map {
                .init(key: interpolate($0.key, keyColumn: keyColumn, context: context, interpolator: &interpolator),
                      value: interpolate($0.value, keyColumn: $0.key.location.column, context: context, interpolator: &interpolator))
            })
        }
        return copy
    }

    /// The node a resolved string becomes: a string, or, when the whole scalar was one reference
    /// to a number or boolean, that value as YAML would read it (`timeout: ${train.timeout}`).
    private static func scalar(_ resolved: Interpolator.Resolved, like node: YAMLNode) -> YAMLNode {
        var out = node
        out.tag = nil
        switch resolved.whole {
        case .int?, .double?, .bool?: out.kind = .scalar(resolved.text, plain: true)
        default: out.kind = .scalar(resolved.text, plain: false)
        }
        return out
    }

    /// Where the character at `offset` of a scalar's text is written. Exact for one-line scalars;
    /// in block scalars the line is exact and the column assumes the usual two-space indent.
    static func locate(_ node: YAMLNode, _ text: String, _ offset: Int, keyColumn: Int) -> SourceLocation {
        let before = text.prefix(offset)
        let newlines = before.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
        let inLine = before.lastIndex(of: "\n").map { before.distance(from: before.index(after: $0), to: before.endIndex) } ?? offset
        var location = node.location
        if node.block {
            location.line += 1 + newlines
            location.column = keyColumn + 2 + inLine
        } else if newlines == 0 {
            // A quoted scalar's location is its opening quote.
            if case .scalar(_, plain: false) = node.kind { location.column += 1 }
            location.column += offset
        } else {
            location.line += newlines
            location.column = inLine + 1
        }
        return location
    }

    // MARK: foreach

    private mutating func foreachStage(_ foreach: YAMLNode.Pair, body: [YAMLNode.Pair], context: String, at anchor: SourceLocation)
        -> (instances: [StageExpansion.Instance], template: [YAMLNode.Pair])? {
        for pair in body where !["foreach", "do", "desc"].contains(pair.key.scalar ?? "") {
            report([Diagnostic(at: pair.key.location, "'\(pair.key.scalar ?? "?")' of the foreach \(context) belongs under 'do:'",
                               hint: "a foreach stage holds 'foreach:' and 'do:', and 'do:' holds the stage every item runs")])
        }
        guard let doPair = body.first(where: { $0.key.scalar == "do" }) else {
            report([Diagnostic(at: anchor, "the foreach \(context) has no 'do'", hint: "write the stage every item runs under 'do:', with ${item} where the item goes")])
            return nil
        }
        guard case let .mapping(template) = doPair.value.kind else {
            report([Diagnostic(at: doPair.value.location, "'do' of \(context) must be a mapping (a stage), found \(ScalarResolver.typeName(doPair.value))")])
            return nil
        }
        if let nested = template.first(where: { $0.key.scalar == "matrix" || $0.key.scalar == "foreach" }) {
            report([Diagnostic(at: nested.key.location, "'do' of the foreach \(context) holds '\(nested.key.scalar ?? "")'; fan-outs do not nest",
                               hint: "use one 'matrix' with both lists as axes")])
            return nil
        }
        guard let items = collection(foreach.value, what: "'foreach'", example: "foreach: ${datasets}", context: context) else { return nil }
        var instances: [StageExpansion.Instance] = []
        switch items {
        case let .list(values):
            for (index, (value, location)) in values.enumerated() {
                let text = Templating.text(of: value).map(Templating.nameSafe) ?? ""
                instances.append(.init(suffix: text.isEmpty ? String(index) : text, local: ["item": value], location: location))
            }
        case let .mapping(entries):
            for (key, value, location) in entries {
                let text = Templating.nameSafe(key)
                instances.append(.init(suffix: text.isEmpty ? "_" : text, local: ["item": value, "key": .string(key)], location: location))
            }
        }
        if instances.isEmpty {
            report([Diagnostic(.warning, at: foreach.value.location, "'foreach' of \(context) is empty, so the stage has no instances")])
        }
        return (instances, template)
    }

    private enum Items {
        case list([(JSONValue, SourceLocation)])
        case mapping([(String, JSONValue, SourceLocation)])
    }

    /// A list or mapping written out, or `${name}` of one from vars or params.
    /// `what` names the value in messages ("'foreach'", "matrix axis 'lr'"); `example` is a fix.
    private mutating func collection(_ node: YAMLNode, what: String, example: String, context: String) -> Items? {
        var found: [Diagnostic] = []
        defer { report(found) }
        switch node.kind {
        case let .sequence(items):
            return .list(items.map { (ParamsDecoder.decode($0, context: "\(what) of \(context)", diagnostics: &found), $0.location) })
        case let .mapping(pairs):
            var out: [(String, JSONValue, SourceLocation)] = []
            var seen: Set<String> = []
            for pair in pairs {
                guard let name = pair.key.scalar, seen.insert(name).inserted else {
                    found.append(Diagnostic(at: pair.key.location, "duplicate key '\(pair.key.scalar ?? "?")' in \(what) of \(context)"))
                    continue
                }
                out.append((name, ParamsDecoder.decode(pair.value, context: "\(what) of \(context)", diagnostics: &found), pair.key.location))
            }
            return .mapping(out)
        case let .scalar(text, _):
            if text.contains("${") {
                var interpolator = Interpolator(scope: scope)
                let resolved = interpolator.resolve(text, context: context, allowCollection: true) { Self.locate(node, text, $0, keyColumn: node.location.column) }
                found += interpolator.diagnostics
                guard let resolved else { return nil }
                switch resolved.whole {
                case let .array(values)?: return .list(values.map { ($0, node.location) })
                case let .object(object)?: return .mapping(object.keys.sorted().map { ($0, object[$0]!, node.location) })
                default:
                    found.append(Diagnostic(at: node.location, "\(what) of \(context) is '\(text)', which is \(resolved.whole.map(Templating.typeName) ?? "a string"); expected a list or a mapping",
                                            hint: "name a list or mapping of vars or spec/params.yaml, e.g. '\(example)'"))
                    return nil
                }
            }
            fallthrough
        default:
            found.append(Diagnostic(at: node.location, "\(what) of \(context) must be a list, a mapping, or '${name}' of one; found \(ScalarResolver.typeName(node))",
                                    hint: "e.g. '\(example)' naming a list in vars, or the values written out as a list"))
            return nil
        }
    }

    // MARK: matrix

    private mutating func matrixStage(_ matrix: YAMLNode.Pair, body: [YAMLNode.Pair], context: String)
        -> (instances: [StageExpansion.Instance], template: [YAMLNode.Pair])? {
        let template = body.filter { $0.key.scalar != "matrix" }
        guard case let .mapping(axes) = matrix.value.kind, !axes.isEmpty else {
            report([Diagnostic(at: matrix.value.location, "'matrix' of \(context) must be a mapping of names to lists, found \(ScalarResolver.typeName(matrix.value))",
                               hint: "e.g. 'matrix: {model: [small, large], lr: [0.1, 0.01]}'; each instance sees ${item.model} and ${item.lr}")])
            return nil
        }
        var columns: [(axis: String, values: [(JSONValue, SourceLocation)])] = []
        var total = 1
        for pair in axes {
            guard let axis = pair.key.scalar else { continue }
            guard let items = collection(pair.value, what: "matrix axis '\(axis)'", example: "\(axis): ${\(axis)s}", context: context) else { return nil }
            guard case let .list(values) = items else {
                report([Diagnostic(at: pair.value.location, "matrix axis '\(axis)' of \(context) must be a list, found a mapping",
                                   hint: "write its values as a list: '\(axis): [a, b]'")])
                return nil
            }
            if values.isEmpty {
                report([Diagnostic(at: pair.value.location, "matrix axis '\(axis)' of \(context) is empty, so the matrix has no instances",
                                   hint: "give it at least one value, or remove the axis")])
                return nil
            }
            total = total.multipliedReportingOverflow(by: values.count).overflow ? Int.max : total * values.count
            columns.append((axis, values))
        }
        guard total <= StageExpansion.maxInstances else {
            report([Diagnostic(at: matrix.value.location, "'matrix' of \(context) makes \(total == Int.max ? "too many" : String(total)) instances; at most \(StageExpansion.maxInstances) are allowed",
                               hint: "split the stage, or drop an axis")])
            return nil
        }
        // The product in file order, the last axis varying fastest (as nested loops read).
        var instances: [(suffix: [String], item: [String: JSONValue], location: SourceLocation)] = [([], [:], matrix.value.location)]
        for column in columns {
            var next: [(suffix: [String], item: [String: JSONValue], location: SourceLocation)] = []
            next.reserveCapacity(instances.count * column.values.count)
            for partial in instances {
                for (index, (value, location)) in column.values.enumerated() {
                    let text = Templating.text(of: value).map(Templating.nameSafe) ?? ""
                    var item = partial.item
                    item[column.axis] = value
                    next.append((partial.suffix + [text.isEmpty ? "\(Templating.nameSafe(column.axis))\(index)" : text], item, location))
                }
            }
            instances = next
        }
        return (instances.map { .init(suffix: $0.suffix.joined(separator: StageExpansion.separator), local: ["item": .object($0.item)], location: $0.location) }, template)
    }
}
