import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// The records in a commit: what `plumb` reads from `history/` and `environments/`.
enum RecordFiles {
    /// Decodes, and so checks, every record that differs between `from` (nil: none) and `to`, as
    /// `to` has it. A pull runs this on the fetched tip before moving the branch, so a remote that
    /// brings a crafted record is refused before it reaches the working tree or any command.
    static func check(_ repository: Repository, from: ObjectID?, to: ObjectID, source: String) throws {
        for path in try repository.changedPaths(from: from, to: to) {
            let decode: ((Data, String) throws -> Void)?
            if path.hasPrefix(SpecPaths.history + "/"), path.hasSuffix("/state.json") {
                decode = { _ = try RecordedState.decode($0, path: $1) }
            } else if path.hasPrefix(SpecPaths.history + "/"), path.contains("/runs/"), path.hasSuffix(".json") {
                decode = { _ = try RunRecord.decode($0, path: $1) }
            } else if path.hasPrefix(SpecPaths.environments + "/"), path.hasSuffix(".pin.json") {
                decode = { _ = try Pin.decode($0, path: $1) }
            } else {
                decode = nil
            }
            guard let decode, let data = try repository.file(at: path, in: to) else { continue }
            do { try decode(data, path) } catch var e as PlumbError {
                e.message = "\(source) (\(to.short)) brings a record plumb refuses: \(e.message)"
                e.hint = "nothing was changed here; fix the record on the remote (revert the commit that changed it: `git log -p \(to.short) -- \(path)`)"
                throw e
            }
        }
    }
}

extension RunRecord {
    /// The record of `run` in `environment` at `commit`, or nil when that commit holds none.
    package static func read(_ run: String, environment: String, at commit: ObjectID, in repository: Repository) throws -> RunRecord? {
        let path = Self.path(for: environment, run: run)
        return try repository.file(at: path, in: commit).map { try decode($0, path: path) }
    }
}
