import Foundation

// Records (`history/<env>/state.json`, run records, pins, the cache's fingerprint index) are
// untrusted input: anyone who can push to the repository or its remote can write them, and Plumb
// builds file paths from what they say. Everything JSON decoding cannot check by type is checked
// here, once, as the record is decoded (`RecordJSON.decode` runs `check()`), so no caller ever
// holds a record naming `../victim` as an output or `../../x` as a run. Digests and object ids
// check themselves (`Digest`, `ObjectID` cannot hold anything but hex of the right length).

/// A path Plumb may write inside a repository or a workspace: relative, normalised (no `.`, `..`
/// or empty parts, no leading `/`, no NUL), and outside `.git/`, `.plumb/` and `history/`.
///
/// The same rule as the spec's outputs (`PathRule`), so whatever a valid spec declares is a valid
/// `RecordPath`, and a record can name nothing a spec could not.
package struct RecordPath: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The path, relative to the repository root (or workspace).
    package let value: String

    /// `text` as a path Plumb may write, or nil when `problem(with:)` has something to say.
    package init?(_ text: String) {
        guard Self.problem(with: text) == nil else { return nil }
        value = text
    }

    /// `text` as a path Plumb may write; the error says why not.
    package init(validating text: String) throws {
        if let problem = Self.problem(with: text) { throw PlumbError("'\(text)' \(problem)") }
        value = text
    }

    package var description: String { value }
    package static func < (a: RecordPath, b: RecordPath) -> Bool { a.value < b.value }

    /// The folders from the root down to the path's parent (`build`, `build/models` for
    /// `build/models/a.pkl`), in that order.
    var parentFolders: [String] {
        let parts = value.split(separator: "/")
        return parts.indices.dropLast().map { parts[...$0].joined(separator: "/") }
    }

    /// Why `text` is not a path Plumb may write, or nil when it is one.
    package static func problem(with text: String) -> String? {
        if let problem = RecordRules.normalisedProblem(text, allowAbsolute: false) { return problem }
        if let top = text.split(separator: "/").first, PathRule.reserved.contains(String(top)) {
            return "lies inside '\(top)/', which Plumb owns"
        }
        return nil
    }
}

/// Why a record was refused: where in it (`stages.train.outputs`) and what is wrong.
struct RecordProblem: Error, CustomStringConvertible {
    var place: String
    var message: String
    var description: String { place.isEmpty ? message : "\(place): \(message)" }
}

/// A decoded record that checks what its types cannot; `RecordJSON.decode` calls `check()`.
protocol CheckedRecord {
    /// Throws `RecordProblem` for the first value that breaks a rule.
    func check() throws
}

/// The rules a record's values follow, shared by every record type.
package enum RecordRules {
    /// Untrusted text for a message: escaped (so control characters cannot move the cursor or
    /// forge lines) and cut to 80 characters.
    package static func quoted(_ text: String) -> String {
        let cut = text.count > 80 ? String(text.prefix(80)) + "…" : text
        return "'" + cut.unicodeScalars.map { c -> String in
            switch c {
            case "'": return "\\'"
            case "\\": return "\\\\"
            default: return c.properties.generalCategory == .control || c.properties.generalCategory == .format
                ? c.escaped(asASCII: true) : String(c)
            }
        }.joined() + "'"
    }

    /// Why `text` is not a normalised path (relative, or absolute when `allowAbsolute`), or nil.
    package static func normalisedProblem(_ text: String, allowAbsolute: Bool) -> String? {
        if text.isEmpty { return "is an empty path" }
        if text == "/" && allowAbsolute { return nil }
        if text.utf8.contains(0) { return "contains a NUL character" }
        if text.hasPrefix("/") && !allowAbsolute { return "is an absolute path; a recorded path is relative to the repository" }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst(text.hasPrefix("/") ? 1 : 0)
        if parts.contains("..") { return "climbs out through '..'" }
        if parts.contains(".") || parts.contains("") { return "is not a normalised path (empty or '.' parts)" }
        return nil
    }

    /// Throws unless `path` is a path Plumb may write (an output or a metrics file).
    static func output(_ path: String, at place: String) throws {
        if let problem = RecordPath.problem(with: path) {
            throw RecordProblem(place: place, message: "output \(quoted(path)) \(problem)")
        }
    }

    /// Throws unless `path` is a dep's path: normalised, relative or absolute (data outside the
    /// repository). Deps are only compared and shown, never written, so Plumb's folders are allowed.
    static func dep(_ path: String, at place: String) throws {
        if let problem = normalisedProblem(path, allowAbsolute: true) {
            throw RecordProblem(place: place, message: "dep \(quoted(path)) \(problem)")
        }
    }

    /// Throws unless `name` is a stage or environment name (`^[a-z][a-z0-9_-]*$`, as in a spec).
    static func name(_ name: String, of kind: String, at place: String) throws {
        guard NameRule.isValid(name) else {
            throw RecordProblem(place: place, message: "\(quoted(name)) is not a valid \(kind) name")
        }
    }

    /// Throws unless `id` can be a run id: it names a file (`history/<env>/runs/<id>.json`), so
    /// letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most 128 characters.
    static func run(_ id: String, at place: String) throws {
        guard isRunID(id) else {
            throw RecordProblem(place: place, message: "\(quoted(id)) is not a run id (such as 20261125-091502-3fa9c1)")
        }
    }

    /// A placement's words reach terminals and reports: short, printable, and the runner one Plumb has.
    static func placement(_ placement: Placement, at place: String) throws {
        guard ExecutorKind(rawValue: placement.runner) != nil else {
            throw RecordProblem(place: place + ".runner", message: "\(quoted(placement.runner)) is not a runner (local, slurm)")
        }
        for (key, value) in [("job", placement.job), ("node", placement.node), ("state", placement.state)] {
            guard let value else { continue }
            let plain = value.utf8.count <= 255 && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7f }
            guard plain else { throw RecordProblem(place: "\(place).\(key)", message: "\(quoted(value)) is not a plain word") }
        }
        for (key, value) in [("queued", placement.queued), ("ran", placement.ran)] {
            guard let value else { continue }
            guard value.isFinite, value >= 0 else { throw RecordProblem(place: "\(place).\(key)", message: "\(value) is not a duration") }
        }
    }

    static func isRunID(_ id: String) -> Bool {
        guard let first = id.utf8.first, id.utf8.count <= 128, isAlphanumeric(first) else { return false }
        return id.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
    }

    /// Throws unless `id` is a content identity: `git:<object id>`, `sha256:<digest>` or
    /// `sha256:<digest>:<path inside the output>`; another scheme is `<lowercase>:<printable text>`.
    static func contentID(_ id: String, at place: String) throws {
        func refuse() -> RecordProblem { RecordProblem(place: place, message: "\(quoted(id)) is not a content id (git:… or sha256:…)") }
        guard let colon = id.firstIndex(of: ":") else { throw refuse() }
        let scheme = id[..<colon], rest = String(id[id.index(after: colon)...])
        switch scheme {
        case "git":
            guard ObjectID.isValid(rest) else { throw refuse() }
        case "sha256":
            let digest = rest.prefix(64), sub = rest.dropFirst(64)
            guard Digest.isValid(String(digest)) else { throw refuse() }
            if !sub.isEmpty {
                guard sub.first == ":", normalisedProblem(String(sub.dropFirst()), allowAbsolute: false) == nil else { throw refuse() }
            }
        default:
            guard !scheme.isEmpty, scheme.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }),
                  !rest.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { throw refuse() }
        }
    }

    /// Checks every output path and dep of one stage's record.
    static func stage(outputs: [String: Digest], inputs: [String: String], at place: String) throws {
        let prefix = place.isEmpty ? "" : place + "."
        for path in outputs.keys.sorted() { try output(path, at: prefix + "outputs") }
        for (path, id) in inputs.sorted(by: { $0.key < $1.key }) {
            try dep(path, at: prefix + "inputs")
            try contentID(id, at: prefix + "inputs.\(path)")
        }
    }

    /// The error a command reports for a refused record: `<file>: error: <what>` with `hint`.
    static func refusal(_ error: Error, file: String, kind: String, hint: String) -> PlumbError {
        let detail = (error as? RecordProblem)?.description ?? describeDecodingError(error)
        return PlumbError("not a valid \(kind): \(detail)", hint: hint, file: file)
    }
}

