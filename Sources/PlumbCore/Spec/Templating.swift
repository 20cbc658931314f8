import Foundation

/// `${name.key}` interpolation in spec strings (docs/spec.md in the README's spec section).
///
/// Every `${…}` is Plumb's, as in DVC: a command meant for the shell writes `$${HOME}` (which
/// becomes `${HOME}`) or `$HOME`. Names come from the fan-out item (`item`, `key`), then
/// `vars`, then the top-level keys of spec/params.yaml; a name in both `vars` and params.yaml
/// is refused where `vars` declares it, so a reference never silently means one of two things.
struct TemplateScope {
    /// Where a name's value comes from; params references in a command are re-resolved per
    /// environment (`CommandTemplate`), the others are fixed by the spec.
    enum Origin: Equatable { case item, vars, params }

    struct Binding {
        var value: JSONValue
        var origin: Origin
    }

    var names: [String: Binding] = [:]

    /// The scope with fan-out names laid over it.
    func with(_ local: [String: JSONValue]) -> TemplateScope {
        var copy = self
        for (name, value) in local { copy.names[name] = Binding(value: value, origin: .item) }
        return copy
    }
}

/// One piece of a templated string: literal text, or a reference written at `offset`
/// (in characters from the start of the string, pointing at the `$` of `${`).
enum TemplateSegment: Equatable {
    case text(String)
    case reference(path: [String], offset: Int)
}

/// A command whose `${…}` references to spec/params.yaml are resolved again for each
/// environment, so that an environment's params override changes the command it runs (and,
/// since the command is fingerprinted, reruns the stage there alone).
package struct CommandTemplate: Sendable, Hashable {
    package enum Part: Sendable, Hashable {
        case text(String)
        /// A key path into the effective params (`train.epochs`).
        case param([String])
    }

    package var parts: [Part]

    /// The command for `params` (spec/params.yaml with the environment's overrides laid over
    /// it), or the reference that does not resolve to a scalar there.
    package func render(params: JSONValue) -> Result<String, TemplateProblem> {
        var out = ""
        for part in parts {
            switch part {
            case let .text(text): out += text
            case let .param(path):
                switch Templating.lookup(path, in: params) {
                case let .success(value):
                    guard let text = Templating.text(of: value) else {
                        return .failure(TemplateProblem(reference: path.joined(separator: "."), problem: "is \(Templating.typeName(value)) in these params, not a scalar"))
                    }
                    out += text
                case .failure:
                    return .failure(TemplateProblem(reference: path.joined(separator: "."), problem: "is not defined in these params"))
                }
            }
        }
        return .success(out)
    }
}

/// Why a command template does not render for an environment's params.
package struct TemplateProblem: Error, Sendable, Hashable {
    package var reference: String
    package var problem: String
}

/// Parsing and resolving `${…}`.
enum Templating {
    /// Splits `text` into literal text and references; `$${` is a literal `${`. A malformed
    /// reference is reported as (offset, message) and the parse stops.
    static func parse(_ text: String) -> Result<[TemplateSegment], ParseError> {
        guard text.contains("${") else { return .success([.text(text)]) }
        let chars = Array(text)
        var segments: [TemplateSegment] = []
        var literal = ""
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 2 < chars.count, chars[i + 1] == "$", chars[i + 2] == "{" {
                literal += "${"; i += 3; continue
            }
            guard chars[i] == "$", i + 1 < chars.count, chars[i + 1] == "{" else {
                literal.append(chars[i]); i += 1; continue
            }
            let start = i
            var end = i + 2
            while end < chars.count, chars[end] != "}" { end += 1 }
            guard end < chars.count else {
                return .failure(ParseError(offset: start, message: "'${' is not closed by '}'"))
            }
            let body = String(chars[(start + 2)..<end]).trimmingCharacters(in: .whitespaces)
            let path = body.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !body.isEmpty, path.allSatisfy(isName) else {
                return .failure(ParseError(offset: start, message: "'${\(String(chars[(start + 2)..<end]))}' is not a name or key path"))
            }
            if !literal.isEmpty { segments.append(.text(literal)); literal = "" }
            segments.append(.reference(path: path, offset: start))
            i = end + 1
        }
        if !literal.isEmpty || segments.isEmpty { segments.append(.text(literal)) }
        return .success(segments)
    }

    struct ParseError: Error {
        var offset: Int
        var message: String
    }

    private static func isName(_ part: String) -> Bool {
        !part.isEmpty && part.unicodeScalars.allSatisfy { ($0.properties.isAlphabetic && $0.isASCII) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    /// A key path below a value: object keys, or list indices written as numbers.
    static func lookup(_ path: some Collection<String>, in value: JSONValue) -> Result<JSONValue, LookupFailure> {
        var current = value
        var walked: [String] = []
        for key in path {
            switch current {
            case let .object(object):
                guard let next = object[key] else {
                    return .failure(LookupFailure(parent: walked, key: key, candidates: object.keys.sorted()))
                }
                current = next
            case let .array(items):
                guard let index = Int(key), items.indices.contains(index) else {
                    return .failure(LookupFailure(parent: walked, key: key, candidates: items.indices.map(String.init)))
                }
                current = items[index]
            default:
                return .failure(LookupFailure(parent: walked, key: key, candidates: []))
            }
            walked.append(key)
        }
        return .success(current)
    }

    struct LookupFailure: Error {
        var parent: [String]
        var key: String
        var candidates: [String]
    }

    /// A scalar as it appears in a string; nil for null, lists and mappings.
    static func text(of value: JSONValue) -> String? {
        switch value {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .double(d): return JSONValue.format(d)
        case let .bool(b): return b ? "true" : "false"
        case .null, .array, .object: return nil
        }
    }

    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .double: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "a mapping"
        }
    }

    /// A fan-out key made safe as part of a stage name (`^[a-z][a-z0-9_-]*$`): lowercase, and
    /// every other character (`.` of `0.1`, `/`, spaces) replaced by `_`.
    static func nameSafe(_ text: String) -> String {
        String(text.lowercased().unicodeScalars.map { c -> Character in
            ("a"..."z").contains(c) || ("0"..."9").contains(c) || c == "-" || c == "_" ? Character(c) : "_"
        })
    }
}

