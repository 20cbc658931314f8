import CYAML
import Foundation

/// A YAML node read by libyaml, keeping where it came from so every diagnostic can point at it.
struct YAMLNode: Sendable, Hashable {
    /// The shape of a node. Mappings keep their keys in file order, duplicates included,
    /// so that the decoder can report them.
    package enum Kind: Sendable, Hashable {
        case scalar(String, plain: Bool)
        case sequence([YAMLNode])
        case mapping([Pair])
    }
    /// One key and its value in a mapping.
    struct Pair: Sendable, Hashable {
        package var key: YAMLNode
        package var value: YAMLNode
    }

    package var kind: Kind
    package var location: SourceLocation
    /// An explicit tag such as `!!str`, if the file gave one.
    package var tag: String?
    /// A literal (`|`) or folded (`>`) block scalar, whose text starts on the line after its location.
    var block = false

    /// The scalar's text, or nil for a collection.
    var scalar: String? { if case let .scalar(s, _) = kind { return s }; return nil }
    /// True for an unquoted scalar, which YAML resolves to null, bool, int or float by its text.
    var isPlainScalar: Bool { if case .scalar(_, true) = kind { return tag == nil }; return false }
    /// True for `~`, `null` or an empty plain scalar.
    var isNull: Bool {
        guard isPlainScalar, let s = scalar else { return false }
        return s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL"
    }
    /// A short name for the node's type, for messages ("a mapping", "a string").
    var typeName: String {
        switch kind {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar:
            if isNull { return "null" }
            if isPlainScalar, let s = scalar {
                if ["true", "false", "True", "False", "TRUE", "FALSE"].contains(s) { return "a boolean" }
                if Int(s) != nil { return "an integer" }
                if Double(s) != nil { return "a number" }
            }
            return "a string"
        }
    }
}

/// Reads YAML text into `YAMLNode`s through libyaml's event parser.
enum YAMLReader {
    /// Aliases may expand to at most this many nodes in one file (the "billion laughs" guard).
    static let maxAliasExpansion = 100_000
    static let maxDepth = 200

