import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// One declared argument of a command, in the shape of swift-argument-parser's
/// `@Flag`, `@Option` and `@Argument`.
package struct ArgumentSpec: Sendable {
    package enum Kind: Sendable {
        /// `--name`, no value.
        case flag
        /// `--name VALUE` or `--name=VALUE`; may repeat.
        case option(valueName: String)
        /// `--name` alone or `--name=VALUE` (like `--wait-for-lock[=DURATION]`).
        case optionalValue(valueName: String)
        /// A positional argument.
        case positional(name: String, optional: Bool)
    }

    package var names: [String]
    package var kind: Kind
    var help: String
    /// A positional that takes every remaining argument (zero or more), like `<stage>...`.
    var repeats = false
    /// The only values it takes, for shell completion and the man page (empty: any).
    var choices: [String] = []

    /// This argument, completing (and documenting) only `values`.
    func choosing(_ values: [String]) -> ArgumentSpec {
        var copy = self
        copy.choices = values
        return copy
    }

    package static func flag(_ names: String..., help: String) -> ArgumentSpec { .init(names: names, kind: .flag, help: help) }
    static func option(_ names: String..., value: String, help: String) -> ArgumentSpec {
        .init(names: names, kind: .option(valueName: value), help: help)
    }
    static func optionalValue(_ name: String, value: String, help: String) -> ArgumentSpec {
        .init(names: [name], kind: .optionalValue(valueName: value), help: help)
    }
    static func positional(_ name: String, optional: Bool = false, help: String) -> ArgumentSpec {
        .init(names: [], kind: .positional(name: name, optional: optional), help: help)
    }
    /// Zero or more positional arguments; the last positional of a command.
    static func positionals(_ name: String, help: String) -> ArgumentSpec {
        .init(names: [], kind: .positional(name: name, optional: true), help: help, repeats: true)
    }

    /// The key parsed values are stored under: the first long name, or the positional's name.
    package var key: String {
        if case let .positional(name, _) = kind { return name }
        return names.first { $0.hasPrefix("--") } ?? names[0]
    }
}

/// A usage error: wrong flags or arguments. The command line exits 64 for these.
struct UsageError: Error, Sendable, CustomStringConvertible {
    package var message: String
    /// The command whose `--help` the error points to; empty for `plumb` itself.
    package var command: String
    var hint: String?
    package init(_ message: String, hint: String? = nil, command: String) {
        self.message = message
        self.hint = hint
        self.command = command
    }
    package var description: String { message }
}

/// Arguments after parsing, read by a command's initialiser.
package struct ParsedArguments: Sendable {
    var flags: Set<String> = []
    var options: [String: [String]] = [:]
    var positionals: [String: String] = [:]
    /// Values of a repeating positional, in order.
    var lists: [String: [String]] = [:]
    let command: String

    package func flag(_ key: String) -> Bool { flags.contains(key) }
    func option(_ key: String) -> String? { options[key]?.last }
    package func options(_ key: String) -> [String] { options[key] ?? [] }
    func positional(_ name: String) -> String? { positionals[name] }
    func positionals(_ name: String) -> [String] { lists[name] ?? [] }

    /// An option's value converted by `transform`; a value it rejects is a usage error.
    func option<T>(_ key: String, as what: String, _ transform: (String) -> T?) throws -> T? {
        guard let raw = option(key) else { return nil }
        guard let value = transform(raw) else { throw UsageError("\(key) expects \(what), not '\(raw)'", command: command) }
        return value
    }

    /// A duration option (`--interval 5m`) in seconds, through the one duration parser specs use too;
    /// `empty` is the value of a bare `--name` for an `optionalValue` option. A malformed duration,
    /// zero, or one longer than `DurationParser.maximum` is a usage error, never a value that could
    /// overflow later.
    package func duration(_ key: String, empty: Double? = nil) throws -> Double? {
        guard let raw = option(key) else { return nil }
        if raw.isEmpty, let empty { return empty }
        switch DurationParser.parse(raw) {
        case let .seconds(s) where s > 0: return s
        case .tooLong:
            throw UsageError("\(key) expects a duration of at most \(DurationParser.maximumText), not '\(raw)'", command: command)
        default:
            throw UsageError("\(key) expects a duration such as 30s, 5m or 1h30m, not '\(raw)'", command: command)
        }
    }

    /// Parses `arguments` against `specs`.
    package static func parse(_ arguments: [String], specs: [ArgumentSpec], command: String) throws -> ParsedArguments {
        var parsed = ParsedArguments(command: command)
        let positionals = specs.filter { if case .positional = $0.kind { return true }; return false }
        var positionalIndex = 0
        var i = 0
        var onlyPositionals = false
        while i < arguments.count {
            let arg = arguments[i]
            i += 1
            if !onlyPositionals, arg == "--" { onlyPositionals = true; continue }
            if !onlyPositionals, arg.hasPrefix("-"), arg.count > 1 {
                let (name, inline) = arg.firstIndex(of: "=").map { (String(arg[..<$0]), Optional(String(arg[arg.index(after: $0)...]))) } ?? (arg, nil)
                guard let spec = specs.first(where: { $0.names.contains(name) }) else {
                    let known = specs.flatMap(\.names)
                    let hint = Suggest.closest(to: name, in: known).map { " (did you mean '\($0)'?)" } ?? ""
                    throw UsageError("unknown option '\(name)'\(hint)", command: command)
                }
                switch spec.kind {
                case .flag:
                    if inline != nil { throw UsageError("\(name) takes no value", command: command) }
                    parsed.flags.insert(spec.key)
                case let .option(valueName):
                    var value = inline
                    if value == nil {
                        guard i < arguments.count else { throw UsageError("\(name) needs a value (\(valueName))", command: command) }
                        value = arguments[i]; i += 1
                    }
                    parsed.options[spec.key, default: []].append(value!)
                case .optionalValue:
                    parsed.options[spec.key, default: []].append(inline ?? "")
                case .positional:
                    break
                }
            } else {
                guard positionalIndex < positionals.count else {
                    throw UsageError("unexpected argument '\(arg)'", command: command)
                }
                let spec = positionals[positionalIndex]
                if spec.repeats {
                    parsed.lists[spec.key, default: []].append(arg)
                } else {
                    parsed.positionals[spec.key] = arg
                    positionalIndex += 1
                }
            }
        }
        for spec in positionals[positionalIndex...] {
            if case let .positional(name, optional) = spec.kind, !optional {
                throw UsageError("missing argument <\(name)>", command: command)
            }
        }
        return parsed
    }
}
