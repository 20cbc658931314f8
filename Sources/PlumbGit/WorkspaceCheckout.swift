import CGit2
import Foundation
import PlumbCore

/// A file of a checked-out commit whose content git stores in Git LFS.
package struct LFSFile: Sendable, Hashable {
    /// Path from the repository root.
    package var path: String
    package var pointer: LFSPointer
    /// Whether the tree entry is executable (mode 100755).
    package var executable: Bool
}

extension Repository {
    /// Makes `directory` (absent or empty) a git repository of its own holding exactly `commit`, for
    /// stages to run in:
    ///
    /// - its HEAD is `commit` (detached) and its index matches it, so `git rev-parse HEAD` and
    ///   `git status` inside a stage answer about the commit being reconciled, and git, libgit2,
    ///   GitPython, dvclive… discover this repository and never the user's working tree around it;
    /// - it borrows this repository's objects through `objects/info/alternates` (nothing is copied; what a
    ///   stage commits there stays there);
    /// - files are the blobs' bytes: filters are disabled for the checkout, and its own config turns
    ///   off autocrlf and turns on symlinks, which would otherwise come from the user's global config;
    /// - files stored in Git LFS are not written (their pointer text must never reach a stage): they are
    ///   returned, and staged as their content for the stages that declare them.
    package func checkOutWorkspace(_ commit: ObjectID, at directory: String) throws -> (workspace: Repository, lfs: [LFSFile]) {
        _ = try Repository.create(at: directory)
        let git = directory + "/.git"
        try FileManager.default.createDirectory(atPath: git + "/objects/info", withIntermediateDirectories: true)
        try Data("\(commonDirectory)/objects\n".utf8).write(to: URL(fileURLWithPath: git + "/objects/info/alternates"))
        try Self.setLocalConfig(at: git + "/config", ["core.autocrlf": "false", "core.eol": "lf", "core.symlinks": "true"])

        // Opened after its config and alternates are in place, so nothing cached predates them.
        let workspace = try Repository(at: directory)
        var oid = commit.raw
        try Git.check(git_repository_set_head_detached(workspace.handle, &oid), "git_repository_set_head_detached")
        try workspace.checkoutTree(commit, directory: nil, paths: [], updateIndex: true, raw: true)

        let lfs = try workspace.removeLFSPointers(from: directory)
        try WorkspaceStamp(repository: commonDirectory, commit: commit).write(in: git)
        return (workspace, lfs)
    }

    /// Finds the files of the workspace's index stored in Git LFS and removes their pointers from
    /// `directory`, wherever a checkout wrote them. `among`: only those paths were written (an update
    /// checks out the paths that differ, and an LFS file is always among them, never being on disk).
    func removeLFSPointers(from directory: String, among paths: [String]? = nil) throws -> [LFSFile] {
        // The index holds every file with the size just written (the blob's, filters being off), so only
        // blobs of a pointer's size are read: no object is opened for the others.
        var index: OpaquePointer?
        try Git.check(git_repository_index(&index, handle), "git_repository_index")
        defer { git_index_free(index) }
        var lfs: [LFSFile] = []
        let entries: [UnsafePointer<git_index_entry>] = paths.map { $0.compactMap { git_index_get_bypath(index, $0, 0) } }
            ?? (0..<git_index_entrycount(index)).compactMap { git_index_get_byindex(index, $0) }
        for found in entries {
            let entry = found.pointee
            let executable = entry.mode == GIT_FILEMODE_BLOB_EXECUTABLE.rawValue
            guard entry.mode == GIT_FILEMODE_BLOB.rawValue || executable,
                  Int(entry.file_size) >= LFSPointer.minimumSize, Int(entry.file_size) < LFSPointer.maximumSize,
                  let pointer = LFSPointer(parsing: try blob(ObjectID(entry.id))) else { continue }
            let path = String(cString: entry.path)
            lfs.append(LFSFile(path: path, pointer: pointer, executable: executable))
            guard unlink(directory + "/" + path) == 0 || errno == ENOENT else {
                throw PlumbError("cannot remove the Git LFS pointer \(path) from \(directory): \(errnoText())")
            }
        }
        return lfs
    }

    /// Sets `values` in the config file at `path` alone (never the user's global or system config).
    /// A value already set is not written again (each write rewrites the file under a lock).
    static func setLocalConfig(at path: String, _ values: [String: String]) throws {
        var config: OpaquePointer?
        try Git.check(git_config_open_ondisk(&config, path), "git_config_open_ondisk")
        defer { git_config_free(config) }
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            var current = git_buf()
            defer { git_buf_dispose(&current) }
            if git_config_get_string_buf(&current, config, key) == 0, let set = current.ptr, String(cString: set) == value { continue }
            try Git.check(git_config_set_string(config, key, value), "git_config_set_string")
        }
    }
}