/// Resolves the references of one string against a scope, reporting each problem where its
/// `${` is written.
struct Interpolator {
    var scope: TemplateScope
    var diagnostics: [Diagnostic] = []

    /// What a templated string became.
    struct Resolved {
        var text: String
        /// The value itself when the whole string is one reference (`timeout: ${t}`, or with
        /// `allowCollection` a list or mapping: `foreach: ${models}`).
        var whole: JSONValue?
        /// The string with params references kept, when it has any.
        var template: CommandTemplate?
    }

    /// Interpolates `text`, written at `location`; `locate` turns a character offset into
    /// the place it is written. Nil when a reference does not resolve (diagnosed).
    mutating func resolve(_ text: String, context: String, allowCollection: Bool = false,
                          locate: (Int) -> SourceLocation) -> Resolved? {
        let segments: [TemplateSegment]
        switch Templating.parse(text) {
        case let .success(parsed): segments = parsed
        case let .failure(error):
            diagnostics.append(Diagnostic(at: locate(error.offset), "\(error.message) in \(context)",
                                          hint: "write $${…} for a '${' the shell should see, e.g. $${HOME}"))
            return nil
        }
        if segments.count == 1, case let .text(plain) = segments[0] { return Resolved(text: plain) }
        var out = ""
        var parts: [CommandTemplate.Part] = []
        var usesParams = false
        var ok = true
        var whole: JSONValue?
        for segment in segments {
            switch segment {
            case let .text(literal):
                out += literal
                parts.append(.text(literal))
            case let .reference(path, offset):
                guard let (value, origin) = lookup(path, context: context, at: locate(offset)) else { ok = false; continue }
                if segments.count == 1 { whole = value }
                guard let rendered = Templating.text(of: value) else {
                    if allowCollection, segments.count == 1, value != .null { continue }
                    diagnostics.append(Diagnostic(at: locate(offset), "'${\(path.joined(separator: "."))}' in \(context) is \(Templating.typeName(value)), which cannot be put into a string",
                                                  hint: value == .null ? "give it a value" : "name one of its scalar keys, e.g. ${\(path.joined(separator: ".")).\(firstKey(value) ?? "0")}"))
                    ok = false
                    continue
                }
                out += rendered
                if origin == .params { usesParams = true; parts.append(.param(path)) } else { parts.append(.text(rendered)) }
            }
        }
        guard ok else { return nil }
        return Resolved(text: out, whole: whole, template: usesParams ? CommandTemplate(parts: parts) : nil)
    }

    private func firstKey(_ value: JSONValue) -> String? {
        if case let .object(o) = value { return o.keys.sorted().first }
        return nil
    }

    /// The value of `path` and where its name comes from, or nil (diagnosed, with a did-you-mean).
    mutating func lookup(_ path: [String], context: String, at location: SourceLocation) -> (JSONValue, TemplateScope.Origin)? {
        let name = path[0]
        guard let binding = scope.names[name] else {
            let known = scope.names.keys.sorted()
            var hint: String
            if let guess = Suggest.closest(to: name, in: known) {
                hint = "did you mean '${\(([guess] + path.dropFirst()).joined(separator: "."))}'?"
            } else if name == "item" || name == "key" {
                hint = "'\(name)' exists only inside a 'foreach' or 'matrix' stage"
            } else if known.isEmpty {
                hint = "declare it under 'vars:' or in spec/params.yaml"
            } else {
                hint = "known names: \(known.joined(separator: ", "))"
            }
            if name.uppercased() == name, name.contains(where: \.isLetter) {
                hint += "; for the shell's variable write $${\(name)} or $\(name)"
            }
            diagnostics.append(Diagnostic(at: location, "unknown name '\(name)' in '${\(path.joined(separator: "."))}' of \(context)", hint: hint))
            return nil
        }
        switch Templating.lookup(path.dropFirst(), in: binding.value) {
        case let .success(value): return (value, binding.origin)
        case let .failure(failure):
            let parent = ([name] + failure.parent).joined(separator: ".")
            let hint = Suggest.closest(to: failure.key, in: failure.candidates).map { "did you mean '${\(parent).\($0)}'?" }
                ?? (failure.candidates.isEmpty ? "'\(parent)' has no keys" : "keys of '\(parent)': \(failure.candidates.prefix(10).joined(separator: ", "))")
            diagnostics.append(Diagnostic(at: location, "'\(parent)' has no key '\(failure.key)' (in '${\(path.joined(separator: "."))}' of \(context))", hint: hint))
            return nil
        }
    }
}
