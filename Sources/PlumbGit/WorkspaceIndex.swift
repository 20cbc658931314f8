import CCrypto
import CGit2
import Foundation
import PlumbCore

/// The workspace's `.git/index`, read and written as bytes for the in-place update (`moveWorkspace`).
///
/// libgit2 1.5 reads an index by hashing the whole file (SHA-1 with collision detection), allocating
/// every entry and filling a hash map of paths, and writes it the same way: at 10,000 entries that is
/// 80M instructions, more than all of `git checkout` of the same change (53M). Here the file is kept
/// as it was read, entries are located by offset, an unchanged entry is written back as the same bytes,
/// and the checksum is OpenSSL's SHA-1. The format is git's index version 2 (what libgit2's and git's
/// checkouts write), entries at stage 0 only; anything else (version 3 or 4, flags, conflicts, a
/// required extension such as a split index) is refused, and the update falls back to a fresh checkout.
/// Optional extensions (the cache tree, say) are dropped on write, as git allows.
struct WorkspaceIndex {
    /// The file's bytes.
    let bytes: [UInt8]
    /// Where each entry starts in `bytes`, in the file's order (sorted by path, as git requires).
    let offsets: [Int]
    /// Each entry's path length.
    let pathLengths: [Int]

    static let headerSize = 12, entryFixedSize = 62

    /// The index at `path`, nil when it is not one this reader handles.
    init?(contentsOf path: String) {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        self.init(bytes: [UInt8](data))
    }

    init?(bytes: [UInt8]) {
        self.bytes = bytes
        let count = bytes.count
        guard count >= Self.headerSize + 20, bytes[0] == 0x44, bytes[1] == 0x49, bytes[2] == 0x52, bytes[3] == 0x43,
              Self.uint32(bytes, 4) == 2 else { return nil }
        let entries = Int(Self.uint32(bytes, 8))
        var offsets: [Int] = [], lengths: [Int] = []
        offsets.reserveCapacity(entries)
        lengths.reserveCapacity(entries)
        var at = Self.headerSize
        let end = count - 20
        for _ in 0..<entries {
            guard at + Self.entryFixedSize < end else { return nil }
            let flags = Int(bytes[at + 60]) << 8 | Int(bytes[at + 61])
            // No assume-valid, extended or stage bits: a plain entry of a checkout.
            guard flags & 0xF000 == 0 else { return nil }
            var length = flags & 0xFFF
            if length == 0xFFF {
                guard let nul = bytes[(at + Self.entryFixedSize)..<end].firstIndex(of: 0) else { return nil }
                length = nul - at - Self.entryFixedSize
            }
            let size = (Self.entryFixedSize + length + 8) & ~7
            guard length > 0, at + size <= end, bytes[at + Self.entryFixedSize + length] == 0 else { return nil }
            offsets.append(at)
            lengths.append(length)
            at += size
        }
        // Extensions: an upper-case signature marks one a reader may ignore.
        while at + 8 <= end {
            guard bytes[at] >= 0x41, bytes[at] <= 0x5A else { return nil }
            let size = Int(Self.uint32(bytes, at + 4))
            guard at + 8 + size <= end else { return nil }
            at += 8 + size
        }
        guard at == end else { return nil }
        self.offsets = offsets
        self.pathLengths = lengths
    }

    var count: Int { offsets.count }

