import Foundation

/// Where a spec is read from: a commit (through libgit2) or the working tree.
///
/// The loader and validator see only this protocol, so they work the same on both and
/// are tested without git.
public protocol SpecSource {
    /// For messages: "the working tree" or "commit 1a2b3c4d5e".
    var label: String { get }
    /// A file's content, or nil when it does not exist.
    func read(_ path: String) throws -> Data?
    /// Names of the files directly in `directory` (not recursive), or [] when it does not exist.
    func files(in directory: String) throws -> [String]
    /// Whether git tracks `path` (a file, or a folder with tracked files) in this source.
    func isTracked(_ path: String) -> Bool
    /// Whether `path` exists on this machine's disk (repository-relative, or absolute).
    func existsOnDisk(_ path: String) -> Bool
    /// What `path` is on this machine's disk (repository-relative, or absolute).
    func diskKind(_ path: String) -> DiskEntryKind
}

extension SpecSource {
    /// For sources without a disk (tests): a file when it exists.
    public func diskKind(_ path: String) -> DiskEntryKind { existsOnDisk(path) ? .file : .missing }
}

/// The spec as committed: every file read from the commit's tree.
public struct CommitSpecSource: SpecSource {
    public let repository: Repository
    public let commit: ObjectID

    public init(repository: Repository, commit: ObjectID) {
        self.repository = repository
        self.commit = commit
    }

    public var label: String { "commit \(commit.short)" }
    public func read(_ path: String) throws -> Data? { try repository.file(at: path, in: commit) }
    public func files(in directory: String) throws -> [String] {
        try repository.blobs(under: directory, in: commit)
            .map { String($0.path.dropFirst(directory.count + 1)) }
            .filter { !$0.contains("/") }
            .sorted()
    }
    public func isTracked(_ path: String) -> Bool { ((try? repository.entry(at: path, in: commit)) ?? nil) != nil }
    public func existsOnDisk(_ path: String) -> Bool {
        let full = path.hasPrefix("/") ? path : repository.root + "/" + path
        return FileManager.default.fileExists(atPath: full)
    }
    public func diskKind(_ path: String) -> DiskEntryKind { .of(path.hasPrefix("/") ? path : repository.root + "/" + path) }
}

/// The spec as it is in a working tree, edits included (what `plumb validate` checks by default).
public struct WorkingTreeSpecSource: SpecSource {
    public let root: String
    /// Tracks files through HEAD's tree when a repository is given; else everything on disk counts as tracked.
    public let repository: Repository?
    public let head: ObjectID?

    public init(root: String, repository: Repository? = nil, head: ObjectID? = nil) {
        self.root = root
        self.repository = repository
        self.head = head
    }

    public var label: String { "the working tree" }
    public func read(_ path: String) throws -> Data? {
        let url = URL(fileURLWithPath: root + "/" + path)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try Data(contentsOf: url)
    }
    public func files(in directory: String) throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + directory)) ?? []
        return names.filter { name in
            var isDir: ObjCBool = false
            // A name that vanished since the listing, or a dangling symlink, still counts as a file.
            return !(FileManager.default.fileExists(atPath: root + "/" + directory + "/" + name, isDirectory: &isDir) && isDir.boolValue)
        }.sorted()
    }
    public func isTracked(_ path: String) -> Bool {
        guard let repository, let head else { return existsOnDisk(path) }
        return ((try? repository.entry(at: path, in: head)) ?? nil) != nil || existsOnDisk(path)
    }
    public func existsOnDisk(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path.hasPrefix("/") ? path : root + "/" + path)
    }
    public func diskKind(_ path: String) -> DiskEntryKind { .of(path.hasPrefix("/") ? path : root + "/" + path) }
}
