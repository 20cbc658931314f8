/// What a shell may offer for an option's value or a positional argument: derived from the same
/// `ArgumentSpec`s `--help` prints, so a new option completes without anyone editing a script.
enum ValueCompletion: Equatable {
    /// Free text (a number, a duration, a revision): nothing to offer.
    case none
    case environments
    case stages
    case runs
    case directories
    case files
    case choices([String])

    /// The dynamic kinds, as `plumb __complete KIND` takes them.
    var dynamicKind: String? {
        switch self {
        case .environments: "environments"
        case .stages: "stages"
        case .runs: "runs"
        default: nil
        }
    }
}

extension ArgumentSpec {
    /// Whether the option is followed by a value (`--env NAME`); `--name[=VALUE]` is not.
    var takesValue: Bool { if case .option = kind { return true }; return false }

    /// What completes this argument's value, by its declared choices, else by its name and value name.
    var completion: ValueCompletion {
        if !choices.isEmpty { return .choices(choices) }
        switch kind {
        case .flag, .optionalValue: return .none
        case let .option(valueName):
            if key == "--repo" || valueName == "DIR" { return .directories }
            if key == "--env" || valueName == "ENV" { return .environments }
            switch valueName {
            case "STAGE": return .stages
            case "RUN": return .runs
            case "PATH", "FILE": return .files
            default: return .none
            }
        case let .positional(name, _):
            switch name {
            case "stage", "target": return .stages
            case "env", "from", "to": return .environments
            case "run": return .runs
            default: return .none
            }
        }
    }

    /// The first sentence of the help, for the one-line descriptions shells show.
    var summary: String {
        let text = help.replacingOccurrences(of: "`", with: "")
        guard let end = text.range(of: ". ") else { return text.hasSuffix(".") ? String(text.dropLast()) : text }
        return String(text[..<end.lowerBound])
    }
}

/// One command as completion sees it.
struct CompletionEntry {
    var name: String
    var abstract: String
    var options: [ArgumentSpec]
    var positionals: [ArgumentSpec]

    init(_ entry: CommandEntry) {
        name = entry.name
        abstract = entry.abstract.hasSuffix(".") ? String(entry.abstract.dropLast()) : entry.abstract
        options = entry.arguments.filter { if case .positional = $0.kind { return false }; return true }
        positionals = entry.arguments.filter { if case .positional = $0.kind { return true }; return false }
    }

    /// Every command `plumb --help` lists, in its order.
    static var all: [CompletionEntry] { PlumbCommands.all.map(CompletionEntry.init) }
}
