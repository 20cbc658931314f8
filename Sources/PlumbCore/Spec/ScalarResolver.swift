import Foundation

/// What a YAML scalar means under YAML 1.2's core schema.
enum ResolvedScalar: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
}

/// Resolves scalars the way YAML 1.2's core schema does, by hand rather than with `Int(_:)` and
/// `Double(_:)`, which also accept `nan`, `inf` and hex floats that YAML reads as strings.
///
/// Plain `yes`/`no`/`on`/`off` stay strings (YAML 1.2): the "Norway problem" of YAML 1.1 turns
/// country codes and flags into booleans behind the user's back.
enum ScalarResolver {
    static func resolve(_ node: YAMLNode) -> ResolvedScalar? {
        guard case let .scalar(text, plain) = node.kind else { return nil }
        if let tag = node.tag {
            if tag.hasSuffix(":str") || tag == "!" { return .string(text) }
        }
        guard plain else { return .string(text) }
        return resolvePlain(text)
    }

    static func resolvePlain(_ text: String) -> ResolvedScalar {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        let bytes = Array(text.utf8)
        if let i = integer(bytes) { return i }
        if isFloat(bytes), let d = Double(text) { return .float(d) }
        return .string(text)
    }

    /// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`; too large for Int becomes a float, never a trap.
    private static func integer(_ b: [UInt8]) -> ResolvedScalar? {
        if b.count > 2, b[0] == UInt8(ascii: "0"), b[1] == UInt8(ascii: "o") || b[1] == UInt8(ascii: "x") {
            let radix = b[1] == UInt8(ascii: "o") ? 8 : 16
            guard let value = Int(String(decoding: b[2...], as: UTF8.self), radix: radix) else {
                let digits = b[2...].allSatisfy { radix == 8 ? (0x30...0x37).contains($0) : isHexDigit($0) }
                return digits ? .string(String(decoding: b, as: UTF8.self)) : nil
            }
            return .int(value)
        }
        var i = 0
        if i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") { i += 1 }
        guard i < b.count, b[i...].allSatisfy(isDigit) else { return nil }
        let text = String(decoding: b, as: UTF8.self)
        if let value = Int(text) { return .int(value) }
        return Double(text).map { .float($0) }
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    private static func isFloat(_ b: [UInt8]) -> Bool {
        var i = 0
        if i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") { i += 1 }
        var mantissaDigits = 0
        while i < b.count, isDigit(b[i]) { i += 1; mantissaDigits += 1 }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count, isDigit(b[i]) { i += 1; mantissaDigits += 1 }
        }
        guard mantissaDigits > 0 else { return false }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") { i += 1 }
            var exponentDigits = 0
            while i < b.count, isDigit(b[i]) { i += 1; exponentDigits += 1 }
            guard exponentDigits > 0 else { return false }
        }
        return i == b.count
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    }

    /// A type name for messages, by the same rules the decoder converts with.
    static func typeName(_ node: YAMLNode) -> String {
        switch node.kind {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar:
            switch resolve(node) {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .float: return "a number"
            default: return "a string"
            }
        }
    }
}

/// Durations in spec files and on the command line: a number of seconds, or `90s`, `10m`, `1h30m`,
/// `500ms`, `1d`.
///
/// Every duration Plumb accepts is at most `maximum`, so that the arithmetic done with it later (dates,
/// sleeps, `Int` conversions for display) can never overflow: `99999999999999999999d` is refused here
/// instead of trapping wherever it is first used.
package enum DurationParser {
    /// The longest duration accepted anywhere, in seconds: 365 days. No stage timeout, watch
    /// interval or lock wait needs more, and it is far inside what `Int` and `Date` hold.
    package static let maximum: Double = 365 * 86400

    /// How `maximum` is written for people, in messages.
    package static let maximumText = "365d"

    /// What a duration string says.
    package enum Parsed: Equatable, Sendable {
        case seconds(Double)
        /// Not a duration at all (`ten minutes`).
        case malformed
        /// Well formed, but longer than `maximum` (or beyond what a Double holds).
        case tooLong
    }

    /// Seconds for a duration string, or nil when the text is not one or exceeds `maximum`.
    package static func seconds(_ text: String) -> Double? {
        if case let .seconds(s) = parse(text) { return s }
        return nil
    }

    /// Parses a duration string, telling a malformed one from one that is too long.
    package static func parse(_ text: String) -> Parsed {
        let b = Array(text.utf8)
        guard !b.isEmpty else { return .malformed }
        var i = 0
        var total = 0.0
        while i < b.count {
            let start = i
            while i < b.count, (0x30...0x39).contains(b[i]) || b[i] == UInt8(ascii: ".") { i += 1 }
            guard i > start, let value = Double(String(decoding: b[start..<i], as: UTF8.self)) else { return .malformed }
            let unitStart = i
            while i < b.count, (0x61...0x7A).contains(b[i]) { i += 1 }
            let factor: Double
            switch String(decoding: b[unitStart..<i], as: UTF8.self) {
            case "ms": factor = 0.001
            case "s": factor = 1
            case "m": factor = 60
            case "h": factor = 3600
            case "d": factor = 86400
            default: return .malformed
            }
            total += value * factor
        }
        return isAcceptable(total) ? .seconds(total) : .tooLong
    }

    /// Whether `seconds` is a duration Plumb accepts: finite, not negative, at most `maximum`.
    static func isAcceptable(_ seconds: Double) -> Bool {
        seconds.isFinite && seconds >= 0 && seconds <= maximum
    }
}
