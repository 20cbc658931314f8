import Foundation
import PlumbCore

/// What a finished checkout of a workspace says about it, in `.git/plumb-workspace`: which repository's
/// objects it borrows and which commit it holds. Present only while the workspace is exactly that commit
/// as a checkout left it (stages may have written into it since): it is written last by a checkout and
/// removed before an update starts, so a workspace without it — interrupted, or made by a Plumb before
/// this file existed — is checked out afresh (see `remove` for a crash that keeps it).
struct WorkspaceStamp: Equatable {
    /// The format; another number (a later Plumb's) is not trusted either.
    static let version = 1
    static let fileName = "plumb-workspace"

    /// The common git directory of the repository whose objects the workspace borrows.
    var repository: String
    var commit: ObjectID

    init(repository: String, commit: ObjectID) { self.repository = repository; self.commit = commit }

    /// The stamp in the git directory `git`, nil when it is absent or not one this Plumb wrote.
    init?(in git: String) {
        guard let data = FileManager.default.contents(atPath: git + "/" + Self.fileName) else { return nil }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 4, lines[0] == "plumb workspace \(Self.version)", lines[3].isEmpty,
              lines[1].hasPrefix("repository "), lines[2].hasPrefix("commit "),
              let commit = ObjectID(hex: String(lines[2].dropFirst(7))) else { return nil }
        self.init(repository: String(lines[1].dropFirst(11)), commit: commit)
    }

    var text: String { "plumb workspace \(Self.version)\nrepository \(repository)\ncommit \(commit.hex)\n" }

    /// Writes the stamp into the git directory `git` (beside, then renamed: never half a stamp).
    func write(in git: String) throws {
        let temporary = git + "/" + Self.fileName + ".new"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, git + "/" + Self.fileName) == 0 else {
            throw PlumbError("cannot write \(git)/\(Self.fileName): \(errnoText())")
        }
    }

    /// Removes the stamp from the git directory `git` before anything in the workspace changes.
    ///
    /// Not synced to disk: a crash that keeps the stamp but not the update's later writes leaves nothing
    /// the next update trusts wrongly. Files it wrote have stat data other than the index's (suspects,
    /// compared again); an index it wrote is newer than the stamp (libgit2 then compares the whole
    /// workspace); a HEAD it moved is not the stamped commit (a fresh checkout). The fsync cost 1-5 ms
    /// of an update that `git checkout` does in 20-40 ms.
    static func remove(in git: String) throws {
        guard unlink(git + "/" + fileName) == 0 || errno == ENOENT else {
            throw PlumbError("cannot remove \(git)/\(fileName): \(errnoText())")
        }
    }
}
