import Foundation

/// A metrics file a stage wrote: a JSON (or YAML) object whose numbers, at any depth, are its metrics
/// (`{"a": {"b": 1}}` is `<stage>.a.b`). Anything else in it is ignored, and said so: a string, a
/// boolean, null or a list is no metric, and turning `true` into 1 would invent one.
package enum MetricsFile {
    package struct Reading: Sendable, Equatable {
        package var metrics: [String: Double] = [:]
        /// Keys that hold no number, with what they hold ("a string"), in key order.
        package var ignored: [(key: String, holds: String)] = []

        package static func == (a: Reading, b: Reading) -> Bool {
            a.metrics == b.metrics && a.ignored.map(\.key) == b.ignored.map(\.key) && a.ignored.map(\.holds) == b.ignored.map(\.holds)
        }

        /// `ignored train.model (a string), train.ok (a boolean: write 1 or 0)`, or nil.
        package var ignoredSummary: String? {
            guard !ignored.isEmpty else { return nil }
            let shown = ignored.prefix(5).map { "\($0.key) (\($0.holds))" }.joined(separator: ", ")
            return "ignored " + shown + (ignored.count > 5 ? " and \(ignored.count - 5) more" : "") + ": metrics are numbers"
        }
    }

    /// Whether the file at `path` is read as YAML (`.yaml`, `.yml`, as DVC and dvclive write them)
    /// rather than JSON.
    package static func isYAML(_ path: String) -> Bool { path.hasSuffix(".yaml") || path.hasSuffix(".yml") }

    /// Reads `data`, JSON or (`yaml`) YAML; `prefix` is the stage's name. Throws a message for a
    /// file that is not a mapping.
    package static func read(_ data: Data, prefix: String, yaml: Bool = false) throws(MetricsFileError) -> Reading {
        let value: JSONValue
        if yaml {
            guard let text = String(data: data, encoding: .utf8), let parsed = try? YAMLReader.parse(text, file: prefix) else {
                throw MetricsFileError("is not YAML")
            }
            var diagnostics: [Diagnostic] = []
            value = ParamsDecoder.decode(parsed, context: "metrics", diagnostics: &diagnostics)
            if let first = diagnostics.first(where: { $0.severity == .error }) { throw MetricsFileError("is not plain YAML data: \(first.message)") }
        } else {
            guard let decoded = try? JSONDecoder().decode(JSONValue.self, from: data) else { throw MetricsFileError("is not JSON") }
            value = decoded
        }
        guard case .object = value else { throw MetricsFileError("holds \(describe(value)), not a \(yaml ? "YAML mapping" : "JSON object") of numbers") }
        var reading = Reading()
        collect(value, key: prefix, into: &reading)
        reading.ignored.sort { $0.key < $1.key }
        return reading
    }

    private static func collect(_ value: JSONValue, key: String, into reading: inout Reading) {
        switch value {
        case let .int(i): reading.metrics[key] = Double(i)
        case let .double(d): reading.metrics[key] = d
        case let .object(members):
            for (k, v) in members { collect(v, key: "\(key).\(k)", into: &reading) }
        case .bool: reading.ignored.append((key, "a boolean: write 1 or 0"))
        default: reading.ignored.append((key, describe(value)))
        }
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }
}

package struct MetricsFileError: Error, Sendable {
    package var reason: String
    init(_ reason: String) { self.reason = reason }
}
