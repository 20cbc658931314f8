import CGit2
import Foundation
import PlumbCore

extension Repository {
    /// Stages every change in the working tree (like `git add -A`) and commits it on HEAD's branch.
    /// Used by `plumb init` and by tests that build scratch repositories; Plumb's own records are
    /// committed from trees, without the index.
    @discardableResult
    func commitWorkingTree(message: String, author: Signature? = nil) throws -> ObjectID {
        var index: OpaquePointer?
        try Git.check(git_repository_index(&index, handle), "git_repository_index")
        defer { git_index_free(index) }
        var star = strdup("*")
        defer { free(star) }
        try withUnsafeMutablePointer(to: &star) { pointer in
            var spec = git_strarray(strings: pointer, count: 1)
            try Git.check(git_index_add_all(index, &spec, 0, nil, nil), "git_index_add_all")
            try Git.check(git_index_update_all(index, &spec, nil, nil), "git_index_update_all")
        }
        try Git.check(git_index_write(index), "git_index_write")
        var treeOid = git_oid()
        try Git.check(git_index_write_tree(&treeOid, index), "git_index_write_tree")
        let head = try self.head()
        let parents = head.commit.map { [$0] } ?? []
        let commit = try createCommit(tree: ObjectID(treeOid), parents: parents, message: message,
                                      author: author ?? defaultSignature())
        let reference = head.reference ?? "HEAD"
        guard try updateReference(reference, to: commit, expected: head.commit, message: "commit: \(message)") else {
            throw PlumbError("cannot commit: \(reference) moved meanwhile")
        }
        return commit
    }
}

extension Repository {
    /// Sets the index entries under `paths` (files or folders) to what `commit` holds there, leaving
    /// every other entry and the working tree alone. The index is read afresh first: another process
    /// may have written it since this handle last did.
    func setIndexEntries(_ paths: [String], to commit: ObjectID) throws {
        var index: OpaquePointer?
        try Git.check(git_repository_index(&index, handle), "git_repository_index")
        defer { git_index_free(index) }
        try Git.check(git_index_read(index, 1), "git_index_read")
        for path in paths {
            try Git.check(git_index_remove_directory(index, path, 0), "git_index_remove_directory")
            try Git.check(git_index_remove_bypath(index, path), "git_index_remove_bypath")
            let entries: [TreeEntry]
            if let single = try entry(at: path, in: commit), single.kind == .blob { entries = [single] } else {
                entries = try blobs(under: path, in: commit)
            }
            for item in entries {
                // No stat data: git then compares the file's content, never trusting a size or time.
                var entry = git_index_entry()
                entry.mode = item.mode
                entry.id = item.id.raw
                try item.path.withCString { cPath in
                    entry.path = cPath
                    try Git.check(git_index_add(index, &entry), "git_index_add")
                }
            }
        }
        try Git.check(git_index_write(index), "git_index_write")
    }
}

/// A libgit2 index's entries seen by position, for the workspace update's lookups by path bytes
/// (`sweepUntracked`): the entries stay libgit2's, nothing is copied per entry. Valid while the index is
/// not changed; the update copies out what it keeps before it calls `git_index_add`.
struct IndexEntries {
    let index: OpaquePointer
    let count: Int

    init(_ index: OpaquePointer) {
        self.index = index
        count = git_index_entrycount(index)
    }

    private func entry(_ i: Int) -> UnsafePointer<git_index_entry> { git_index_get_byindex(index, i)! }
    private func pathLength(_ e: UnsafePointer<git_index_entry>) -> Int {
        let length = Int(e.pointee.flags) & Int(GIT_INDEX_ENTRY_NAMEMASK)
        return length < Int(GIT_INDEX_ENTRY_NAMEMASK) ? length : strlen(e.pointee.path)
    }

    /// Git's mode of the entry: 0o100644, 0o100755, 0o120000 (a link) or 0o160000 (a submodule).
    func mode(_ i: Int) -> UInt32 { entry(i).pointee.mode }
    func id(_ i: Int) -> git_oid { entry(i).pointee.id }
    func path(_ i: Int) -> String { String(cString: entry(i).pointee.path) }

    /// Whether the file's stat data `s` is what the entry recorded (git's own test: times, size, inode;
    /// the uid, gid and device do not change under a running stage), and the entry is not racily clean
    /// (modified no earlier than `indexTime`, when the index was written: then the same stat data can hide an edit).
    func matches(_ i: Int, _ s: stat, indexTime: timespec) -> Bool {
        let e = entry(i).pointee
        if (Int64(e.mtime.seconds), Int64(e.mtime.nanoseconds)) >= (Int64(indexTime.tv_sec), Int64(indexTime.tv_nsec)) { return false }
        return Int32(truncatingIfNeeded: s.st_mtim.tv_sec) == e.mtime.seconds && UInt32(truncatingIfNeeded: s.st_mtim.tv_nsec) == e.mtime.nanoseconds
            && Int32(truncatingIfNeeded: s.st_ctim.tv_sec) == e.ctime.seconds && UInt32(truncatingIfNeeded: s.st_ctim.tv_nsec) == e.ctime.nanoseconds
            && UInt32(truncatingIfNeeded: s.st_size) == e.file_size && UInt32(truncatingIfNeeded: s.st_ino) == e.ino
    }

    /// Compares the entry's path with `key` (bytes), as the index orders paths: bytewise.
    func compare(_ i: Int, _ key: UnsafeRawBufferPointer) -> Int32 {
        let e = entry(i)
        let length = pathLength(e)
        let c = memcmp(e.pointee.path, key.baseAddress!, min(length, key.count))
        return c != 0 ? c : Int32(length - key.count).signum()
    }

    /// The first entry in `range` whose path is not less than `key`.
    func lowerBound(_ key: UnsafeRawBufferPointer, in range: Range<Int>) -> Int {
        var low = range.lowerBound, high = range.upperBound
        while low < high {
            let middle = (low + high) / 2
            if compare(middle, key) < 0 { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Whether the entry's path starts with `prefix`.
    func hasPrefix(_ i: Int, _ prefix: UnsafeRawBufferPointer) -> Bool {
        let e = entry(i)
        return pathLength(e) >= prefix.count && memcmp(e.pointee.path, prefix.baseAddress!, prefix.count) == 0
    }
}
