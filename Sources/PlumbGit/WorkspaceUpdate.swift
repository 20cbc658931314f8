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
    /// what differs from `new` (FORCE: a tracked file a stage changed is rewritten too) and update the index,
    /// looking only at the paths the trees differ in and those the sweep suspects.
    private func moveWorkspace(at directory: String, from old: ObjectID, to new: ObjectID, repository: String) throws -> [LFSFile] {
        let git = directory + "/.git"
        // An index written after the stamp (a stage's `git add` or `git status`) may name paths the commit
        // lacks: then libgit2 compares the whole workspace; otherwise only the paths that can differ.
        var index = stat(), stamp = stat()
        let indexUntouched = stat(git + "/index", &index) == 0 && stat(git + "/" + WorkspaceStamp.fileName, &stamp) == 0
            && (index.st_mtim.tv_sec, index.st_mtim.tv_nsec) <= (stamp.st_mtim.tv_sec, stamp.st_mtim.tv_nsec)
        try WorkspaceStamp.remove(in: git)
        // A stage may have changed them; the fresh checkout's values.
        try Self.setLocalConfig(at: git + "/config", ["core.autocrlf": "false", "core.eol": "lf", "core.symlinks": "true"])
        let suspects = try Trace.measure("workspace sweep") { try sweepUntracked(directory, indexTime: index.st_mtim) }
        let paths = try Trace.measure("workspace tree diff") {
            indexUntouched ? Array(Set(try changedPaths(from: old, to: new)).union(suspects)).sorted() : nil
        }
        var oid = new.raw
        if paths?.isEmpty == true {
            try Git.check(git_repository_set_head_detached(handle, &oid), "git_repository_set_head_detached")
            let lfs = try removeLFSPointers(from: directory)
            try WorkspaceStamp(repository: repository, commit: new).write(in: git)
            return lfs
        }

        var object: OpaquePointer?
        try Git.check(git_object_lookup(&object, handle, &oid, GIT_OBJECT_COMMIT), "git_object_lookup")
        defer { git_object_free(object) }
        var options = git_checkout_options()
        git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION))
        // The baseline is HEAD (`old`); REMOVE_UNTRACKED also covers a path a stage added to the index.
        options.checkout_strategy = GIT_CHECKOUT_FORCE.rawValue | GIT_CHECKOUT_REMOVE_UNTRACKED.rawValue
            | (paths == nil ? 0 : GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH.rawValue)
        options.disable_filters = 1
        var cPaths = (paths ?? []).map { strdup($0) }
        defer { cPaths.forEach { free($0) } }
        try cPaths.withUnsafeMutableBufferPointer { buffer in
            options.paths = git_strarray(strings: buffer.baseAddress, count: buffer.count)
            try Trace.measure("workspace checkout of \(paths.map { "\($0.count) paths" } ?? "the whole tree")") {
                try Git.check(git_checkout_tree(handle, object, &options), "git_checkout_tree")
            }
        }
        try Git.check(git_repository_set_head_detached(handle, &oid), "git_repository_set_head_detached")

        let lfs = try Trace.measure("workspace LFS pointers") { try removeLFSPointers(from: directory) }
        try WorkspaceStamp(repository: repository, commit: new).write(in: git)
        return lfs
    }

    /// One pass over the workspace against its index: removes every path that is not a tracked file or a
    /// folder holding one (what a fresh checkout would not have) and every tracked path a stage replaced
    /// by another kind (a file by a link or a folder: libgit2 leaves a link where a file was, and must never
    /// write through it), and restores the modes a checkout gives tracked regular files and folders.
    /// Content is left to the checkout, which writes what is missing or differs.
    ///
    /// Returns the tracked paths whose content may differ from the index (missing, replaced, or with stat
    /// data other than the index recorded, or racily clean: modified no earlier than `indexTime`).
    private func sweepUntracked(_ directory: String, indexTime: timespec) throws -> Set<String> {
        var index: OpaquePointer?
        try Git.check(git_repository_index(&index, handle), "git_repository_index")
        defer { git_index_free(index) }
        // Read again if the file changed since this handle loaded it (a stage's `git add`); not forced:
        // the handle was opened for this update, and each read of a 10,000-entry index costs as much
        // as git's whole checkout.
        try Git.check(git_index_read(index, 0), "git_index_read")
        let mask = ~Self.umask
        // One table, one lookup per path: the mode a checkout gives it and where the index holds its
        // stat data (read from the index when compared: the table stays small).
        var files: [String: (mode: mode_t, position: Int)] = [:]
        var folders: Set<String> = [""]
        let count = git_index_entrycount(index)
        files.reserveCapacity(count)
        // Entries come sorted, so a file's folder is most often the one before's: checked without a String.
        var lastFolder: UnsafeMutableRawBufferPointer? = nil
        defer { lastFolder?.deallocate() }
        for i in 0..<count {
            guard let entry = git_index_get_byindex(index, i)?.pointee, let cPath = entry.path else { continue }
            let path = String(cString: cPath)
            switch entry.mode {
            case GIT_FILEMODE_BLOB_EXECUTABLE.rawValue: files[path] = (0o755 & mask, i)
            case GIT_FILEMODE_BLOB.rawValue: files[path] = (0o644 & mask, i)
            case GIT_FILEMODE_COMMIT.rawValue: files[path] = (Self.submodule, i)
            default: files[path] = (Self.link, i)
            }
            guard let slash = strrchr(cPath, 0x2F) else { continue }
            let folderLength = cPath.distance(to: slash)
            if let last = lastFolder, last.count == folderLength, memcmp(last.baseAddress!, cPath, folderLength) == 0 { continue }
            lastFolder?.deallocate()
            lastFolder = UnsafeMutableRawBufferPointer.allocate(byteCount: folderLength, alignment: 1)
            lastFolder!.copyMemory(from: UnsafeRawBufferPointer(start: cPath, count: folderLength))
            var parent = Substring(path)
            while let slash = parent.lastIndex(of: "/") {
                parent = parent[..<slash]
                guard folders.insert(String(parent)).inserted else { break }
            }
        }
        let folderMode = 0o755 & mask
        var suspects: Set<String> = []
        var seen = 0
        func stale(_ s: stat, _ e: git_index_entry) -> Bool {
            func differs(_ t: timespec, _ i: git_index_time) -> Bool {
                Int64(t.tv_sec) != Int64(i.seconds) || (i.nanoseconds != 0 && Int64(t.tv_nsec) != Int64(i.nanoseconds))
            }
            let racy = (Int64(e.mtime.seconds), Int64(e.mtime.nanoseconds)) >= (Int64(indexTime.tv_sec), Int64(indexTime.tv_nsec))
            return racy || differs(s.st_mtim, e.mtime) || differs(s.st_ctim, e.ctime) || UInt64(s.st_size) != UInt64(e.file_size)
                || UInt32(truncatingIfNeeded: s.st_ino) != e.ino
        }

        func visit(_ relative: String) throws {
            let absolute = relative.isEmpty ? directory : directory + "/" + relative
            guard let stream = opendir(absolute) else { throw PlumbError("cannot read \(absolute): \(errnoText())") }
            defer { closedir(stream) }
            // Entries are stat'ed and chmod'ed relative to the open folder: no path for the kernel to
            // walk again, and no absolute path built per file (the full path only for messages and removals).
            let folderFD = dirfd(stream)
            let prefix = relative.isEmpty ? "" : relative + "/"
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." || (relative.isEmpty && name == ".git") { continue }
                let path = prefix + name
                var type = entry.pointee.d_type
                var s = stat()
                let file = files[path]
                let folder = file == nil && type != UInt8(DT_REG) && type != UInt8(DT_LNK) && folders.contains(path)
                if type == UInt8(DT_UNKNOWN) || file != nil || folder {
                    guard fstatat(folderFD, name, &s, AT_SYMLINK_NOFOLLOW) == 0 else { throw PlumbError("cannot read \(directory)/\(path): \(errnoText())") }
                    type = (s.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : (s.st_mode & S_IFMT) == S_IFREG ? UInt8(DT_REG) : UInt8(DT_LNK)
                }
                if type == UInt8(DT_DIR), folder {
                    if s.st_mode & 0o7777 != folderMode, fchmodat(folderFD, name, folderMode, 0) != 0 {
                        throw PlumbError("cannot set the mode of \(directory)/\(path): \(errnoText())")
                    }
                    try visit(path)
                } else if let (mode, position) = file, type == (mode == Self.link ? UInt8(DT_LNK) : mode == Self.submodule ? UInt8(DT_DIR) : UInt8(DT_REG)),
                          type != UInt8(DT_REG) || s.st_nlink == 1 {
                    seen += 1
                    if mode != Self.submodule, let e = git_index_get_byindex(index, position)?.pointee, stale(s, e) { suspects.insert(path) }
                    if type == UInt8(DT_REG), s.st_mode & 0o7777 != mode, fchmodat(folderFD, name, mode, 0) != 0 {
                        throw PlumbError("cannot set the mode of \(directory)/\(path): \(errnoText())")
                    }
                } else {
                    // Also a tracked file with other hard links: a checkout writes none, and one may be a
                    // cache object, which must be neither chmod'ed here nor written through by libgit2.
                    if file != nil { suspects.insert(path) }
                    try Self.removeTree(directory + "/" + path)
                }
            }
        }
        try visit("")
        // Tracked paths not found (a stage deleted them, LFS pointers) must be written again.
        if seen < files.count {
            var s = stat()
            for path in files.keys where lstat(directory + "/" + path, &s) != 0 { suspects.insert(path) }
        }
        return suspects
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
