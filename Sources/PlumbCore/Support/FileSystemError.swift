import Foundation

extension PlumbError {
    /// A file-system failure as a user reads it: what failed, on which path, the system's reason,
    /// and for a place Plumb may not write (a read-only checkout or mount, permissions) a hint,
    /// instead of Foundation's `Error Domain=NSCocoaErrorDomain Code=642 …`.
    package init(fileSystem error: Error, doing action: String, path: String? = nil) {
        let path = path ?? Self.filePath(in: error)
        let reason = Self.reason(for: error)
        self.init([action, path].compactMap { $0 }.joined(separator: " ") + ": " + reason,
                  hint: Self.posixCode(of: error).flatMap(Self.hint(for:)))
    }

    /// Any error as one line for a user: Foundation's file errors by path and reason, the rest as they describe themselves.
    package static func readable(_ error: Error) -> String {
        if let e = error as? PlumbError { return e.message }
        guard posixCode(of: error) != nil || (error as NSError).domain == NSCocoaErrorDomain else { return "\(error)" }
        return [filePath(in: error), reason(for: error)].compactMap { $0 }.joined(separator: ": ")
    }

    /// The hint for a file-system error code, when there is one worth giving.
    package static func hint(for code: Int32) -> String? {
        switch code {
        case EROFS, EACCES, EPERM:
            return "the checkout is not writable here (read-only file system or permissions); Plumb writes .plumb/ in the working tree and commits into .git/ — run it in a writable clone"
        case ENOSPC: return "the disk is full"
        case ENOTDIR: return "a component of the path is a file, not a folder"
        default: return nil
        }
    }

    /// The POSIX errno a Foundation error carries (itself, or as its underlying error).
    package static func posixCode(of error: Error) -> Int32? {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return Int32(ns.code) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return Int32(underlying.code)
        }
        guard ns.domain == NSCocoaErrorDomain else { return nil }
        switch CocoaError.Code(rawValue: ns.code) {
        case .fileWriteVolumeReadOnly: return EROFS
        case .fileWriteNoPermission, .fileReadNoPermission: return EACCES
        case .fileNoSuchFile, .fileReadNoSuchFile: return ENOENT
        case .fileWriteFileExists: return EEXIST
        case .fileWriteOutOfSpace: return ENOSPC
        default: return nil
        }
    }

    private static func reason(for error: Error) -> String {
        if let code = posixCode(of: error) { return String(cString: strerror(code)) }
        return (error as NSError).localizedDescription
    }

    private static func filePath(in error: Error) -> String? {
        let info = (error as NSError).userInfo
        if let path = info[NSFilePathErrorKey] as? String { return path }
        return (info[NSURLErrorKey] as? URL)?.path
    }
}

/// The C library's text for the current `errno`.
package func errnoText() -> String { String(cString: strerror(errno)) }
