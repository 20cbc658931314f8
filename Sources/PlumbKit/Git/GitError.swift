import CGit2
import Foundation

/// A libgit2 failure: the function that failed, its return code and libgit2's own message.
public struct GitError: Error, Sendable, CustomStringConvertible {
    public var function: String
    public var code: Int32
    public var message: String

    public var description: String { "\(message) (\(function) returned \(code))" }

    /// True when libgit2 reported that something was not found.
    public var isNotFound: Bool { code == GIT_ENOTFOUND.rawValue }
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

/// A git object id (SHA-1 hex), copied out of libgit2 so no C pointer escapes.
///
/// It holds exactly 40 lowercase hex characters: ids are read from records (`lastCommit`, a pin's
/// `commit`) that anyone with push access can write, so text of another shape is refused there.
public struct ObjectID: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let hex: String
    /// The id written as `hex`, or nil unless `hex` is 40 lowercase hex characters.
    public init?(hex: String) {
        guard Self.isValid(hex) else { return nil }
        self.hex = hex
    }
    init(_ oid: git_oid) {
        var copy = oid
        var buffer = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buffer, 41, &copy)
        hex = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    init(_ pointer: UnsafePointer<git_oid>) { self.init(pointer.pointee) }
    /// The all-zero id, git's "no object" (a pin promoted from an environment that never recorded a commit).
    public static let zero = ObjectID(git_oid())
    var raw: git_oid {
        var oid = git_oid()
        _ = git_oid_fromstr(&oid, hex)
        return oid
    }
    public var short: String { String(hex.prefix(10)) }
    public var description: String { hex }
    public static func < (a: ObjectID, b: ObjectID) -> Bool { a.hex < b.hex }

    /// Whether `text` has the shape of a SHA-1 object id.
    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = ObjectID(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected a git object id (40 lowercase hex characters), found \(RecordRules.quoted(text))")
        }
        self = id
    }
    public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(hex) }
}
