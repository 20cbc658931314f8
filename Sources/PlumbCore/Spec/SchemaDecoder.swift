import Foundation

/// A string from a spec file with the place it was written, so later checks can point at it.
struct LocatedString: Sendable, Hashable {
    package var value: String
    package var location: SourceLocation
}

/// One entry of `outs` or `metrics`: its path, and its options when it has any.
struct OutputEntry {
    var path: LocatedString
    var options: DecodedObject?
}

/// A value checked against a `SchemaType`.
enum SchemaValue {
    case string(String)
    case strings([LocatedString])
    case outputs([OutputEntry])
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    case variables([LocatedString: String])
    case mapping(YAMLNode)
    case objects([DecodedObject])
    case object(DecodedObject)
    case namedObjects([(name: LocatedString, object: DecodedObject)])
    case plots([LocatedPlot])
}

/// A mapping whose keys and value types matched a `SchemaObject`. Fields that failed their
/// check are absent (their diagnostics are already recorded), so later steps see only good values.
struct DecodedObject {
    var location: SourceLocation
    var values: [String: SchemaValue] = [:]
    var keyLocations: [String: SourceLocation] = [:]
    var valueLocations: [String: SourceLocation] = [:]

    func string(_ key: String) -> String? { if case let .string(s)? = values[key] { return s }; return nil }
    func strings(_ key: String) -> [LocatedString] { if case let .strings(s)? = values[key] { return s }; return [] }
    func outputs(_ key: String) -> [OutputEntry] { if case let .outputs(o)? = values[key] { return o }; return [] }
    func hasStrings(_ key: String) -> Bool { if case .strings? = values[key] { return true }; return false }
    func integer(_ key: String) -> Int? { if case let .integer(i)? = values[key] { return i }; return nil }
    func number(_ key: String) -> Double? { if case let .number(d)? = values[key] { return d }; return nil }
    func boolean(_ key: String) -> Bool? { if case let .boolean(b)? = values[key] { return b }; return nil }
    func variables(_ key: String) -> [LocatedString: String] { if case let .variables(v)? = values[key] { return v }; return [:] }
    func mapping(_ key: String) -> YAMLNode? { if case let .mapping(m)? = values[key] { return m }; return nil }
    func objects(_ key: String) -> [DecodedObject] { if case let .objects(o)? = values[key] { return o }; return [] }
    func object(_ key: String) -> DecodedObject? { if case let .object(o)? = values[key] { return o }; return nil }
    func namedObjects(_ key: String) -> [(name: LocatedString, object: DecodedObject)] {
        if case let .namedObjects(o)? = values[key] { return o }; return []
    }
    /// Where the value of `key` is written, else its key, else the mapping.
    func location(of key: String) -> SourceLocation { valueLocations[key] ?? keyLocations[key] ?? location }
}

/// Checks YAML nodes against `SpecSchema` declarations, collecting every problem rather than
/// stopping at the first.
struct SchemaDecoder {
    var diagnostics: [Diagnostic] = []

