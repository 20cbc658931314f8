import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// How a file's bytes came to be where they are: the ways the cache takes a file in (`Cache.store`)
/// and gives one out (`Cache.materialize`), cheapest first.
package enum Transfer: String, Sendable, CaseIterable {
    /// Already in the cache: hashed once, nothing written.
    case present
    /// A hard link: the cache's object and the file are one inode, read-only for both.
    case hardlink
    /// A reflink (`FICLONE`): an inode of its own sharing the blocks, copy-on-write.
    case reflink
    /// Every byte copied.
    case copy
}

/// The system calls that put bytes in a second place without reading them, in one thin layer
/// (as swift-system routes each syscall through one shim): reflink, kernel copy, the checks that
/// say when a hard link is safe, and the seal that lets a linked object skip re-hashing.
enum FileTransfer {
    /// `FICLONE` from <linux/fs.h>: `_IOW(0x94, 9, int)`.
    static let ficlone: UInt = 0x4004_9409
    /// From <bits/fcntl-linux.h>, which Swift's Glibc does not export (they need _GNU_SOURCE).
    private static let setLease: Int32 = 1024, setSignal: Int32 = 10, effectiveAccess: Int32 = 0x200
    /// `UTIME_OMIT` from <bits/stat.h>: leave this time as it is.
    private static let omitTime = (1 << 30) - 2

    /// Makes the empty file `destination` share `source`'s blocks. False when the file system has no
    /// reflinks (ext4: EOPNOTSUPP), the two are on different file systems (EXDEV) or it refuses
    /// (EINVAL): the caller copies instead.
    static func clone(_ source: Int32, into destination: Int32) -> Bool {
        ioctl(destination, ficlone, source) == 0
    }

    /// Copies `source` from its start into `destination` (at its end, empty) inside the kernel
    /// (`sendfile`: page cache to page cache, no pass through user memory), falling back to read/write
    /// where the kernel cannot. For bytes the caller has already hashed.
    static func copy(_ source: Int32, into destination: Int32, path: String) throws {
        var offset: off_t = 0
        while true {
            let n = sendfile(destination, source, &offset, 1 << 30)
            if n > 0 { continue }
            if n == 0 { return }
            if errno == EINTR { continue }
            // EINVAL/ENOSYS where a file system cannot: the plain loop from where it stopped.
            guard [EINVAL, ENOSYS, EOPNOTSUPP].contains(errno) else {
                throw PlumbError("cannot copy \(path): \(errnoText())")
            }
            guard lseek(source, offset, SEEK_SET) >= 0 else { throw PlumbError("cannot copy \(path): \(errnoText())") }
            let size = 1 << 20
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            defer { buffer.deallocate() }
            while true {
                let n: Int
                do { n = try FileDescriptor.retryingInterrupts { read(source, buffer, size) } } catch {
                    throw PlumbError("cannot read \(path): \(error)")
                }
                if n == 0 { return }
                try AtomicFile.writeAll(destination, UnsafeRawBufferPointer(start: buffer, count: n), path: path)
            }
        }
    }

    /// Whether any other open file description (another process's, a shared mapping's) may refer to
    /// the file `fd` has open: a write lease is granted only on a file nobody else has open. Leases
    /// unavailable (NFS, disabled by fs.leases-enable) count as "may be", so the caller copies.
    static func mayBeOpenElsewhere(_ fd: Int32) -> Bool {
        // Someone opening the file while the lease is held breaks it with a signal to us: SIGURG,
        // ignored by default, rather than SIGIO, whose default is to terminate.
        _ = fcntl(fd, setSignal, SIGURG)
        guard fcntl(fd, setLease, Int32(F_WRLCK)) == 0 else { return true }
        _ = fcntl(fd, setLease, Int32(F_UNLCK))
        return false
    }

    /// Whether this process could write `path` although it has no write bit (root, CAP_DAC_OVERRIDE):
    /// then a read-only hard link protects nothing, and the cache never shares an inode.
    static func writesReadOnlyFiles(_ path: String) -> Bool {
        faccessat(AT_FDCWD, path, W_OK, effectiveAccess) == 0
    }

    // MARK: - Seal

    /// The modification time of an object whose bytes were hashed and found to match its name: one
    /// second after the epoch, nanoseconds from the digest. Every write to the file, by anyone (root
    /// too), sets its mtime to now, so a sealed object can be linked or reflinked without reading it
    /// again; anything else (an object from before seals, one written since) is verified first.
    static func sealTime(_ digest: Digest) -> timespec {
        let nanoseconds = digest.hex.utf8.prefix(7).reduce(0) { $0 * 16 + Int(hexValue($1)) } % 1_000_000_000
        return timespec(tv_sec: 1, tv_nsec: nanoseconds)
    }

    /// Seals the object open at `fd` (its bytes hash to `digest`).
    static func seal(_ fd: Int32, as digest: Digest) throws {
        let times = [timespec(tv_sec: 0, tv_nsec: omitTime), sealTime(digest)]
        guard futimens(fd, times) == 0 else { throw PlumbError("cannot set the time of object \(digest.short): \(errnoText())") }
    }

    /// Whether a file with stat `s` is the sealed object `digest`: its seal intact and no write bit.
    static func isSealed(_ s: stat, as digest: Digest) -> Bool {
        let seal = sealTime(digest)
        return s.st_mtim.tv_sec == seal.tv_sec && s.st_mtim.tv_nsec == seal.tv_nsec && s.st_mode & 0o222 == 0
    }

    private static func hexValue(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : c - 87 }
}

/// What the cache took in and gave out in this process, by how: files and bytes stored (new, by
/// link, reflink or copy; or found present) and materialized. Read by `plumb reconcile`'s summary.
package final class TransferTally: Sendable {
    /// Files and their bytes.
    package struct Count: Sendable, Equatable, Codable {
        package var files = 0
        package var bytes: Int64 = 0
    }

    /// The counts at one moment.
    package struct Totals: Sendable, Equatable, Codable {
        /// Taken into the cache, by how (`present`: its bytes were there already).
        package var stored: [String: Count] = [:]
        /// Put out of the cache into workspaces and working trees, by how.
        package var materialized: [String: Count] = [:]

        package init() {}

        package func stored(_ how: Transfer) -> Count { stored[how.rawValue] ?? Count() }
        package func materialized(_ how: Transfer) -> Count { materialized[how.rawValue] ?? Count() }
        /// Whether nothing was counted.
        package var isEmpty: Bool { stored.isEmpty && materialized.isEmpty }
    }

    private let totals = Locked(Totals())

    package init() {}

    func noteStored(_ how: Transfer, bytes: Int64) { totals.withLock { Self.add(&$0.stored, how, bytes) } }
    func noteMaterialized(_ how: Transfer, bytes: Int64) { totals.withLock { Self.add(&$0.materialized, how, bytes) } }

    /// The counts so far.
    package var current: Totals { totals.withLock { $0 } }

    private static func add(_ counts: inout [String: Count], _ how: Transfer, _ bytes: Int64) {
        counts[how.rawValue, default: Count()].files += 1
        counts[how.rawValue, default: Count()].bytes += bytes
    }
}
