import CGit2
import Foundation

extension Repository {
    /// Every local branch and the commit it points at, sorted by name.
    public func localBranches() throws -> [(name: String, commit: ObjectID)] {
        var iterator: OpaquePointer?
        try Git.check(git_branch_iterator_new(&iterator, handle, GIT_BRANCH_LOCAL), "git_branch_iterator_new")
        defer { git_branch_iterator_free(iterator) }
        var out: [(String, ObjectID)] = []
        var reference: OpaquePointer?
        var type = GIT_BRANCH_LOCAL
        while git_branch_next(&reference, &type, iterator) == 0 {
            defer { git_reference_free(reference) }
            guard let target = git_reference_target(reference) else { continue }
            out.append((String(cString: git_reference_shorthand(reference)), ObjectID(target)))
        }
        return out.sorted { $0.0 < $1.0 }
    }
}