    /// Parses `text` (the content of `file`) into its single document's root node.
    /// An empty document gives nil. Syntax errors are thrown as diagnostics.
    package static func parse(_ text: String, file: String) throws(DiagnosticsError) -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw DiagnosticsError([Diagnostic(at: nil, "cannot initialise the YAML parser")])
        }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(DiagnosticsError) -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = Builder(file: file, text: text)
            return try builder.run(&parser)
        }
    }

    private struct Builder {
        let file: String
        var anchors: [String: YAMLNode] = [:]
        var expanded = 0
        var root: YAMLNode?
        var documents = 0
        /// Well-formed YAML that Plumb refuses (NUL, merge keys): all reported at the end of the file.
        var refused: [Diagnostic] = []

        /// The text, for the line a syntax error quotes.
        let text: String

        init(file: String, text: String) { self.file = file; self.text = text }

        func location(_ mark: yaml_mark_t) -> SourceLocation {
            SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
        }

        func syntaxError(_ parser: inout yaml_parser_t) -> DiagnosticsError {
            let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
            var message = problem
            if let context = parser.context.map({ String(cString: $0) }) { message = "\(context), \(problem)" }
            let at = location(parser.problem_mark)
            let line = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(at.line - 1).first.map(String.init)
            // libyaml's words for a tab in the indentation ("found character that cannot start any
            // token") name the symptom; the cause is the tab, pointed at where it is.
            if let line, let tab = line.prefix(while: { $0 == " " || $0 == "\t" }).firstIndex(of: "\t") {
                let column = line.distance(from: line.startIndex, to: tab) + 1
                return DiagnosticsError([Diagnostic(at: SourceLocation(file: file, line: at.line, column: column),
                                                    "YAML does not allow tabs for indentation; use spaces",
                                                    hint: "replace the tab with spaces (most editors can convert indentation to spaces)", excerpt: line)])
            }
            let hint: String? = problem.contains("tab") ? "indent with spaces; YAML does not allow tabs"
                : problem.contains("mapping values are not allowed") ? "quote a value that contains ': '"
                : problem.contains("did not find expected ','") ? "close the list or mapping; inside [ ] and { } quote a value that holds '${…}', '{' or ','"
                : nil
            return DiagnosticsError([Diagnostic(at: at, "YAML syntax: \(message)", hint: hint, excerpt: line?.isEmpty == false ? line : nil)])
        }

        mutating func run(_ parser: inout yaml_parser_t) throws(DiagnosticsError) -> YAMLNode? {
            // A stack of open collections: their start event's node and the children so far.
            var stack: [(node: YAMLNode, anchor: String?, children: [YAMLNode])] = []
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { throw syntaxError(&parser) }
                defer { yaml_event_delete(&event) }
                let here = location(event.start_mark)
                var finished: (YAMLNode, String?)?
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    if !refused.isEmpty { throw DiagnosticsError(refused) }
                    return root
                case YAML_DOCUMENT_START_EVENT:
                    documents += 1
                    if documents > 1 {
                        throw DiagnosticsError([Diagnostic(at: here, "a spec file holds one YAML document, this is a second one",
                                                           hint: "remove the '---' separator or split the file")])
                    }
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    let value = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
                    let tag = s.tag.map { String(cString: $0) }
                    let plain = s.style == YAML_PLAIN_SCALAR_STYLE
                    // libyaml refuses a raw NUL byte but decodes the escapes "\0", "\x00" and "\u0000".
                    // Commands, variables and paths reach the system as C strings, where NUL silently
                    // ends them (`rm -rf build\0/important` runs as `rm -rf build`), so no spec value may hold one.
                    if value.utf8.contains(0) {
                        refused.append(Diagnostic(at: here, "a value holds a NUL character (written as an escape such as \\0)",
                                                  hint: "commands, variables, paths and keys cannot contain NUL; remove it"))
                    }
                    var node = YAMLNode(kind: .scalar(value, plain: plain), location: here, tag: tag)
                    node.block = s.style == YAML_LITERAL_SCALAR_STYLE || s.style == YAML_FOLDED_SCALAR_STYLE
                    finished = (node, s.anchor.map { String(cString: $0) })
                case YAML_SEQUENCE_START_EVENT:
                    let s = event.data.sequence_start
                    if stack.count >= maxDepth { throw DiagnosticsError([Diagnostic(at: here, "YAML nested too deeply")]) }
                    stack.append((YAMLNode(kind: .sequence([]), location: here, tag: s.tag.map { String(cString: $0) }),
                                  s.anchor.map { String(cString: $0) }, []))
                case YAML_MAPPING_START_EVENT:
                    let m = event.data.mapping_start
                    if stack.count >= maxDepth { throw DiagnosticsError([Diagnostic(at: here, "YAML nested too deeply")]) }
                    stack.append((YAMLNode(kind: .mapping([]), location: here, tag: m.tag.map { String(cString: $0) }),
                                  m.anchor.map { String(cString: $0) }, []))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    var open = stack.removeLast()
                    if case .sequence = open.node.kind {
                        open.node.kind = .sequence(open.children)
                    } else {
                        var pairs: [YAMLNode.Pair] = []
                        var i = 0
                        while i + 1 < open.children.count {
                            let key = open.children[i]
                            if key.isMergeKey {
                                refused.append(Diagnostic(at: key.location, "the YAML merge key '<<' is not supported",
                                                          hint: "write the keys out, or alias a whole value (key: *anchor); quote it ('<<') for a key named <<"))
                            }
                            pairs.append(.init(key: key, value: open.children[i + 1]))
                            i += 2
                        }
                        open.node.kind = .mapping(pairs)
                    }
                    finished = (open.node, open.anchor)
                case YAML_ALIAS_EVENT:
                    let name = String(cString: event.data.alias.anchor)
                    guard let target = anchors[name] else {
                        throw DiagnosticsError([Diagnostic(at: here, "unknown alias '*\(name)'")])
                    }
                    expanded += target.size
                    if expanded > maxAliasExpansion {
                        throw DiagnosticsError([Diagnostic(at: here, "aliases expand to too many nodes",
                                                           hint: "a spec needs no recursive aliases")])
                    }
                    var copy = target
                    copy.location = here
                    finished = (copy, nil)
                default:
                    break
                }
                if let (node, anchor) = finished {
                    if let anchor { anchors[anchor] = node }
                    if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
                }
            }
        }
    }
}

extension YAMLNode {
    /// A plain `<<` or an explicit `!!merge`: YAML 1.1's merge key. Plumb refuses it rather than read
    /// it as a literal key named `<<` (which is what libyaml, a YAML 1.2 reader, would give): users who
    /// write `<<: *defaults` expect the keys merged, and a stage silently missing them is worse than an error.
    var isMergeKey: Bool {
        guard case let .scalar(text, plain) = kind else { return false }
        if tag == "tag:yaml.org,2002:merge" { return true }
        return plain && tag == nil && text == "<<"
    }

    /// Number of nodes in this subtree, to bound alias expansion.
    var size: Int {
        switch kind {
        case .scalar: return 1
        case let .sequence(items): return items.reduce(1) { $0 + $1.size }
        case let .mapping(pairs): return pairs.reduce(1) { $0 + $1.key.size + $1.value.size }
        }
    }
}
