import Foundation

/// What a `.dvc` file says about the data next to it: added with `dvc add` (the data is on this
/// machine, or in a DVC remote), or brought in by `dvc import` / `dvc import-url` from elsewhere.
///
/// In Plumb such data is a plain dep: a file git does not track is read from the repository's
/// folder and hashed (docs/decisions.md). What Plumb cannot do is fetch it: that stays DVC's job.
enum DVCTrackedData: Equatable {
    /// `dvc add`: the data itself.
    case added
    /// `dvc import URL PATH`: a file of another repository, at a revision.
    case imported(repository: String, path: String, revision: String?)
    /// `dvc import-url URL`: a file downloaded from a URL (or cloud storage).
    case importedURL(String)

    /// The `.dvc` file that tracks `path` (itself, or a folder it lies in), and what it says.
    static func find(for path: String, in source: SpecSource) -> (file: String, data: DVCTrackedData)? {
        // Only inside the repository: a dep may be absolute or climb out, and nothing there is the project's.
        guard !path.hasPrefix("/"), case let .path(contained) = PathRule.normalise(path) else { return nil }
        var candidate = contained
        while !candidate.isEmpty {
            let file = candidate + ".dvc"
            if let data = read(file, from: source) { return (file, data) }
            guard let slash = candidate.lastIndex(of: "/") else { break }
            candidate = String(candidate[..<slash])
        }
        return nil
    }

    /// A `.dvc` file's meaning, or nil when it is absent or not one DVC wrote.
    static func read(_ file: String, from source: SpecSource) -> DVCTrackedData? {
        guard let bytes = try? source.read(file), let text = String(data: bytes, encoding: .utf8),
              let root = try? YAMLReader.parse(text, file: file), case let .mapping(pairs) = root.kind,
              pairs.contains(where: { $0.key.scalar == "outs" }) else { return nil }
        guard let deps = pairs.first(where: { $0.key.scalar == "deps" })?.value,
              case let .sequence(items) = deps.kind, let first = items.first, case let .mapping(fields) = first.kind
        else { return .added }
        let path = fields.first { $0.key.scalar == "path" }?.value.scalar ?? "?"
        if let repo = fields.first(where: { $0.key.scalar == "repo" })?.value, case let .mapping(repoFields) = repo.kind {
            let url = repoFields.first { $0.key.scalar == "url" }?.value.scalar ?? "?"
            let revision = repoFields.first { $0.key.scalar == "rev_lock" || $0.key.scalar == "rev" }?.value.scalar
            return .imported(repository: url, path: path, revision: revision)
        }
        return .importedURL(path)
    }

    /// Where the data comes from, for messages: "`dvc import-url https://…`".
    var origin: String {
        switch self {
        case .added: return "`dvc add`"
        case let .imported(repository, path, revision): return "`dvc import` of \(path) in \(repository)\(revision.map { " at \($0.prefix(12))" } ?? "")"
        case let .importedURL(url): return "`dvc import-url \(url)`"
        }
    }

    /// What to do about data at `dep`, tracked by `file`, that Plumb cannot fetch.
    func fetchHint(dep: String, file: String) -> String? {
        switch self {
        case .added:
            return "keep it there (`dvc pull` or `dvc checkout` fetches it), or commit it to git"
        case let .imported(repository, path, revision):
            return "fetch it with `dvc pull \(file)` (or `dvc update \(file)` for a newer revision) before reconciling, or replace the import by a stage: cmd: dvc get \(repository) \(path)\(revision.map { " --rev \($0)" } ?? "") -o \(dep), outs: [\(dep)]"
        case let .importedURL(url):
            let download = url.hasPrefix("http://") || url.hasPrefix("https://") ? "curl -fsSL -o \(dep) \(url)" : "dvc get-url \(url) \(dep)"
            return "fetch it with `dvc pull \(file)` / `dvc update \(file)`, or replace the import by a stage: cmd: \(download), outs: [\(dep)], always_run: true"
        }
    }

    /// What the report says of a dep on this data.
    func note(dep: String, file: String, at location: SourceLocation) -> ImportNote {
        switch self {
        case .added:
            return ImportNote(.mapped, at: location, "'\(dep)' is DVC-tracked data (\(file)); in Plumb it is a plain dep, read from the working tree and hashed",
                              hint: fetchHint(dep: dep, file: file))
        case .imported, .importedURL:
            return ImportNote(.unsupported, at: location, "'\(dep)' comes from \(origin), which Plumb does not fetch; the stage depends on the local copy",
                              hint: fetchHint(dep: dep, file: file))
        }
    }
}
