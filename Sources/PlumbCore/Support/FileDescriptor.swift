import Foundation

/// An open file descriptor with one owner, closed exactly once when the owner lets it go
/// (swift-system's `FileDescriptor`, without the dependency). Calls that can be interrupted by
/// a signal retry in one place, `FileDescriptor.retryingInterrupts`, not at every call site.
package struct FileDescriptor: ~Copyable {
    package let rawValue: Int32

    package init(owning rawValue: Int32) { self.rawValue = rawValue }

    /// Not retried on EINTR: on Linux the descriptor is released even when close is interrupted,
    /// and a retry could close a descriptor another thread has just been given.
    deinit { _ = Glibc.close(rawValue) }

    /// Closes now rather than at the end of the owner's scope (a pipe's write end after spawning).
    package consuming func close() {}

    /// Opens `path`; O_CLOEXEC is always added, so no stage inherits a descriptor by accident.
    package static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(POSIXFailure) -> FileDescriptor {
        let fd = try retryingInterrupts { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(owning: fd)
    }

    /// Reads up to `buffer.count` bytes; 0 at end of file.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(POSIXFailure) -> Int {
        try Self.retryingInterrupts { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes all of `bytes`, continuing after short writes.
    package func writeAll(_ bytes: UnsafeRawBufferPointer) throws(POSIXFailure) {
        try Self.writeAll(rawValue, bytes)
    }

    /// `writeAll` for a descriptor owned elsewhere.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(POSIXFailure) {
        var offset = 0
        while offset < bytes.count {
            offset += try retryingInterrupts { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
        }
    }

    /// Runs `call` until it does not fail with EINTR. A result of -1 with any other errno throws it.
    @discardableResult
    package static func retryingInterrupts<T: FixedWidthInteger>(_ call: () -> T) throws(POSIXFailure) -> T {
        while true {
            let result = call()
            if result != -1 { return result }
            let code = errno
            if code != EINTR { throw POSIXFailure(code: code) }
        }
    }
}

/// A failed system call's errno, for a message that names what was being done.
package struct POSIXFailure: Error, Sendable, CustomStringConvertible {
    package var code: Int32
    package init(code: Int32) { self.code = code }
    package var description: String { String(cString: strerror(code)) }
}
