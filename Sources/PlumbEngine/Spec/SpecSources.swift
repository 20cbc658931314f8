import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// The spec as committed: every file read from the commit's tree.
package struct CommitSpecSource: SpecSource {
    package let repository: Repository
    package let commit: ObjectID

    package init(repository: Repository, commit: ObjectID) {
        self.repository = repository
        self.commit = commit
    }

    package var label: String { "commit \(commit.short)" }
    package func read(_ path: String) throws -> Data? { try repository.file(at: path, in: commit) }
    package func files(in directory: String) throws -> [String] {
        try repository.blobs(under: directory, in: commit)
            .map { String($0.path.dropFirst(directory.count + 1)) }
            .filter { !$0.contains("/") }
            .sorted()
    }
    package func isTracked(_ path: String) -> Bool { ((try? repository.entry(at: path, in: commit)) ?? nil) != nil }
    package func existsOnDisk(_ path: String) -> Bool {
        let full = path.hasPrefix("/") ? path : repository.root + "/" + path
        return FileManager.default.fileExists(atPath: full)
    }
    package func diskKind(_ path: String) -> DiskEntryKind { .of(path.hasPrefix("/") ? path : repository.root + "/" + path) }
}

/// The spec as it is in a working tree, edits included (what `plumb validate` checks by default).
package struct WorkingTreeSpecSource: SpecSource {
    package let root: String
    /// Tracks files through HEAD's tree when a repository is given; else everything on disk counts as tracked.
    package let repository: Repository?
    package let head: ObjectID?

    package init(root: String, repository: Repository? = nil, head: ObjectID? = nil) {
        self.root = root
        self.repository = repository
        self.head = head
    }

    package var label: String { "the working tree" }
    package func read(_ path: String) throws -> Data? {
        let url = URL(fileURLWithPath: root + "/" + path)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try Data(contentsOf: url)
    }
    package func files(in directory: String) throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + directory)) ?? []
        return names.filter { name in
            var isDir: ObjCBool = false
            // A name that vanished since the listing, or a dangling symlink, still counts as a file.
            return !(FileManager.default.fileExists(atPath: root + "/" + directory + "/" + name, isDirectory: &isDir) && isDir.boolValue)
        }.sorted()
    }
    package func isTracked(_ path: String) -> Bool {
        guard let repository, let head else { return existsOnDisk(path) }
        return ((try? repository.entry(at: path, in: head)) ?? nil) != nil || existsOnDisk(path)
    }
    package func existsOnDisk(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path.hasPrefix("/") ? path : root + "/" + path)
    }
    package func diskKind(_ path: String) -> DiskEntryKind { .of(path.hasPrefix("/") ? path : root + "/" + path) }
}