    static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }
    func field(_ entry: Int, _ at: Int) -> UInt32 { Self.uint32(bytes, offsets[entry] + at) }

    /// Git's mode of the entry: 0o100644, 0o100755, 0o120000 (a link) or 0o160000 (a submodule).
    func mode(_ entry: Int) -> UInt32 { field(entry, 24) }
    func size(_ entry: Int) -> UInt32 { field(entry, 36) }
    func id(_ entry: Int) -> git_oid {
        var oid = git_oid()
        withUnsafeMutableBytes(of: &oid.id) { out in
            bytes.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[(offsets[entry] + 40)..<(offsets[entry] + 60)])) }
        }
        return oid
    }
    func path(_ entry: Int) -> String {
        let start = offsets[entry] + Self.entryFixedSize
        return String(decoding: bytes[start..<(start + pathLengths[entry])], as: UTF8.self)
    }

    /// Whether the file's stat data `s` is what the entry recorded (git's own test: times, size, inode;
    /// the uid, gid and device do not change under a running stage), and the entry is not racily clean
    /// (modified no earlier than `indexTime`, when the index was written: then the same stat data can hide an edit).
    func matches(_ entry: Int, _ s: stat, indexTime: timespec) -> Bool {
        let mtime = (Int64(field(entry, 8)), Int64(field(entry, 12)))
        if mtime >= (Int64(indexTime.tv_sec), Int64(indexTime.tv_nsec)) { return false }
        return UInt32(truncatingIfNeeded: s.st_mtim.tv_sec) == field(entry, 8) && UInt32(truncatingIfNeeded: s.st_mtim.tv_nsec) == field(entry, 12)
            && UInt32(truncatingIfNeeded: s.st_ctim.tv_sec) == field(entry, 0) && UInt32(truncatingIfNeeded: s.st_ctim.tv_nsec) == field(entry, 4)
            && UInt32(truncatingIfNeeded: s.st_size) == field(entry, 36) && UInt32(truncatingIfNeeded: s.st_ino) == field(entry, 20)
    }

    /// Compares the entry's path with `key` (bytes), as git orders paths: bytewise.
    func compare(_ entry: Int, _ key: UnsafeRawBufferPointer) -> Int32 {
        let length = pathLengths[entry]
        return bytes.withUnsafeBytes { raw in
            let c = memcmp(raw.baseAddress! + offsets[entry] + Self.entryFixedSize, key.baseAddress!, min(length, key.count))
            return c != 0 ? c : Int32(length - key.count).signum()
        }
    }

    /// The first entry in `range` whose path is not less than `key`.
    func lowerBound(_ key: UnsafeRawBufferPointer, in range: Range<Int>) -> Int {
        var low = range.lowerBound, high = range.upperBound
        while low < high {
            let middle = (low + high) / 2
            if compare(middle, key) < 0 { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Whether the entry's path starts with `prefix`.
    func hasPrefix(_ entry: Int, _ prefix: UnsafeRawBufferPointer) -> Bool {
        guard pathLengths[entry] >= prefix.count else { return false }
        return bytes.withUnsafeBytes { memcmp($0.baseAddress! + offsets[entry] + Self.entryFixedSize, prefix.baseAddress!, prefix.count) == 0 }
    }

    /// One entry of a new index: either an entry of this one kept as it is, or one made afresh.
    enum Entry {
        case kept(Int)
        case made(path: String, mode: UInt32, id: git_oid, stat: stat?)
    }

    /// The index file holding `entries` (sorted by path), with its SHA-1 checksum.
    func encoded(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = [0x44, 0x49, 0x52, 0x43, 0, 0, 0, 2]
        out.reserveCapacity(bytes.count + entries.count * 8)
        func append32(_ value: UInt32) { out.append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]) }
        append32(UInt32(entries.count))
        for entry in entries {
            switch entry {
            case .kept(let i):
                let size = (Self.entryFixedSize + pathLengths[i] + 8) & ~7
                out.append(contentsOf: bytes[offsets[i]..<(offsets[i] + size)])
            case .made(let path, let mode, let id, let s):
                // No stat data (an LFS file, not on disk): git compares such an entry by content.
                let s = s ?? stat()
                for value in [s.st_ctim.tv_sec, s.st_ctim.tv_nsec, s.st_mtim.tv_sec, s.st_mtim.tv_nsec] { append32(UInt32(truncatingIfNeeded: value)) }
                append32(UInt32(truncatingIfNeeded: s.st_dev)); append32(UInt32(truncatingIfNeeded: s.st_ino))
                append32(mode); append32(s.st_uid); append32(s.st_gid); append32(UInt32(truncatingIfNeeded: s.st_size))
                withUnsafeBytes(of: id.id) { out.append(contentsOf: $0) }
                let name = Array(path.utf8)
                let flags = UInt16(min(name.count, 0xFFF))
                out.append(UInt8(flags >> 8)); out.append(UInt8(flags & 0xFF))
                out.append(contentsOf: name)
                out.append(contentsOf: repeating(0, count: (Self.entryFixedSize + name.count + 8) & ~7 - Self.entryFixedSize - name.count))
            }
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = out.withUnsafeBufferPointer { EVP_Digest($0.baseAddress, $0.count, &digest, &length, EVP_sha1(), nil) }
        digest.removeLast(digest.count - 20)
        out.append(contentsOf: digest)
        return out
    }

    private func repeating(_ byte: UInt8, count: Int) -> [UInt8] { [UInt8](repeating: byte, count: count) }

    /// Writes `entries` as the index at `path`, as git does: into `index.lock` (created exclusively, so a
    /// concurrent git fails instead of being overwritten), then renamed over the index.
    func write(_ entries: [Entry], to path: String) throws {
        let data = encoded(entries)
        let lock = path + ".lock"
        let fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PlumbError("cannot write \(lock): \(errnoText())") }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == data.count, rename(lock, path) == 0 else {
            let message = errnoText()
            unlink(lock)
            throw PlumbError("cannot write \(path): \(message)")
        }
    }
}
