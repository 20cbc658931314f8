import Foundation

/// A metrics file a stage wrote: a JSON object whose numbers, at any depth, are its metrics
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

    /// Reads `data`; `prefix` is the stage's name. Throws a message for a file that is not a JSON object.
    package static func read(_ data: Data, prefix: String) throws(MetricsFileError) -> Reading {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw MetricsFileError("is not JSON")
        }
        guard case .object = value else { throw MetricsFileError("holds \(describe(value)), not a JSON object of numbers") }
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
