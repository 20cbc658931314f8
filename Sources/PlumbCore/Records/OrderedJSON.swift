import Foundation

/// JSON read with what Foundation's decoders drop: the order of an object's keys (a plot's
/// default y is its rows' last key) and the line each value starts on (a warning names it).
/// RFC 8259, strictly; nesting is bounded, so hostile input cannot exhaust the stack.
enum OrderedJSON {
    enum Kind {
        case number(Double)
        case string(String)
        case bool(Bool)
        case null
        case array([Value])
        case object([(key: String, value: Value)])
    }

    /// A class, so that a value holding values has a size the compiler can lay out without
    /// following the recursion (a struct here is a "circular reference" across files).
    final class Value {
        let kind: Kind
        /// The 1-based line the value starts on.
        let line: Int

        init(kind: Kind, line: Int) { self.kind = kind; self.line = line }
    }

    /// Where reading stopped, and why.
    struct Failure: Error, Equatable {
        var line: Int
        var reason: String
    }

    static let maximumDepth = 64

    static func parse(_ bytes: [UInt8]) throws(Failure) -> Value {
        var reader = Reader(bytes: bytes)
        // A UTF-8 byte order mark is allowed before the text (RFC 8259 §8.1 lets a parser ignore it).
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.offset = 3 }
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.offset == bytes.count else { throw Failure(line: reader.line, reason: "text follows the JSON value") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0
        var line = 1

        init(bytes: [UInt8]) { self.bytes = bytes }

        var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

        mutating func skipWhitespace() {
            while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                if c == 0x0A { line += 1 }
                offset += 1
            }
        }

        func fail(_ reason: String) -> Failure { Failure(line: line, reason: reason) }

        mutating func value(depth: Int) throws(Failure) -> Value {
            guard depth < OrderedJSON.maximumDepth else { throw fail("nests deeper than \(OrderedJSON.maximumDepth) levels") }
            let start = line
            guard let c = current else { throw fail("ends where a value was expected") }
            switch c {
            case UInt8(ascii: "{"):
                offset += 1
                var members: [(key: String, value: Value)] = []
                skipWhitespace()
                if current == UInt8(ascii: "}") { offset += 1; return Value(kind: .object(members), line: start) }
                while true {
                    skipWhitespace()
                    guard current == UInt8(ascii: "\"") else { throw fail("expected a key in quotes") }
                    let key = try string()
                    skipWhitespace()
                    guard current == UInt8(ascii: ":") else { throw fail("expected ':' after the key \"\(key.prefix(40))\"") }
                    offset += 1
                    skipWhitespace()
                    members.append((key, try value(depth: depth + 1)))
                    skipWhitespace()
                    if current == UInt8(ascii: ",") { offset += 1; continue }
                    if current == UInt8(ascii: "}") { offset += 1; return Value(kind: .object(members), line: start) }
                    throw fail("expected ',' or '}' in an object")
                }
            case UInt8(ascii: "["):
                offset += 1
                var items: [Value] = []
                skipWhitespace()
                if current == UInt8(ascii: "]") { offset += 1; return Value(kind: .array(items), line: start) }
                while true {
                    skipWhitespace()
                    items.append(try value(depth: depth + 1))
                    skipWhitespace()
                    if current == UInt8(ascii: ",") { offset += 1; continue }
                    if current == UInt8(ascii: "]") { offset += 1; return Value(kind: .array(items), line: start) }
                    throw fail("expected ',' or ']' in a list")
                }
            case UInt8(ascii: "\""):
                return Value(kind: .string(try string()), line: start)
            case UInt8(ascii: "t"): try word("true"); return Value(kind: .bool(true), line: start)
            case UInt8(ascii: "f"): try word("false"); return Value(kind: .bool(false), line: start)
            case UInt8(ascii: "n"): try word("null"); return Value(kind: .null, line: start)
            default:
                return Value(kind: .number(try number()), line: start)
            }
        }

        mutating func word(_ text: StaticString) throws(Failure) {
            let expected = UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
            guard offset + expected.count <= bytes.count, bytes[offset..<(offset + expected.count)].elementsEqual(expected) else {
                throw fail("unexpected text where a value was expected")
            }
            offset += expected.count
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, as RFC 8259 writes numbers.
        mutating func number() throws(Failure) -> Double {
            let start = offset
            func digits() -> Int {
                let from = offset
                while let c = current, c >= 0x30 && c <= 0x39 { offset += 1 }
                return offset - from
            }
            if current == UInt8(ascii: "-") { offset += 1 }
            guard let first = current, first >= 0x30 && first <= 0x39 else { throw fail("unexpected text where a value was expected") }
            if first == 0x30 { offset += 1 } else { _ = digits() }
            if current == UInt8(ascii: ".") {
                offset += 1
                guard digits() > 0 else { throw fail("a number has no digits after its '.'") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                offset += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
                guard digits() > 0 else { throw fail("a number has no digits in its exponent") }
            }
            let text = String(decoding: bytes[start..<offset], as: UTF8.self)
            guard let value = Double(text), value.isFinite else { throw fail("the number \(text.prefix(40)) is too large") }
            return value
        }

        mutating func string() throws(Failure) -> String {
            offset += 1 // the opening quote
            var out: [UInt8] = []
            while true {
                guard let c = current else { throw fail("a string is not closed") }
                offset += 1
                switch c {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: out, as: UTF8.self) else { throw fail("a string is not UTF-8") }
                    return text
                case UInt8(ascii: "\\"):
                    guard let e = current else { throw fail("a string is not closed") }
                    offset += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            // A high surrogate must be followed by its low half.
                            guard current == UInt8(ascii: "\\"), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "u") else {
                                throw fail("a string holds half a surrogate pair")
                            }
                            offset += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw fail("a string holds half a surrogate pair") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw fail("a string holds half a surrogate pair") }
                        out.append(contentsOf: Array(String(Character(unicode)).utf8))
                    default:
                        throw fail("a string holds an unknown escape")
                    }
                default:
                    guard c >= 0x20 else { throw fail(c == 0x0A ? "a string is not closed on its line" : "a string holds a control character") }
                    out.append(c)
                }
            }
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard offset + 4 <= bytes.count else { throw fail("a \\u escape needs four hex digits") }
            var value: UInt32 = 0
            for c in bytes[offset..<(offset + 4)] {
                let digit: UInt8
                switch c {
                case 0x30...0x39: digit = c - 0x30
                case 0x41...0x46: digit = c - 0x41 + 10
                case 0x61...0x66: digit = c - 0x61 + 10
                default: throw fail("a \\u escape needs four hex digits")
                }
                value = value << 4 | UInt32(digit)
            }
            offset += 4
            return value
        }
    }
}
