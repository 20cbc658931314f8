import CGit2
import Foundation

/// The version of libgit2 this process runs with, for `plumb doctor`.
package enum GitLibrary {
    package static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        _ = git_libgit2_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
