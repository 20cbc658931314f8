import CGit2
import Foundation
import PlumbCore

/// A libgit2 failure: the function that failed, its return code and libgit2's own message.
package struct GitError: Error, Sendable, CustomStringConvertible {
    var function: String
    package var code: Int32
    package var message: String

    package var description: String { "\(message) (\(function) returned \(code))" }

    /// True when libgit2 reported that something was not found.
    package var isNotFound: Bool { code == GIT_ENOTFOUND.rawValue }
}

/// The one place where libgit2 return codes become Swift errors.
enum Git {
    /// libgit2 must be initialised once per process before any call.
    private static let initialised: Bool = {
        let ok = git_libgit2_init() > 0
        // Trees and commits of any size stay cached: each path lookup reads the commit and the trees on the
        // way, and past libgit2's 4 KiB default (a folder of 1,000 files, a commit naming 1,000 stages) they
        // were re-read and re-inflated every time. Blobs stay uncached.
        _ = plumb_git_set_cache_object_limit(GIT_OBJECT_TREE, 64 << 20)
        _ = plumb_git_set_cache_object_limit(GIT_OBJECT_COMMIT, 64 << 20)
        return ok
    }()

    static func ensureInitialised() { _ = initialised }

    /// Throws a `GitError` if `code` is negative.
    @discardableResult
    static func check(_ code: Int32, _ function: String) throws(GitError) -> Int32 {
        if code >= 0 { return code }
        var message = "libgit2 error"
        if let e = git_error_last(), let m = e.pointee.message { message = String(cString: m) }
        throw GitError(function: function, code: code, message: message)
    }
}

extension ObjectID {
    /// The id libgit2 holds in `oid`, copied out so no C value escapes.
    init(_ oid: git_oid) {
        var copy = oid
        var buffer = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buffer, 41, &copy)
        self.init(validHex: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    init(_ pointer: UnsafePointer<git_oid>) { self.init(pointer.pointee) }
    var raw: git_oid {
        var oid = git_oid()
        _ = git_oid_fromstr(&oid, hex)
        return oid
    }
}
