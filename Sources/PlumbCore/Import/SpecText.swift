import Foundation

/// YAML text written line by line, each line remembering the place in the imported file it came
/// from, so a problem Plumb finds in the written spec can be reported at the line that caused it.
///
/// Block style throughout (what people write by hand), flow style only for lists of scalars and
/// an entry's options (`- model.pkl: {cache: false}`). Scalars are plain where YAML reads them
/// back as the same string, and double-quoted otherwise; tests read every output back through
/// `YAMLReader` to hold that.
struct SpecText {
    private(set) var lines: [(text: String, origin: SourceLocation?)] = []

    /// The text, ending in a newline.
    var text: String { lines.map(\.text).joined(separator: "\n") + "\n" }

    /// The origin of 1-based `line`, if it has one.
    func origin(ofLine line: Int) -> SourceLocation? {
        guard line >= 1, line <= lines.count else { return nil }
        return lines[line - 1].origin
    }

    mutating func line(_ text: String, _ origin: SourceLocation?, indent: Int = 0) {
        lines.append((String(repeating: " ", count: indent) + text, origin))
    }

    mutating func blank() { lines.append(("", nil)) }

    /// `key: value` for a string, as a block scalar when it spans lines.
    mutating func string(_ key: String, _ value: String, _ origin: SourceLocation?, indent: Int) {
        if let block = Self.literalBlock(value, indent: indent + 2) {
            line("\(key): \(block.header)", origin, indent: indent)
            for text in block.lines { line(text, origin) }
        } else {
            line("\(key): \(Self.scalar(value))", origin, indent: indent)
        }
    }

    /// `- value` for a string in a block list.
    mutating func item(_ value: String, _ origin: SourceLocation?, indent: Int) {
        if let block = Self.literalBlock(value, indent: indent + 2) {
            line("- \(block.header)", origin, indent: indent)
            for text in block.lines { line(text, origin) }
        } else {
            line("- \(Self.scalar(value))", origin, indent: indent)
        }
    }

    /// `key: <node>` for a value read from the imported file (foreach items, matrix axes, inline
    /// vars), keeping numbers and booleans typed as they were written.
    mutating func node(_ key: String?, _ node: YAMLNode, indent: Int) {
        let lead = key.map { "\($0): " } ?? "- "
        switch node.kind {
        case .scalar:
            line(lead + Self.scalar(of: node, flow: false), node.location, indent: indent)
        case let .sequence(items) where items.isEmpty || items.allSatisfy({ $0.scalar != nil }):
            line(lead + "[" + items.map { Self.scalar(of: $0, flow: true) }.joined(separator: ", ") + "]", node.location, indent: indent)
        case let .mapping(pairs) where pairs.isEmpty:
            line(lead + "{}", node.location, indent: indent)
        case let .sequence(items):
            if let key { line("\(key):", node.location, indent: indent) } else { line("-", node.location, indent: indent) }
            for item in items { self.node(nil, item, indent: indent + 2) }
        case let .mapping(pairs):
            if let key { line("\(key):", node.location, indent: indent) }
            let first = lines.count
            for pair in pairs { self.node(Self.scalar(of: pair.key, flow: false), pair.value, indent: indent + 2) }
            // A mapping in a list starts on the dash's line: `- seed: 42`.
            if key == nil { lines[first].text = String(repeating: " ", count: indent) + "- " + lines[first].text.dropFirst(indent + 2) }
        }
    }

    // MARK: scalars

    /// A string as YAML that reads back as exactly that string: plain when that is safe, else
    /// double-quoted. `flow` is for text inside `[…]` or `{…}`, where `,` and brackets end a plain scalar.
    static func scalar(_ text: String, flow: Bool = false) -> String {
        isPlainSafe(text, flow: flow) ? text : quoted(text)
    }

    /// A node's scalar: a plain number, boolean or null stays as written (so it keeps its type);
    /// a string is written as `scalar(_:flow:)` writes strings.
    static func scalar(of node: YAMLNode, flow: Bool) -> String {
        guard let text = node.scalar else { return quoted("") }
        if node.isPlainScalar, case .string = ScalarResolver.resolvePlain(text) { return scalar(text, flow: flow) }
        if node.isPlainScalar { return text.isEmpty ? "null" : text }
        return scalar(text, flow: flow)
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                    out += String(format: "\\u%04X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func isPlainSafe(_ text: String, flow: Bool) -> Bool {
        guard let first = text.first, let last = text.last, first != " ", last != " ", last != ":" else { return false }
        if "-?:,[]{}#&*!|>'\"%@`".contains(first) { return false }
        if text.contains(": ") || text.contains(" #") { return false }
        if flow, text.contains(where: { ",[]{}".contains($0) }) { return false }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) || $0 == "\u{FEFF}" }) { return false }
        // A plain scalar YAML would read as a number, boolean or null is no string any more.
        guard case .string = ScalarResolver.resolvePlain(text) else { return false }
        return true
    }

    /// A literal block (`|-`) for text of several lines, when every line reads back unchanged.
    private static func literalBlock(_ text: String, indent: Int) -> (header: String, lines: [String])? {
        guard text.contains("\n") else { return nil }
        var body = Substring(text)
        var trailing = 0
        while body.hasSuffix("\n") { body = body.dropLast(); trailing += 1 }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        // Indentation on the first line, trailing blanks or control characters would not survive a block.
        guard let first = lines.first, !first.hasPrefix(" "), !first.isEmpty,
              lines.allSatisfy({ !$0.hasSuffix(" ") && !$0.unicodeScalars.contains { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F } })
        else { return nil }
        let pad = String(repeating: " ", count: indent)
        let header = trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+"
        return (header, lines.map { $0.isEmpty ? "" : pad + $0 } + Array(repeating: "", count: max(0, trailing - 1)))
    }
}
