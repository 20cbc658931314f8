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
        if let previous = Trace.measure("workspace trust check", { trustedWorkspace(at: directory) }) {
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
    /// what differs from `new` (FORCE: a tracked file a stage changed is rewritten too) and update the
    /// index, looking only at the paths the trees differ in and the tracked files the sweep found changed
    /// or missing. A suspect whose content is still its blob's only gets its stat data refreshed.
    private func moveWorkspace(at directory: String, from old: ObjectID, to new: ObjectID, repository: String) throws -> [LFSFile] {
        let git = directory + "/.git"
        // An index written after the stamp (a stage's `git add` or `git status`) may name paths the commit
        // lacks: then libgit2 compares the whole workspace; otherwise only the paths that can differ.
        var indexStat = stat(), stampStat = stat()
        let indexUntouched = stat(git + "/index", &indexStat) == 0 && stat(git + "/" + WorkspaceStamp.fileName, &stampStat) == 0
            && (indexStat.st_mtim.tv_sec, indexStat.st_mtim.tv_nsec) <= (stampStat.st_mtim.tv_sec, stampStat.st_mtim.tv_nsec)
        try Trace.measure("workspace stamp removed, config set") {
            try WorkspaceStamp.remove(in: git)
            // A stage may have changed them; the fresh checkout's values.
            try Self.setLocalConfig(at: git + "/config", ["core.autocrlf": "false", "core.eol": "lf", "core.symlinks": "true"])
        }
        var handleOfIndex: OpaquePointer?
        try Trace.measure("workspace index read") {
            // libgit2 reads the file once per handle (hashing all of it); the handle was opened for this update.
            try Git.check(git_repository_index(&handleOfIndex, handle), "git_repository_index")
        }
        defer { git_index_free(handleOfIndex) }
        let libgit2Index = handleOfIndex!
        let index = IndexEntries(libgit2Index)
        let sweep = try Trace.measure("workspace sweep") { try sweepUntracked(directory, index: index, indexTime: indexStat.st_mtim) }
        let changes = try Trace.measure("workspace tree diff") { try treeChanges(from: old, to: new) }

        // What libgit2 must look at, and the entries whose files are right but whose stat data moved.
        var paths = changes
        var refreshed: [(path: String, mode: UInt32, id: git_oid, stat: stat)] = []
        try Trace.measure("workspace suspects compared") {
            for i in 0..<index.count {
                switch sweep.states[i] {
                case .clean:
                    if let s = sweep.refreshed[i] { refreshed.append((index.path(i), index.mode(i), index.id(i), s)) }
                case .missing:
                    paths.append(index.path(i))
                case .suspect:
                    // libgit2 trusts a file whose mtime and size match its entry (not its ctime or inode), so a
                    // same-size edit with its mtime put back would stay: one that differs is removed first.
                    let path = index.path(i), absolute = directory + "/" + path
                    if index.mode(i) != GIT_FILEMODE_LINK.rawValue, let s = try sameContent(absolute, index.id(i)) {
                        refreshed.append((path, index.mode(i), index.id(i), s))
                    } else {
                        guard unlink(absolute) == 0 || errno == ENOENT else { throw PlumbError("cannot remove \(absolute): \(errnoText())") }
                        paths.append(path)
                    }
                }
            }
            // Entries are copied out above: adding changes libgit2's entry table.
            for item in refreshed {
                var entry = git_index_entry()
                entry.ctime = git_index_time(seconds: Int32(truncatingIfNeeded: item.stat.st_ctim.tv_sec), nanoseconds: UInt32(truncatingIfNeeded: item.stat.st_ctim.tv_nsec))
                entry.mtime = git_index_time(seconds: Int32(truncatingIfNeeded: item.stat.st_mtim.tv_sec), nanoseconds: UInt32(truncatingIfNeeded: item.stat.st_mtim.tv_nsec))
                entry.dev = UInt32(truncatingIfNeeded: item.stat.st_dev)
                entry.ino = UInt32(truncatingIfNeeded: item.stat.st_ino)
                entry.mode = item.mode
                entry.uid = item.stat.st_uid
                entry.gid = item.stat.st_gid
                entry.file_size = UInt32(truncatingIfNeeded: item.stat.st_size)
                entry.id = item.id
                try item.path.withCString { cPath in
                    entry.path = cPath
                    try Git.check(git_index_add(libgit2Index, &entry), "git_index_add")
                }
            }
        }
        let written = indexUntouched ? Array(Set(paths)).sorted() : nil
        try Trace.measure("workspace checkout of \(written.map { "\($0.count) paths" } ?? "the whole tree")") {
            if written?.isEmpty != true {
                // It writes the index, with the refreshed entries, when it is done.
                try checkOutChanges(new, paths: written)
            } else if !refreshed.isEmpty {
                try Git.check(git_index_write(libgit2Index), "git_index_write")
            }
        }
        // An LFS file is never on disk, so always among the written paths; a refreshed one is there for a
        // stage that wrote a pointer's text itself.
        let lfs = try Trace.measure("workspace LFS pointers") {
            try removeLFSPointers(from: directory, among: written.map { $0 + refreshed.map(\.path) })
        }
        try Trace.measure("workspace HEAD and stamp written") {
            var oid = new.raw
            try Git.check(git_repository_set_head_detached(handle, &oid), "git_repository_set_head_detached")
            try WorkspaceStamp(repository: repository, commit: new).write(in: git)
        }
        return lfs
    }

    /// libgit2 writes what differs from `commit` and updates the index: among `paths`, or everywhere (nil).
    /// FORCE: a tracked file a stage changed is rewritten too; the baseline is HEAD (the previous commit).
    private func checkOutChanges(_ commit: ObjectID, paths: [String]?) throws {
        if paths?.isEmpty == true { return }
        var oid = commit.raw
        var object: OpaquePointer?
        try Git.check(git_object_lookup(&object, handle, &oid, GIT_OBJECT_COMMIT), "git_object_lookup")
        defer { git_object_free(object) }
        var options = git_checkout_options()
        git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION))
        // REMOVE_UNTRACKED also covers a path a stage added to the index.
        options.checkout_strategy = GIT_CHECKOUT_FORCE.rawValue | GIT_CHECKOUT_REMOVE_UNTRACKED.rawValue
            | (paths == nil ? 0 : GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH.rawValue)
        options.disable_filters = 1
        var cPaths = (paths ?? []).map { strdup($0) }
        defer { cPaths.forEach { free($0) } }
        try cPaths.withUnsafeMutableBufferPointer { buffer in
            options.paths = git_strarray(strings: buffer.baseAddress, count: buffer.count)
            try Git.check(git_checkout_tree(handle, object, &options), "git_checkout_tree")
        }
    }

    /// The paths of files (blobs, links, submodules) whose entries differ between two commits' trees:
    /// changed, added or removed; a file turned into a folder gives the file and the folder's files.
    /// Subtrees with the same id are skipped unread, so the cost follows the change (libgit2's tree-to-tree
    /// diff reads and compares every entry of both trees, 33M instructions at 10,000 files).
    func treeChanges(from old: ObjectID, to new: ObjectID) throws -> [String] {
        func rootTree(_ commit: ObjectID) throws -> OpaquePointer {
            var oid = try self.commit(commit).tree.raw
            var tree: OpaquePointer?
            try Git.check(git_tree_lookup(&tree, handle, &oid), "git_tree_lookup")
            return tree!
        }
        func subtree(_ entry: OpaquePointer) throws -> OpaquePointer {
            var tree: OpaquePointer?
            try Git.check(git_tree_lookup(&tree, handle, git_tree_entry_id(entry)), "git_tree_lookup")
            return tree!
        }
        var changes: [String] = []
        func compare(_ a: OpaquePointer?, _ b: OpaquePointer?, _ prefix: String) throws {
            let countA = a.map { git_tree_entrycount($0) } ?? 0, countB = b.map { git_tree_entrycount($0) } ?? 0
            var i = 0, j = 0
            while i < countA || j < countB {
                let ea = i < countA ? git_tree_entry_byindex(a, i) : nil, eb = j < countB ? git_tree_entry_byindex(b, j) : nil
                // git's order: a tree's name compares as if it ended in "/", so a file and a folder of one name differ.
                let order = ea == nil ? 1 : eb == nil ? -1 : git_tree_entry_cmp(ea, eb)
                let entry = order <= 0 ? ea! : eb!
                let path = prefix + String(cString: git_tree_entry_name(entry))
                let isTree = git_tree_entry_type(entry) == GIT_OBJECT_TREE
                if order == 0 {
                    i += 1; j += 1
                    if git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)) != 0
                        && git_tree_entry_filemode(ea) == git_tree_entry_filemode(eb) { continue }
                    if isTree {
                        let ta = try subtree(ea!), tb = try subtree(eb!)
                        defer { git_tree_free(ta); git_tree_free(tb) }
                        try compare(ta, tb, path + "/")
                    } else {
                        changes.append(path)
                    }
                } else if isTree {
                    let t = try subtree(entry)
                    defer { git_tree_free(t) }
                    if order < 0 { i += 1; try compare(t, nil, path + "/") } else { j += 1; try compare(nil, t, path + "/") }
                } else {
                    if order < 0 { i += 1 } else { j += 1 }
                    changes.append(path)
                }
            }
        }
        let a = try rootTree(old), b = try rootTree(new)
        defer { git_tree_free(a); git_tree_free(b) }
        try compare(a, b, "")
        return changes
    }

    /// The file's stat data when it is a regular file holding exactly the blob `id`, else nil.
    private func sameContent(_ path: String, _ id: git_oid) throws -> stat? {
        var s = stat(), size = 0, type = GIT_OBJECT_INVALID, oid = id
        guard lstat(path, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG else { return nil }
        var odb: OpaquePointer?
        try Git.check(git_repository_odb(&odb, handle), "git_repository_odb")
        defer { git_odb_free(odb) }
        try Git.check(git_odb_read_header(&size, &type, odb, &oid), "git_odb_read_header")
        guard size == Int(s.st_size) else { return nil }
        var hashed = git_oid()
        guard git_odb_hashfile(&hashed, path, GIT_OBJECT_BLOB) == 0, git_oid_equal(&hashed, &oid) != 0 else { return nil }
        return s
    }

    /// What the sweep found of each index entry.
    struct WorkspaceSweep {
        enum State: UInt8 { case clean, suspect, missing }
        /// By entry: clean (its stat data proves it is what the index says), suspect (there, the right kind,
        /// but its content may differ), or missing (absent, or removed by the sweep for being of another kind).
        var states: [State]
        /// Clean entries whose mode the sweep put back: their stat data after that (the ctime moved).
        var refreshed: [Int: stat] = [:]
    }

    private static let direntNameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!

    /// One folder's lstat calls, split between threads: each part fills only its own slots of `stats`
    /// and `failures` (errno), from names that stay put until all parts are done.
    private struct StatBatch: @unchecked Sendable {
        let folder: Int32
        let names: UnsafePointer<CChar>
        let starts: UnsafePointer<Int>
        let stated: UnsafeBufferPointer<Int>
        let stats: UnsafeMutablePointer<stat>
        let failures: UnsafeMutablePointer<Int32>

        func run(part: Int, of parts: Int) {
            for j in (stated.count * part / parts)..<(stated.count * (part + 1) / parts) {
                let n = stated[j]
                if fstatat(folder, names + starts[n], stats + n, AT_SYMLINK_NOFOLLOW) != 0 { failures[n] = errno }
            }
        }
    }

    /// One pass over the workspace against its index: removes every path that is not a tracked file or a
    /// folder holding one (what a fresh checkout would not have) and every tracked path a stage replaced
    /// by another kind (a file by a link or a folder: it must never be written through), and restores the
    /// modes a checkout gives tracked regular files and folders. Content is left to the caller.
    ///
    /// Tracked paths are looked up in the index itself (sorted: a binary search within the folder's
    /// entries), so nothing is copied per entry; each entry's stat data is compared with `lstat`'s,
    /// racily clean ones (modified no earlier than `indexTime`) being suspect, as in git.
    private func sweepUntracked(_ directory: String, index: IndexEntries, indexTime: timespec) throws -> WorkspaceSweep {
        let mask = ~Self.umask
        let folderMode = 0o755 & mask
        var sweep = WorkspaceSweep(states: [WorkspaceSweep.State](repeating: .missing, count: index.count))
        // The path being looked up, grown and cut as the walk goes down and up.
        var key: [UInt8] = []
        key.reserveCapacity(4096)

        func visit(_ relative: String, _ range: Range<Int>) throws {
            let absolute = relative.isEmpty ? directory : directory + "/" + relative
            guard let stream = opendir(absolute) else { throw PlumbError("cannot read \(absolute): \(errnoText())") }
            defer { closedir(stream) }
            // Entries are stat'ed and chmod'ed relative to the open folder: no path for the kernel to walk again.
            let folderFD = dirfd(stream)
            let prefixLength = key.count
            // The folder's names, NUL-terminated one after another (readdir reuses its buffer), and their types.
            var names: [CChar] = [], starts: [Int] = [], types: [UInt8] = []
            while let entry = readdir(stream) {
                let cName = UnsafeRawPointer(entry).advanced(by: Self.direntNameOffset).assumingMemoryBound(to: CChar.self)
                let length = strlen(cName)
                if (length == 1 && cName[0] == 0x2E) || (length == 2 && cName[0] == 0x2E && cName[1] == 0x2E)
                    || (prefixLength == 0 && length == 4 && memcmp(cName, ".git", 4) == 0) { continue }
                starts.append(names.count)
                names.append(contentsOf: UnsafeBufferPointer(start: cName, count: length + 1))
                types.append(entry.pointee.d_type)
            }
            try names.withUnsafeBufferPointer { nameBytes in
                // What each name is in the index: a tracked file, a tracked folder (entries under `name/`), or neither.
                var files = [Int](repeating: -1, count: starts.count)
                var folders = [Range<Int>?](repeating: nil, count: starts.count)
                var stated: [Int] = []
                for n in 0..<starts.count {
                    key.removeSubrange(prefixLength...)
                    let cName = nameBytes.baseAddress! + starts[n]
                    key.append(contentsOf: UnsafeRawBufferPointer(start: cName, count: strlen(cName)))
                    key.withUnsafeBytes { k in
                        let at = index.lowerBound(k, in: range)
                        if at < range.upperBound && index.compare(at, k) == 0 { files[n] = at }
                    }
                    if files[n] < 0 && types[n] != UInt8(DT_REG) && types[n] != UInt8(DT_LNK) {
                        key.append(0x2F)
                        key.withUnsafeBytes { k in
                            let start = index.lowerBound(k, in: range)
                            guard start < range.upperBound, index.hasPrefix(start, k) else { return }
                            var end = start + 1, step = 1
                            // Gallop, then search: a folder's entries are contiguous.
                            while end < range.upperBound && index.hasPrefix(end, k) { end = min(range.upperBound, end + step); step *= 2 }
                            var low = start + 1, high = end
                            while low < high { let m = (low + high) / 2; if index.hasPrefix(m, k) { low = m + 1 } else { high = m } }
                            folders[n] = start..<low
                        }
                    }
                    if types[n] == UInt8(DT_UNKNOWN) || files[n] >= 0 || folders[n] != nil { stated.append(n) }
                }
                // One lstat per tracked path: the sweep's cost, all in the kernel's path lookup; a large folder's are
                // split over two threads (as git's preload-index does for `git status`).
                let blank = stat()
                var stats = Array(repeating: blank, count: starts.count)
                var failures = [Int32](repeating: 0, count: starts.count)
                stats.withUnsafeMutableBufferPointer { out in
                    failures.withUnsafeMutableBufferPointer { failed in
                        stated.withUnsafeBufferPointer { stated in
                            starts.withUnsafeBufferPointer { starts in
                                let batch = StatBatch(folder: folderFD, names: nameBytes.baseAddress!, starts: starts.baseAddress!,
                                                      stated: stated, stats: out.baseAddress!, failures: failed.baseAddress!)
                                if stated.count < 512 { batch.run(part: 0, of: 1) } else {
                                    DispatchQueue.concurrentPerform(iterations: 2) { batch.run(part: $0, of: 2) }
                                }
                            }
                        }
                    }
                }
                for n in 0..<starts.count {
                    let cName = nameBytes.baseAddress! + starts[n]
                    let path = { relative.isEmpty ? String(cString: cName) : relative + "/" + String(cString: cName) }
                    guard failures[n] == 0 else { errno = failures[n]; throw PlumbError("cannot read \(directory)/\(path()): \(errnoText())") }
                    var s = stats[n], type = types[n]
                    if type == UInt8(DT_UNKNOWN) || files[n] >= 0 || folders[n] != nil {
                        type = (s.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : (s.st_mode & S_IFMT) == S_IFREG ? UInt8(DT_REG) : UInt8(DT_LNK)
                    }
                    if type == UInt8(DT_DIR), let folder = folders[n] {
                        if s.st_mode & 0o7777 != folderMode, fchmodat(folderFD, cName, folderMode, 0) != 0 {
                            throw PlumbError("cannot set the mode of \(directory)/\(path()): \(errnoText())")
                        }
                        key.removeSubrange(prefixLength...)
                        key.append(contentsOf: UnsafeRawBufferPointer(start: cName, count: strlen(cName)))
                        key.append(0x2F)
                        try visit(path(), folder)
                        continue
                    }
                    let file = files[n]
                    if file >= 0 {
                        let mode = index.mode(file)
                        let expected = mode == GIT_FILEMODE_LINK.rawValue ? UInt8(DT_LNK) : mode == GIT_FILEMODE_COMMIT.rawValue ? UInt8(DT_DIR) : UInt8(DT_REG)
                        // A tracked file with other hard links is removed: a checkout writes none, and one may be a
                        // cache object, which must be neither chmod'ed here nor written through.
                        if type == expected && (type != UInt8(DT_REG) || s.st_nlink == 1) {
                            if mode == GIT_FILEMODE_COMMIT.rawValue { sweep.states[file] = .clean; continue }
                            let clean = index.matches(file, s, indexTime: indexTime)
                            sweep.states[file] = clean ? .clean : .suspect
                            let permissions = (mode == GIT_FILEMODE_BLOB_EXECUTABLE.rawValue ? 0o755 : 0o644) & mask
                            if type == UInt8(DT_REG), s.st_mode & 0o7777 != permissions {
                                guard fchmodat(folderFD, cName, permissions, 0) == 0 else {
                                    throw PlumbError("cannot set the mode of \(directory)/\(path()): \(errnoText())")
                                }
                                // Its content is as clean as before; the index gets the ctime the chmod gave it.
                                if clean, fstatat(folderFD, cName, &s, AT_SYMLINK_NOFOLLOW) == 0 { sweep.refreshed[file] = s }
                            }
                            continue
                        }
                    }
                    try Self.removeTree(directory + "/" + path())
                }
            }
        }
        try visit("", 0..<index.count)
        return sweep
    }

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
    package static func removeTree(_ path: String) throws {
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
