import Foundation

/// Converts free-form YAML (spec/params.yaml, an environment's `params`) into `JSONValue`,
/// by YAML 1.2's core schema: plain `true`/`false`, integers, floats and null are typed,
/// quoted scalars stay strings.
///
/// Params end up in fingerprints and in `PLUMB_PARAMS` as JSON, so anything JSON cannot
/// hold (infinity, NaN, non-string keys) is an error here rather than a surprise later.
enum ParamsDecoder {
    /// Deeper than any sensible params file; bounds recursion on alias-expanded input.
    static let maxDepth = 64

    /// The JSON value of `node`, with problems appended to `diagnostics`.
    static func decode(_ node: YAMLNode, context: String, diagnostics: inout [Diagnostic]) -> JSONValue {
        convert(node, context: context, depth: 0, diagnostics: &diagnostics)
    }

    private static func convert(_ node: YAMLNode, context: String, depth: Int, diagnostics: inout [Diagnostic]) -> JSONValue {
        if depth > maxDepth {
            diagnostics.append(Diagnostic(at: node.location, "\(context) is nested more than \(maxDepth) levels deep"))
            return .null
        }
        switch node.kind {
        case .scalar:
            switch ScalarResolver.resolve(node) ?? .null {
            case .null: return .null
            case let .bool(b): return .bool(b)
            case let .int(i): return .int(i)
            case let .string(s): return .string(s)
            case let .float(d):
                guard d.isFinite else {
                    diagnostics.append(Diagnostic(at: node.location, "\(context) holds \(d.isNaN ? "NaN" : "infinity"), which JSON cannot represent",
                                                  hint: "quote it to keep it as a string"))
                    return .null
                }
                return .double(d)
            }
        case let .sequence(items):
            return .array(items.map { convert($0, context: context, depth: depth + 1, diagnostics: &diagnostics) })
        case let .mapping(pairs):
            var object: [String: JSONValue] = [:]
            var seen: [String: SourceLocation] = [:]
            for pair in pairs {
                guard case let .scalar(key, _) = pair.key.kind else {
                    diagnostics.append(Diagnostic(at: pair.key.location, "a key in \(context) is \(ScalarResolver.typeName(pair.key)); keys must be strings"))
                    continue
                }
                if let first = seen[key] {
                    diagnostics.append(Diagnostic(at: pair.key.location, "duplicate key '\(key)' in \(context)",
                                                  hint: "the first is at line \(first.line); remove one"))
                    continue
                }
                seen[key] = pair.key.location
                if key.contains(".") {
                    diagnostics.append(Diagnostic(.warning, at: pair.key.location,
                                                  "param key '\(key)' contains '.', so stages cannot name it: '.' separates nested keys",
                                                  hint: "nest it instead"))
                }
                object[key] = convert(pair.value, context: context, depth: depth + 1, diagnostics: &diagnostics)
            }
            return .object(object)
        }
    }

    /// Every dotted key path in `value` (`train`, `train.max_depth`), for did-you-mean hints.
    static func keyPaths(_ value: JSONValue, prefix: String = "") -> [String] {
        guard case let .object(object) = value else { return [] }
        var out: [String] = []
        for (key, child) in object {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            out.append(path)
            out += keyPaths(child, prefix: path)
        }
        return out.sorted()
    }
}
