import Foundation

/// A JSON value: params, metrics and other free-form data, with a canonical encoding
/// (sorted keys, shortest round-trip numbers) so the same value always hashes the same.
package enum JSONValue: Sendable, Hashable, Codable {
    // Numbers compare by value: 1 and 1.0 are the same param (JSON has one number type, and a
    // record written as 1.0 reads back as 1). Hashing agrees, through the canonical form.
    package static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.int(x), .double(y)), let (.double(y), .int(x)): return Double(x) == y
        case let (.double(x), .double(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x == y
        default: return false
        }
    }

    package func hash(into hasher: inout Hasher) {
        switch self {
        case let .int(i): hasher.combine(Double(i))
        case let .double(d): hasher.combine(d)
        case let .array(a): hasher.combine(a)
        case let .object(o): hasher.combine(o)
        case let .string(s): hasher.combine(s)
        case let .bool(b): hasher.combine(b)
        case .null: hasher.combine(0 as UInt8)
        }
    }

    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    package init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .int(i): try c.encode(i)
        case let .double(d): try c.encode(d)
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    /// The value at a dotted key path (`train.max_depth`), or nil.
    package func value(at path: String) -> JSONValue? {
        var current = self
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard case let .object(o) = current, let next = o[String(part)] else { return nil }
            current = next
        }
        return current
    }

    /// A copy with `other`'s keys laid over this one's, recursively for objects.
    package func merging(_ other: JSONValue) -> JSONValue {
        guard case var .object(base) = self, case let .object(top) = other else { return other }
        for (k, v) in top { base[k] = base[k].map { $0.merging(v) } ?? v }
        return .object(base)
    }

    /// Canonical compact JSON: sorted keys, no spaces. Stable across runs and machines.
    package var canonical: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .double(d): out += JSONValue.format(d)
        case let .string(s): out += JSONValue.quote(s)
        case let .array(a):
            out += "["
            for (i, v) in a.enumerated() { if i > 0 { out += "," }; v.write(to: &out) }
            out += "]"
        case let .object(o):
            out += "{"
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                out += JSONValue.quote(k); out += ":"; o[k]!.write(to: &out)
            }
            out += "}"
        }
    }

    /// A number as people and JSON read it: integers without a fraction, others shortest round-trip.
    package static func format(_ d: Double) -> String {
        if !d.isFinite { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return "\(d)"
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// Pretty JSON as people expect it: two-space indent, `"key": value`, sorted keys, `{}` and `[]` when empty.
    var pretty: String {
        var out = ""
        writePretty(to: &out, indent: "")
        return out
    }

    private func writePretty(to out: inout String, indent: String) {
        let inner = indent + "  "
        switch self {
        case let .array(a) where !a.isEmpty:
            out += "[\n"
            for (i, v) in a.enumerated() {
                out += inner; v.writePretty(to: &out, indent: inner)
                out += i + 1 < a.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case let .object(o) where !o.isEmpty:
            out += "{\n"
            let keys = o.keys.sorted()
            for (i, k) in keys.enumerated() {
                out += inner + JSONValue.quote(k) + ": "; o[k]!.writePretty(to: &out, indent: inner)
                out += i + 1 < keys.count ? ",\n" : "\n"
            }
            out += indent + "}"
        default:
            write(to: &out)
        }
    }

    /// A short rendering for plans and tables: strings unquoted, the rest as canonical JSON.
    var display: String {
        if case let .string(s) = self { return s }
        return canonical
    }
}

/// Encoding of on-disk records: pretty, sorted keys, no escaped slashes, trailing newline.
/// The same value always gives the same bytes, so history diffs stay readable.
package enum RecordJSON {
    /// `value` in the record layout, ending with a newline.
    package static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // Through JSONValue for one layout everywhere (Foundation's pretty printer writes `"key" : value`).
        let tree = try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(value))
        return Data((tree.pretty + "\n").utf8)
    }

    /// A record written by `encode` (dates in ISO 8601). Records are untrusted: one that checks
    /// what its types cannot (`CheckedRecord`: paths, names, run ids) is checked before it is returned.
    package static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let value = try decoder.decode(type, from: data)
        try (value as? CheckedRecord)?.check()
        return value
    }
}
