import Foundation
import PlumbCore

/// Writes files so that a crash at any moment leaves either the old content or the new, never a
/// torn mix: every write to the cache and to `.plumb/` goes through here.
package enum AtomicFile {
    /// Replaces the file at `path` with `data`: a temporary file in the same folder (a rename is
    /// only atomic within one file system), fsync'd, renamed over `path`, then the folder fsync'd
    /// so the rename itself survives a power cut. Creates the folder if it is missing.
    package static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw PlumbError("cannot create folder \(directory): \(error.localizedDescription)")
        }
        // Unique per process and call, so concurrent writers never share a temporary file.
        let temporary = "\(directory)/.\(name).tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create \(temporary)") }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            try writeAll(fd, data, path: temporary)
            guard fsync(fd) == 0 else { throw failure("cannot flush \(temporary) to disk") }
        }
        guard rename(temporary, path) == 0 else { throw failure("cannot move \(temporary) to \(path)") }
        renamed = true
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { throw failure("cannot open folder \(directory)") }
        defer { close(dirFD) }
        guard fsync(dirFD) == 0 else { throw failure("cannot flush folder \(directory) to disk") }
    }

    /// Writes all of `data` to an open file descriptor, resuming after short writes and
    /// interruptions. Not atomic by itself: `write(_:to:)` builds on it, and so do writers that
    /// manage their own temporary files (cache objects) or append (stage logs).
    package static func writeAll(_ fd: Int32, _ data: Data, path: String) throws {
        try data.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    /// Writes all of `bytes` to an open file descriptor; see `writeAll(_:_:path:)`.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        do { try FileDescriptor.writeAll(fd, bytes) } catch { throw PlumbError("cannot write \(path): \(error)") }
    }

    private static func failure(_ message: String) -> PlumbError {
        PlumbError("\(message): \(String(cString: strerror(errno)))")
    }
}
