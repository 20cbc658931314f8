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
