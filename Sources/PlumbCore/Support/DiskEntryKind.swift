import Foundation
import Glibc

/// What a path names on disk, as a dep sees it (symbolic links followed, as opening it would).
///
/// Only regular files and folders hold data Plumb can digest. A FIFO or a character device blocks or
/// never ends when read, and the "regular" files of kernel pseudo-file systems such as `/proc` are
/// generated on every read (`/proc/self/pagemap` yields gigabytes and `plan` would hash it forever):
/// they are refused with a message naming the dep, never read.
package enum DiskEntryKind: Equatable, Sendable {
    case missing
    case file
    case directory
    /// Anything else, described for a message: "a FIFO", "a file of proc, a kernel pseudo-file system".
    case unsupported(String)

    /// The kind of `path` (absolute, or relative to the current directory).
    package static func of(_ path: String) -> DiskEntryKind {
        var s = stat()
        guard stat(path, &s) == 0 else { return .missing }
        let kind: DiskEntryKind
        switch s.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFIFO: return .unsupported("a FIFO (named pipe)")
        case S_IFSOCK: return .unsupported("a socket")
        case S_IFCHR: return .unsupported("a character device")
        case S_IFBLK: return .unsupported("a block device")
        default: return .unsupported("neither a file nor a folder")
        }
        if let name = pseudoFileSystem(device: s.st_dev) {
            return .unsupported("\(kind == .file ? "a file" : "a folder") of \(name), a kernel pseudo-file system")
        }
        return kind
    }

    /// The same check on an open descriptor, for the moment between checking a path and reading it.
    package static func of(descriptor fd: Int32) -> DiskEntryKind {
        var s = stat()
        guard fstat(fd, &s) == 0 else { return .missing }
        guard s.st_mode & S_IFMT == S_IFREG else { return s.st_mode & S_IFMT == S_IFDIR ? .directory : .unsupported("not a regular file") }
        if let name = pseudoFileSystem(device: s.st_dev) {
            return .unsupported("a file of \(name), a kernel pseudo-file system")
        }
        return .file
    }

    /// File systems whose files the kernel makes up on every read.
    static let pseudoFileSystemNames: Set<String> = [
        "proc", "sysfs", "debugfs", "tracefs", "securityfs", "cgroup", "cgroup2", "configfs", "efivarfs",
        "bpf", "pstore", "binfmt_misc", "fusectl", "nsfs", "selinuxfs", "devpts",
    ]

    /// The pseudo-file system a device number belongs to, if any.
    static func pseudoFileSystem(device: dev_t) -> String? { pseudoDevices[UInt64(device)] }

    /// Device numbers of this process's pseudo-file system mounts, from `/proc/self/mountinfo`, read
    /// once (Glibc's Swift module has no `statfs`, and mounts of this kind do not come and go while
    /// Plumb runs). Each line reads `id parent major:minor root mountpoint options… - fstype source …`.
    static let pseudoDevices: [UInt64: String] = {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [:] }
        var out: [UInt64: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 3, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            let type = String(fields[dash + 1])
            guard pseudoFileSystemNames.contains(type) else { continue }
            let numbers = fields[2].split(separator: ":")
            guard numbers.count == 2, let major = UInt64(numbers[0]), let minor = UInt64(numbers[1]) else { continue }
            // glibc's makedev.
            let device = ((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff)
            out[device] = type
        }
        return out
    }()

    /// "is a FIFO (named pipe)": the end of a sentence about a dep that cannot be read.
    var refusal: String? {
        if case let .unsupported(what) = self { return "is \(what); a dep must be a regular file or a folder" }
        return nil
    }
}
