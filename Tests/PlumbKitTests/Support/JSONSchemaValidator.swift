import Foundation

/// A small JSON Schema (draft 2020-12) validator for the subset docs/json-lines.schema.json uses:
/// type, const, enum, properties, required, additionalProperties, items, pattern, minimum, oneOf,
/// anyOf and local `$ref`s. Values are what Foundation's JSONSerialization returns. A keyword it
/// does not know is an error, so the schema cannot use one the tests would silently skip.
struct JSONSchemaValidator {
    let root: [String: Any]
    static let keywords: Set<String> = ["type", "const", "enum", "properties", "required", "additionalProperties", "items",
                                        "pattern", "minimum", "oneOf", "anyOf", "$ref", "description", "$schema", "$id",
                                        "title", "$defs"]

    init(contentsOf url: URL) throws {
        root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
    }

    /// The problems of `value` against the schema at `pointer` (`#/$defs/reconcile`), empty when it conforms.
    func problems(_ value: Any, against pointer: String = "#") -> [String] {
        problems(value, schema(at: pointer), at: "$")
    }

    private func schema(at pointer: String) -> [String: Any] {
        var node: Any = root
        for part in pointer.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(part)] ?? [:] }
        return node as? [String: Any] ?? [:]
    }

    private static func kind(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case is String: return "string"
        case is [Any]: return "array"
        case is [String: Any]: return "object"
        case let n as NSNumber:
            let code = String(cString: n.objCType)
            if code == "c" || code == "B" { return "boolean" }
            return n.doubleValue == n.doubleValue.rounded() && !["d", "f"].contains(code) ? "integer" : "number"
        default: return "unknown"
        }
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case let (x as String, y as String): return x == y
        case let (x as NSNumber, y as NSNumber): return kind(x) == kind(y) && x == y
        case (is NSNull, is NSNull): return true
        default: return false
        }
    }

    private func problems(_ value: Any, _ schema: [String: Any], at path: String) -> [String] {
        var out: [String] = []
        for key in schema.keys where !Self.keywords.contains(key) { out.append("\(path): the validator does not know '\(key)'") }
        if let ref = schema["$ref"] as? String { out += problems(value, self.schema(at: ref), at: path) }
        let kind = Self.kind(value)
        if let type = schema["type"] {
            let allowed = (type as? [String]) ?? [(type as? String) ?? ""]
            // An integer is a number too.
            if !allowed.contains(kind) && !(kind == "integer" && allowed.contains("number")) {
                return out + ["\(path): \(kind), not \(allowed.joined(separator: " or "))"]
            }
        }
        if let constant = schema["const"], !Self.equal(value, constant) { out.append("\(path): not \(constant)") }
        if let choices = schema["enum"] as? [Any], !choices.contains(where: { Self.equal(value, $0) }) { out.append("\(path): \(value) is none of \(choices)") }
        if let pattern = schema["pattern"] as? String, let text = value as? String,
           text.range(of: pattern, options: .regularExpression) == nil { out.append("\(path): '\(text)' does not match \(pattern)") }
        if let minimum = schema["minimum"] as? NSNumber, let n = value as? NSNumber, kind != "boolean",
           n.doubleValue < minimum.doubleValue { out.append("\(path): \(n) is below \(minimum)") }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { out.append("\(path): lacks '\(key)'") }
            for (key, item) in object {
                if let property = properties[key] as? [String: Any] {
                    out += problems(item, property, at: "\(path).\(key)")
                } else if let extra = schema["additionalProperties"] {
                    if let allowed = extra as? NSNumber, Self.kind(allowed) == "boolean" {
                        if !allowed.boolValue { out.append("\(path): '\(key)' is not allowed") }
                    } else if let extra = extra as? [String: Any] {
                        out += problems(item, extra, at: "\(path).\(key)")
                    }
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            for (i, item) in array.enumerated() { out += problems(item, items, at: "\(path)[\(i)]") }
        }
        if let choices = schema["oneOf"] as? [[String: Any]] {
            let results = choices.map { problems(value, $0, at: path) }
            let passing = results.filter(\.isEmpty).count
            if passing != 1 {
                // The closest alternative's problems say the most.
                let closest = results.min { $0.count < $1.count } ?? []
                out.append("\(path): matches \(passing) of oneOf's \(choices.count) (closest: \(closest.joined(separator: "; ")))")
            }
        }
        if let choices = schema["anyOf"] as? [[String: Any]], !choices.contains(where: { problems(value, $0, at: path).isEmpty }) {
            out.append("\(path): matches none of anyOf")
        }
        return out
    }
}
