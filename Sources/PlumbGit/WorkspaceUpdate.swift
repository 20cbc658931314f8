import CGit2
import Foundation
import PlumbCore

/// A workspace that holds a commit, and how it came to.
package struct PreparedWorkspace {
    package var workspace: Repository
    /// The commit's files stored in Git LFS (not on disk, see `checkOutWorkspace`).
    package var lfs: [LFSFile]
    /// True when an earlier checkout was moved to the commit; false for a fresh checkout.
    package var incremental: Bool
}

extension Repository {
    /// Makes `directory` hold exactly what `checkOutWorkspace(commit, at: directory)` would give into an
    /// empty folder, reusing the workspace an earlier reconcile left there when it can be trusted:
    /// then only what differs is written, so the cost follows the change, not the repository's size.
    ///
    /// Trusted means its stamp (`WorkspaceStamp`) names this repository and the commit its HEAD holds,
    /// and its alternates point here. Anything else — no workspace, one from another clone or an older
    /// Plumb, an update cut short, any failure while updating — gives a fresh checkout.
    package func prepareWorkspace(_ commit: ObjectID, at directory: String) throws -> PreparedWorkspace {
        if let previous = trustedWorkspace(at: directory) {
            do {
                let lfs = try previous.workspace.moveWorkspace(at: directory, from: previous.commit, to: commit, repository: commonDirectory)
                return PreparedWorkspace(workspace: previous.workspace, lfs: lfs, incremental: true)
            } catch {
                // The stamp is gone by now; a fresh checkout is always right.
            }
        }
        try Self.removeTree(directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (workspace, lfs) = try checkOutWorkspace(commit, at: directory)
        return PreparedWorkspace(workspace: workspace, lfs: lfs, incremental: false)
    }

    /// The workspace repository at `directory` and the commit it holds, when it can be updated in place.
    private func trustedWorkspace(at directory: String) -> (workspace: Repository, commit: ObjectID)? {
        let git = directory + "/.git"
        guard let stamp = WorkspaceStamp(in: git), stamp.repository == commonDirectory,
              FileManager.default.contents(atPath: git + "/objects/info/alternates") == Data("\(commonDirectory)/objects\n".utf8),
              let workspace = try? Repository(at: directory),
              workspace.gitDirectory.standardizedFileURL.path == URL(fileURLWithPath: git).standardizedFileURL.path,
              let head = try? workspace.head(), head.reference == nil, head.commit == stamp.commit,
              (try? workspace.commit(stamp.commit)) != nil else { return nil }
        return (workspace, stamp.commit)
    }

    /// Moves this workspace repository (at `directory`, holding `old`) to `new`: removes what is not a
    /// file of its index (stages' outputs, scratch files, ignored or not), gives tracked files and
    /// folders the modes a checkout writes (the executor made deps read-only), then lets libgit2 write
    /// what differs from `new` (FORCE: a tracked file a stage changed is rewritten too) and update the index.
    private func moveWorkspace(at directory: String, from old: ObjectID, to new: ObjectID, repository: String) throws -> [LFSFile] {
        let git = directory + "/.git"
        try WorkspaceStamp.remove(in: git)
        // A stage may have changed them; the fresh checkout's values.
        try Self.setLocalConfig(at: git + "/config", ["core.autocrlf": "false", "core.eol": "lf", "core.symlinks": "true"])
        try sweepUntracked(directory)

        var oid = new.raw
        var object: OpaquePointer?
        try Git.check(git_object_lookup(&object, handle, &oid, GIT_OBJECT_COMMIT), "git_object_lookup")
        defer { git_object_free(object) }
        var options = git_checkout_options()
        git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION))
        // The baseline is HEAD (`old`); REMOVE_UNTRACKED also covers a path a stage added to the index.
        options.checkout_strategy = GIT_CHECKOUT_FORCE.rawValue | GIT_CHECKOUT_REMOVE_UNTRACKED.rawValue
        options.disable_filters = 1
        try Git.check(git_checkout_tree(handle, object, &options), "git_checkout_tree")
        try Git.check(git_repository_set_head_detached(handle, &oid), "git_repository_set_head_detached")

