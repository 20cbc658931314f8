import Foundation
import PlumbCore
import PlumbGit

/// What a person may type for a run: a full run id (`20261203-132813-ef17cd`), a unique prefix of
/// one (`20261203-1328`), its random suffix or the start of it (`ef17cd`, `ef17`), `latest` (the
/// environment's last run) or `latest~N` (the Nth run before it).
package enum RunReference: Sendable, Hashable {
    /// An id, a prefix of one, or (the start of) its random suffix.
    case name(String)
    /// The environment's last run, or the `back`th run before it.
    case latest(back: Int)

    /// The longest text accepted; a run id is 22 characters.
    package static let maxLength = 128

    /// Parses `text`, refusing anything but `[A-Za-z0-9~._-]` up to `maxLength` characters, so the
    /// text can never name a path (`../x`, `a/b`) or carry a control character into a message.
    package init(parsing text: String) throws {
        guard Self.isWellFormed(text) else {
            throw PlumbError("'\(Escape.terminal(String(text.prefix(Self.maxLength))))' cannot name a run: a run is named by letters, digits and `~._-`, at most \(Self.maxLength) characters",
                             hint: "give a run id, its suffix, or latest / latest~N (runs: `plumb history`)", kind: .usage)
        }
        if text == "latest" {
            self = .latest(back: 0)
        } else if text.hasPrefix("latest~") {
            let count = text.dropFirst("latest~".count)
            // `latest~` alone is `latest~1`, as git's `HEAD~` is `HEAD~1`.
            guard count.isEmpty || (count.count <= 9 && count.allSatisfy { ("0"..."9").contains($0) }) else {
                throw PlumbError("'\(text)' cannot name a run: after `latest~` comes a number of runs back", hint: "e.g. latest~1", kind: .usage)
            }
            self = .latest(back: count.isEmpty ? 1 : Int(count)!)
        } else {
            self = .name(text)
        }
    }

    /// Whether `text` has the characters and length of a run name.
    package static func isWellFormed(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= maxLength && text.utf8.allSatisfy { c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
                || c == UInt8(ascii: "~") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
    }

    /// Whether the run id `run` answers to `name`: the same id, a prefix of it, or a prefix of its
    /// random suffix (what follows the last `-`).
    static func matches(_ name: String, run: String) -> Bool {
        if run.hasPrefix(name) { return true }
        guard let dash = run.lastIndex(of: "-") else { return false }
        return run[run.index(after: dash)...].hasPrefix(name)
    }
}

/// A run a reference resolved to.
package struct ResolvedRun: Sendable, Hashable {
    package var run: String
    package var environment: String
}

/// Resolves run references against the run records of one commit: what every command that takes
/// a run (`show`, `logs`, `metrics`, `metrics diff`, `rollback --to`) calls, so each accepts the
/// same names and says the same thing when a name matches none or several.
///
/// Only the names of the record files are compared, never the text joined into a path.
package struct RunResolver {
    package let repository: Repository
    package let commit: ObjectID
    /// The environments whose runs a name is looked up in (the `--env`, or every one).
    package let environments: [String]
    /// The environment `latest` refers to, or why there is none.
    let latestEnvironment: Result<String, PlumbError>

    /// Looks runs up in `requested` when given (it must be an environment of `spec`), else in
    /// every environment; `latest` is the requested environment's, else the only one's, else dev's.
    package init(repository: Repository, commit: ObjectID, spec: Spec?, environment requested: String?) throws {
        self.repository = repository
        self.commit = commit
        guard let spec else {
            environments = requested.map { [$0] } ?? []
            latestEnvironment = requested.map { .success($0) }
                ?? .failure(PlumbError("the spec at \(commit.short) is not valid, so no environment is chosen for `latest`",
                                       hint: "pass --env", kind: .usage))
            return
        }
        if let requested {
            let name = try Snapshot.chooseEnvironment(requested, in: spec)
            environments = [name]
            latestEnvironment = .success(name)
        } else {
            environments = spec.environments.keys.sorted()
            latestEnvironment = Result { try Snapshot.chooseEnvironment(nil, in: spec) }.mapError { error in
                var e = error as? PlumbError ?? PlumbError("\(error)", kind: .usage)
                e.message = "`latest` needs an environment: \(e.message)"
                return e
            }
        }
    }

    /// The resolver for HEAD of `project` and the spec there.
    package static func atHead(_ project: Project, environment: String?) throws -> RunResolver {
        guard let commit = try project.repository.head().commit else {
            throw PlumbError("the repository has no commits yet", hint: "commit spec/pipeline.yaml first")
        }
        let loaded = SpecLoader.load(from: CommitSpecSource(repository: project.repository, commit: commit))
        return try RunResolver(repository: project.repository, commit: commit, spec: loaded.spec, environment: environment)
    }

    /// The run `text` names; a usage error saying what matched when it names no run or several.
    package func resolve(_ text: String) throws -> ResolvedRun {
        let reference = try RunReference(parsing: text)
        if let run = try match(reference) { return run }
        throw PlumbError("no run matches '\(text)'" + scope,
                         hint: "list runs with `plumb history`; a run is named by its id, a unique prefix of it, its suffix, or latest / latest~N",
                         kind: .usage)
    }

    /// The run `reference` names, or nil when it names none (for a command that also takes other
    /// names, such as commits); throws when it names several, or `latest~N` goes back too far.
    package func match(_ reference: RunReference) throws -> ResolvedRun? {
        switch reference {
        case let .latest(back):
            return try latest(back: back)
        case let .name(name):
            var exact: [ResolvedRun] = []
            var candidates: [ResolvedRun] = []
            for environment in environments {
                for run in try runIDs(of: environment) {
                    if run == name { exact.append(ResolvedRun(run: run, environment: environment)) }
                    if RunReference.matches(name, run: run) { candidates.append(ResolvedRun(run: run, environment: environment)) }
                }
            }
            // A full id wins over the runs it happens to be a prefix of, as before short names.
            if let first = exact.first { return first }
            if candidates.count <= 1 { return candidates.first }
            candidates.sort { ($0.run, $0.environment) > ($1.run, $1.environment) }
            let shown = candidates.prefix(5).map { "\($0.run) (\($0.environment))" }.joined(separator: ", ")
            let more = candidates.count > 5 ? " and \(candidates.count - 5) more" : ""
            throw PlumbError("'\(name)' matches \(candidates.count) runs\(scope): \(shown)\(more)",
                             hint: "type more of the run id", kind: .usage)
        }
    }

    /// The run `back` runs before the environment's last run, in the order `plumb history` lists them
    /// (the branch's commits, newest first).
    func latest(back: Int) throws -> ResolvedRun {
        let environment = try latestEnvironment.get()
        let path = RecordedState.path(for: environment)
        guard let last = try repository.file(at: path, in: commit).map({ try RecordedState.decode($0, path: path) })?.lastRun else {
            throw PlumbError("\(environment) has no run yet, so `latest` names nothing", hint: "run `plumb reconcile --env \(environment)`", kind: .usage)
        }
        if back == 0 { return ResolvedRun(run: last, environment: environment) }
        // The order of the commits that recorded the runs: two runs started in the same second
        // have no order by time, but always one on the branch.
        let runs = try HistoryReader(repository: repository, commit: commit).entries(environments: [environment], limit: Int.max)
            .filter { $0.kind == .run }.map(\.run)
        guard let index = runs.firstIndex(of: last) else {
            throw PlumbError("\(environment)'s last run \(last) has no record under \(SpecPaths.history(environment))/runs at \(commit.short)",
                             kind: .usage)
        }
        guard index + back < runs.count else {
            throw PlumbError("latest~\(back) goes back further than \(environment)'s runs: it has \(runs.count - index - 1) before its last run \(last)",
                             hint: "list runs with `plumb history --env \(environment)`", kind: .usage)
        }
        return ResolvedRun(run: runs[index + back], environment: environment)
    }

    /// The ids of the run records of `environment`, from the names of their files.
    func runIDs(of environment: String) throws -> [String] {
        try repository.blobs(under: "\(SpecPaths.history(environment))/runs", in: commit).compactMap { entry in
            let file = (entry.path as NSString).lastPathComponent
            return file.hasSuffix(".json") && entry.path == RunRecord.path(for: environment, run: String(file.dropLast(5)))
                ? String(file.dropLast(5)) : nil
        }
    }

    private var scope: String {
        environments.count == 1 ? " in \(environments[0]) at \(commit.short)" : " at \(commit.short)"
    }
}
