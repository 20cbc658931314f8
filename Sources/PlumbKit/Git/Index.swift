import CGit2
import Foundation

extension Repository {
    /// Stages every change in the working tree (like `git add -A`) and commits it on HEAD's branch.
    /// Used by `plumb init` and by tests that build scratch repositories; Plumb's own records are
    /// committed from trees, without the index.
    @discardableResult
    public func commitWorkingTree(message: String, author: Signature? = nil) throws -> ObjectID {
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