        let lfs = try removeLFSPointers(from: directory)
        try WorkspaceStamp(repository: repository, commit: new).write(in: git)
        return lfs
    }

    /// One pass over the workspace against its index: removes every path that is not a tracked file or a
    /// folder holding one (what a fresh checkout would not have) and every tracked path a stage replaced
    /// by another kind (a file by a link or a folder: libgit2 leaves a link where a file was, and must never
    /// write through it), and restores the modes a checkout gives tracked regular files and folders.
    /// Content is left to the checkout, which writes what is missing or differs.
    private func sweepUntracked(_ directory: String) throws {
        var index: OpaquePointer?
        try Git.check(git_repository_index(&index, handle), "git_repository_index")
        defer { git_index_free(index) }
        // Force a re-read: a stage's `git add` may have changed the file since this handle opened it.
        try Git.check(git_index_read(index, 1), "git_index_read")
        let mask = ~Self.umask
        var files: [String: mode_t] = [:]
        var folders: Set<String> = [""]
        let count = git_index_entrycount(index)
        files.reserveCapacity(count)
        for i in 0..<count {
            guard let entry = git_index_get_byindex(index, i)?.pointee else { continue }
            let path = String(cString: entry.path)
            switch entry.mode {
            case GIT_FILEMODE_BLOB_EXECUTABLE.rawValue: files[path] = 0o755 & mask
            case GIT_FILEMODE_BLOB.rawValue: files[path] = 0o644 & mask
            case GIT_FILEMODE_COMMIT.rawValue: files[path] = Self.submodule
            default: files[path] = Self.link
            }
            var parent = Substring(path)
            while let slash = parent.lastIndex(of: "/") {
                parent = parent[..<slash]
                guard folders.insert(String(parent)).inserted else { break }
            }
        }
        let folderMode = 0o755 & mask

        func visit(_ relative: String) throws {
            let absolute = relative.isEmpty ? directory : directory + "/" + relative
            guard let stream = opendir(absolute) else { throw PlumbError("cannot read \(absolute): \(errnoText())") }
            defer { closedir(stream) }
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." || (relative.isEmpty && name == ".git") { continue }
                let path = relative.isEmpty ? name : relative + "/" + name
                let full = directory + "/" + path
                var type = entry.pointee.d_type
                var s = stat()
                if type == UInt8(DT_UNKNOWN) || files[path] != nil || folders.contains(path) {
                    guard lstat(full, &s) == 0 else { throw PlumbError("cannot read \(full): \(errnoText())") }
                    type = (s.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : (s.st_mode & S_IFMT) == S_IFREG ? UInt8(DT_REG) : UInt8(DT_LNK)
                }
                if type == UInt8(DT_DIR), folders.contains(path) {
                    if s.st_mode & 0o7777 != folderMode, chmod(full, folderMode) != 0 {
                        throw PlumbError("cannot set the mode of \(full): \(errnoText())")
                    }
                    try visit(path)
                } else if let mode = files[path], type == (mode == Self.link ? UInt8(DT_LNK) : mode == Self.submodule ? UInt8(DT_DIR) : UInt8(DT_REG)) {
                    if type == UInt8(DT_REG), s.st_mode & 0o7777 != mode, chmod(full, mode) != 0 {
                        throw PlumbError("cannot set the mode of \(full): \(errnoText())")
                    }
                } else {
                    try Self.removeTree(full)
                }
            }
        }
        try visit("")
    }

    /// Stand-ins for a mode in `sweepUntracked`'s table of tracked paths: entries with no mode to restore.
    private static let link: mode_t = 0, submodule: mode_t = 1

    /// The process's file-creation mask, which a checkout's modes go through (read without changing it).
    static var umask: mode_t {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
           let value = mode_t(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) {
            return value
        }
        return 0o022
    }

    /// Removes the file, link or folder at `path` and everything in it, also folders a stage made
    /// read-only (their write bit is given back first). Absent is fine.
    static func removeTree(_ path: String) throws {
        var s = stat()
        guard lstat(path, &s) == 0 else {
            if errno == ENOENT { return }
            throw PlumbError("cannot read \(path): \(errnoText())")
        }
        guard (s.st_mode & S_IFMT) == S_IFDIR else {
            guard unlink(path) == 0 || errno == ENOENT else { throw PlumbError("cannot remove \(path): \(errnoText())") }
            return
        }
        if s.st_mode & 0o700 != 0o700 { chmod(path, s.st_mode & 0o7777 | 0o700) }
        guard let stream = opendir(path) else { throw PlumbError("cannot read \(path): \(errnoText())") }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(stream)
        for name in names { try removeTree(path + "/" + name) }
        guard rmdir(path) == 0 || errno == ENOENT else { throw PlumbError("cannot remove \(path): \(errnoText())") }
    }
}
