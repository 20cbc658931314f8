import CGit2
import Foundation
import PlumbCore

extension Repository {
    /// The best common ancestor of two commits, or nil when they share no history.
    package func mergeBase(_ a: ObjectID, _ b: ObjectID) throws -> ObjectID? {
        var out = git_oid()
        var x = a.raw, y = b.raw
        let code = git_merge_base(&out, handle, &x, &y)
        if code == GIT_ENOTFOUND.rawValue { return nil }
        try Git.check(code, "git_merge_base")
        return ObjectID(out)
    }

    /// Paths of files that differ between two commits' trees (nil `from`: the empty tree), sorted.
    package func changedPaths(from: ObjectID?, to: ObjectID) throws -> [String] {
        func tree(_ commit: ObjectID?) throws -> OpaquePointer? {
            guard let commit else { return nil }
            var oid = try self.commit(commit).tree.raw
            var tree: OpaquePointer?
            try Git.check(git_tree_lookup(&tree, handle, &oid), "git_tree_lookup")
            return tree
        }
        let old = try tree(from), new = try tree(to)
        defer { git_tree_free(old); git_tree_free(new) }
        var diff: OpaquePointer?
        try Git.check(git_diff_tree_to_tree(&diff, handle, old, new, nil), "git_diff_tree_to_tree")
        defer { git_diff_free(diff) }
        var paths: Set<String> = []
        for i in 0..<git_diff_num_deltas(diff) {
            let delta = git_diff_get_delta(diff, i)!.pointee
            if let p = delta.old_file.path { paths.insert(String(cString: p)) }
            if let p = delta.new_file.path { paths.insert(String(cString: p)) }
        }
        return paths.sorted()
    }
}