extension RecordedState: CheckedRecord {
    func check() throws {
        try RecordRules.name(environment, of: "environment", at: "environment")
        if let lastRun { try RecordRules.run(lastRun, at: "lastRun") }
        for (name, record) in stages.sorted(by: { $0.key < $1.key }) {
            try RecordRules.name(name, of: "stage", at: "stages")
            try RecordRules.run(record.run, at: "stages.\(name).run")
            try RecordRules.stage(outputs: record.outputs, inputs: record.inputs, at: "stages.\(name)")
            for (key, value) in (record.hardware ?? [:]).sorted(by: { $0.key < $1.key }) {
                let plain = value.utf8.count <= 64 && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7f }
                guard ["gpus", "gpuType"].contains(key), plain else {
                    throw RecordProblem(place: "stages.\(name).hardware.\(key)", message: "\(RecordRules.quoted(value)) is not a GPU count or type")
                }
            }
        }
    }
}

extension RunRecord: CheckedRecord {
    func check() throws {
        try RecordRules.run(run, at: "run")
        try RecordRules.name(environment, of: "environment", at: "environment")
        for name in dropped { try RecordRules.name(name, of: "stage", at: "dropped") }
        for (name, stage) in stages.sorted(by: { $0.key < $1.key }) {
            try RecordRules.name(name, of: "stage", at: "stages")
            try RecordRules.stage(outputs: stage.outputs, inputs: stage.inputs, at: "stages.\(name)")
            if let placement = stage.placement { try RecordRules.placement(placement, at: "stages.\(name).placement") }
            for (path, plot) in (stage.plots ?? [:]).sorted(by: { $0.key < $1.key }) {
                try RecordRules.output(path, at: "stages.\(name).plots")
                if let problem = plot.problem() { throw RecordProblem(place: "stages.\(name).plots.\(path)", message: "the plot \(problem)") }
            }
            if let plotsRun = stage.plotsRun { try RecordRules.run(plotsRun, at: "stages.\(name).plotsRun") }
        }
        if let pin {
            try RecordRules.name(pin.source, of: "environment", at: "pin.source")
            try RecordRules.run(pin.run, at: "pin.run")
        }
    }
}

extension Pin: CheckedRecord {
    func check() throws {
        try RecordRules.name(source, of: "environment", at: "source")
        try RecordRules.run(run, at: "run")
        if let rolledBackFrom { try RecordRules.run(rolledBackFrom, at: "rolledBackFrom") }
        for (name, stage) in stages.sorted(by: { $0.key < $1.key }) {
            try RecordRules.name(name, of: "stage", at: "stages")
            try RecordRules.stage(outputs: stage.outputs, inputs: [:], at: "stages.\(name)")
        }
    }
}

extension CachedOutcome: CheckedRecord {
    func check() throws {
        try RecordRules.run(run, at: "run")
        try RecordRules.stage(outputs: outputs, inputs: [:], at: "")
    }
}