    mutating func error(_ at: SourceLocation?, _ message: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(.error, at: at, message, hint: hint))
    }

    /// Checks a mapping against `shape`. `context` names it in messages ("stage 'train'");
    /// `anchor` is where to report a missing key (the stage's name rather than its first key).
    mutating func decodeObject(_ node: YAMLNode, _ shape: SchemaObject, context: String,
                               anchor: SourceLocation? = nil) -> DecodedObject? {
        guard case let .mapping(pairs) = node.kind else {
            error(node.location, "\(context) must be a mapping, found \(ScalarResolver.typeName(node))",
                  hint: "expected keys: \(shape.keys.joined(separator: ", "))")
            return nil
        }
        var object = DecodedObject(location: anchor ?? node.location)
        var seen: [String: SourceLocation] = [:]
        for pair in pairs {
            guard let key = scalarKey(pair.key, context: context) else { continue }
            if let first = seen[key] {
                error(pair.key.location, "duplicate key '\(key)' in \(context)", hint: "the first is at line \(first.line); remove one")
                continue
            }
            seen[key] = pair.key.location
            guard let field = shape.field(key) else {
                let hint = Suggest.closest(to: key, in: shape.keys).map { "did you mean '\($0)'?" }
                    ?? "allowed keys: \(shape.keys.joined(separator: ", "))"
                error(pair.key.location, "unknown key '\(key)' in \(context)", hint: hint)
                continue
            }
            object.keyLocations[key] = pair.key.location
            object.valueLocations[key] = pair.value.location
            // An empty optional key (`deps:`) means the same as leaving it out.
            if pair.value.kindIsNull, !field.required { continue }
            if let value = decodeValue(pair.value, field.type, key: key, context: context) {
                object.values[key] = value
            }
        }
        for field in shape.fields where field.required && seen[field.name] == nil {
            error(anchor ?? node.location, "\(context) has no '\(field.name)'", hint: "'\(field.name)' is required: \(field.doc)")
        }
        if !shape.requiresOneOf.isEmpty, !shape.requiresOneOf.contains(where: { seen[$0] != nil }) {
            error(anchor ?? node.location, "\(context) needs at least one of \(shape.requiresOneOf.map { "'\($0)'" }.joined(separator: ", "))")
        }
        return object
    }

    /// A mapping key as text; a key that is itself a list or mapping is reported.
    mutating func scalarKey(_ key: YAMLNode, context: String) -> String? {
        guard case let .scalar(text, _) = key.kind else {
            error(key.location, "a key in \(context) is \(ScalarResolver.typeName(key)); keys must be strings")
            return nil
        }
        return text
    }

    private mutating func mismatch(_ node: YAMLNode, _ type: SchemaType, key: String, context: String, hint: String? = nil) {
        error(node.location, "'\(key)' in \(context): expected \(type.expectation), found \(ScalarResolver.typeName(node))", hint: hint)
    }

    mutating func decodeValue(_ node: YAMLNode, _ type: SchemaType, key: String, context: String) -> SchemaValue? {
        switch type {
        case let .string(nonEmpty):
            guard let text = scalarText(node) else { mismatch(node, type, key: key, context: context); return nil }
            if nonEmpty, text.allSatisfy(\.isWhitespace) {
                error(node.location, "'\(key)' in \(context) is empty"); return nil
            }
            return .string(text)

        case let .choice(words):
            guard let text = scalarText(node) else { mismatch(node, type, key: key, context: context); return nil }
            guard words.contains(text) else {
                error(node.location, "'\(key)' in \(context) is '\(text)'; expected \(type.expectation)",
                      hint: Suggest.closest(to: text, in: words).map { "did you mean '\($0)'?" })
                return nil
            }
            return .string(text)

        case .strings:
            if let text = scalarText(node) { return .strings([LocatedString(value: text, location: node.location)]) }
            guard case let .sequence(items) = node.kind else {
                mismatch(node, type, key: key, context: context); return nil
            }
            var out: [LocatedString] = []
            var ok = true
            for item in items {
                guard let text = scalarText(item) else {
                    error(item.location, "'\(key)' in \(context): expected a list of strings, found \(ScalarResolver.typeName(item)) in the list")
                    ok = false; continue
                }
                out.append(LocatedString(value: text, location: item.location))
            }
            return ok ? .strings(out) : nil

        case .commands:
            // A list is kept as strings; PipelineDecoder joins it into one script (CommandList).
            guard scalarText(node) != nil || { if case .sequence = node.kind { return true }; return false }() else {
                mismatch(node, type, key: key, context: context); return nil
            }
            if case .sequence(let items) = node.kind, items.isEmpty {
                error(node.location, "'\(key)' in \(context) is an empty list", hint: "give at least one command"); return nil
            }
            guard case let .strings(commands)? = decodeValue(node, .strings, key: key, context: context) else { return nil }
            for command in commands where command.value.allSatisfy(\.isWhitespace) {
                error(command.location, "'\(key)' in \(context) is empty"); return nil
            }
            return .strings(commands)

        case let .outputs(shape):
            if scalarText(node) != nil { return decodeValue(node, .strings, key: key, context: context).map { value in
                guard case let .strings(paths) = value else { return value }
                return .outputs(paths.map { OutputEntry(path: $0) })
            } }
            guard case let .sequence(items) = node.kind else { mismatch(node, type, key: key, context: context); return nil }
            var out: [OutputEntry] = []
            for item in items {
                if let text = scalarText(item) {
                    out.append(OutputEntry(path: LocatedString(value: text, location: item.location)))
                    continue
                }
                guard case let .mapping(pairs) = item.kind, pairs.count == 1, let path = scalarText(pairs[0].key) else {
                    error(item.location, "an entry of '\(key)' in \(context) is \(ScalarResolver.typeName(item)); expected a path, or a path with its options",
                          hint: "write '- path' or '- path: {\(shape.keys.map { "\($0): …" }.joined(separator: ", "))}'")
                    continue
                }
                let located = LocatedString(value: path, location: pairs[0].key.location)
                if pairs[0].value.kindIsNull { out.append(OutputEntry(path: located)); continue }
                if let value = scalarText(pairs[0].value) {
                    // `{path: build/x}`, DVC's long form of an entry in some tools.
                    error(item.location, "an entry of '\(key)' in \(context) maps '\(path)' to '\(value)'; expected a path, or a path with its options",
                          hint: "write '- \(value)', or '- \(value): {\(shape.keys.map { "\($0): …" }.joined(separator: ", "))}'")
                    continue
                }
                guard let options = decodeObject(pairs[0].value, shape, context: "the options of '\(path)' in \(context)") else { continue }
                out.append(OutputEntry(path: located, options: options))
            }
            return .outputs(out)

        case .boolean:
            guard case let .bool(b)? = ScalarResolver.resolve(node) else { mismatch(node, type, key: key, context: context); return nil }
            return .boolean(b)

        case let .integer(minimum, maximum):
            guard case let .int(i)? = ScalarResolver.resolve(node) else { mismatch(node, type, key: key, context: context); return nil }
            guard i >= minimum, i <= maximum else {
                error(node.location, "'\(key)' in \(context) must be between \(minimum) and \(maximum), not \(i)"); return nil
            }
            return .integer(i)

        case .number:
            guard let d = number(node) else { mismatch(node, type, key: key, context: context); return nil }
            guard d.isFinite else { error(node.location, "'\(key)' in \(context) must be a finite number"); return nil }
            return .number(d)

        case .duration:
            let tooLong = {
                Diagnostic(.error, at: node.location, "'\(key)' in \(context) is longer than \(DurationParser.maximumText), the longest duration Plumb accepts",
                           hint: "a stage that may run longer needs no timeout")
            }
            var seconds: Double?
            if let d = number(node) { seconds = d }
            else if case let .string(text)? = ScalarResolver.resolve(node) {
                switch DurationParser.parse(text.trimmingCharacters(in: .whitespaces)) {
                case let .seconds(s): seconds = s
                case .tooLong: diagnostics.append(tooLong()); return nil
                case .malformed:
                    mismatch(node, type, key: key, context: context, hint: "units: ms, s, m, h, d; parts may combine, as in '1h30m'")
                    return nil
                }
            }
            guard let seconds else { mismatch(node, type, key: key, context: context); return nil }
            guard seconds.isFinite else { error(node.location, "'\(key)' in \(context) must be a finite duration"); return nil }
            guard seconds > 0 else { error(node.location, "'\(key)' in \(context) must be longer than zero"); return nil }
            guard DurationParser.isAcceptable(seconds) else { diagnostics.append(tooLong()); return nil }
            return .number(seconds)

        case .variables:
            guard case let .mapping(pairs) = node.kind else { mismatch(node, type, key: key, context: context); return nil }
            var out: [LocatedString: String] = [:]
            var seen: [String: SourceLocation] = [:]
            for pair in pairs {
                guard let name = scalarKey(pair.key, context: "'\(key)' of \(context)") else { continue }
                if let first = seen[name] {
                    error(pair.key.location, "duplicate variable '\(name)' in '\(key)' of \(context)", hint: "the first is at line \(first.line); remove one")
                    continue
                }
                seen[name] = pair.key.location
                guard let value = scalarText(pair.value) else {
                    error(pair.value.location, "variable '\(name)' in \(context): expected a string, number or boolean, found \(ScalarResolver.typeName(pair.value))",
                          hint: pair.value.kindIsNull ? "write '\(name): \"\"' for an empty value" : nil)
                    continue
                }
                out[LocatedString(value: name, location: pair.key.location)] = value
            }
            return .variables(out)

        case .anyMapping:
            guard case .mapping = node.kind else { mismatch(node, type, key: key, context: context); return nil }
            return .mapping(node)

        case let .version(expected):
            guard case let .int(i)? = ScalarResolver.resolve(node) else { mismatch(node, type, key: key, context: context); return nil }
            guard i == expected else {
                error(node.location, "unsupported \(key) \(i); this Plumb reads version \(expected)",
                      hint: i > expected ? "a newer Plumb wrote this spec; upgrade Plumb" : nil)
                return nil
            }
            return .integer(i)

        case let .objects(shape):
            guard case let .sequence(items) = node.kind else { mismatch(node, type, key: key, context: context); return nil }
            var out: [DecodedObject] = []
            for (index, item) in items.enumerated() {
                if let object = decodeObject(item, shape, context: "\(shape.name) \(index + 1) of \(context)") { out.append(object) }
            }
            return .objects(out)

        case let .object(shape):
            guard case .mapping = node.kind else { mismatch(node, type, key: key, context: context); return nil }
            return decodeObject(node, shape, context: "'\(key)' in \(context)").map(SchemaValue.object)

        case let .namedStages(shape, _):
            // Fan-out stages are already expanded into plain stages (StageExpansion).
            return decodeValue(node, .namedObjects(shape), key: key, context: context)

        case .varsSources:
            guard case let .sequence(items) = node.kind else {
                mismatch(node, type, key: key, context: context, hint: "e.g. 'vars: [spec/vars.yaml, {seed: 42}]'"); return nil
            }
            for item in items where item.kindIsNull || { if case .sequence = item.kind { return true }; return false }() {
                error(item.location, "an entry of '\(key)' is \(ScalarResolver.typeName(item)); expected the path of a params file or a mapping of names to values")
            }
            return .mapping(node)

        case .fanOutItems, .matrixAxes:
            // Read and checked by StageExpansion, which removes them before decoding.
            return .mapping(node)

        case let .plotEntries(options):
            return decodePlots(node, options, key: key, context: context).map(SchemaValue.plots)

        case let .namedObjects(shape):
            guard case let .mapping(pairs) = node.kind else { mismatch(node, type, key: key, context: context); return nil }
            var out: [(name: LocatedString, object: DecodedObject)] = []
            var seen: [String: SourceLocation] = [:]
            for pair in pairs {
                guard let name = scalarKey(pair.key, context: "'\(key)'") else { continue }
                if let first = seen[name] {
                    error(pair.key.location, "duplicate \(shape.name) '\(name)'", hint: "the first is at line \(first.line); \(shape.name) names are unique")
                    continue
                }
                seen[name] = pair.key.location
                if !NameRule.isValid(name) {
                    error(pair.key.location, "invalid \(shape.name) name '\(name)'", hint: NameRule.hint(for: name))
                }
                let inner = "\(shape.name) '\(name)'"
                if pair.value.kindIsNull {
                    error(pair.key.location, "\(inner) is empty", hint: "a \(shape.name) needs at least: \(shape.fields.filter(\.required).map(\.name).joined(separator: ", "))")
                    continue
                }
                if let object = decodeObject(pair.value, shape, context: inner, anchor: pair.key.location), NameRule.isValid(name) {
                    out.append((LocatedString(value: name, location: pair.key.location), object))
                }
            }
            return .namedObjects(out)
        }
    }

    /// A scalar's text for string-typed keys; null and collections are not strings.
    /// Numbers and booleans are kept as written (`check: true` is a command called `true`).
    func scalarText(_ node: YAMLNode) -> String? {
        guard case let .scalar(text, _) = node.kind, ScalarResolver.resolve(node) != .null else { return nil }
        return text
    }

    func number(_ node: YAMLNode) -> Double? {
        switch ScalarResolver.resolve(node) {
        case let .int(i)?: return Double(i)
        case let .float(d)?: return d
        default: return nil
        }
    }
}

extension YAMLNode {
    /// Null by the same rules the decoder resolves scalars with (an explicit `!!str ""` is not null).
    var kindIsNull: Bool { ScalarResolver.resolve(self) == .null }
}

/// The rule for stage and environment names.
enum NameRule {
    /// `^[a-z][a-z0-9_-]*$`, checked by hand (see `SpecSchema.namePattern`).
    static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, (0x61...0x7A).contains(first) else { return false }
        return name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D }
    }

    /// A hint with a corrected name when one is obvious.
    static func hint(for name: String) -> String {
        let rule = "names use lowercase letters, digits, '-' and '_', and start with a letter"
        let fixed = String(name.lowercased().unicodeScalars.map { c -> Character in
            (c.properties.isAlphabetic && c.isASCII) || ("0"..."9").contains(c) || c == "-" || c == "_" ? Character(c) : "_"
        })
        if isValid(fixed), fixed != name { return "\(rule), e.g. '\(fixed)'" }
        return rule
    }

    /// Environment variable names (`SpecSchema.variablePattern`).
    static func isVariable(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == 0x5F || (0x41...0x5A).contains(first) || (0x61...0x7A).contains(first) else { return false }
        return name.utf8.allSatisfy { $0 == 0x5F || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }
    }
}
