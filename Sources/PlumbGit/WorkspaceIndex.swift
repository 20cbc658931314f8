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
    /// The file's bytes, mapped (or, for bytes handed in, copied) and unmapped with the last copy of this value.
    let bytes: UnsafeRawBufferPointer
    private let storage: Storage
    /// Where each entry starts in `bytes`, in the file's order (sorted by path, as git requires).
    let offsets: [Int]
    /// Each entry's path length.
    let pathLengths: [Int]

    static let headerSize = 12, entryFixedSize = 62

    /// Owns the bytes: a private mapping of the file, or a copy.
    private final class Storage {
        let bytes: UnsafeRawBufferPointer
        let mapped: Bool
        init(mapping base: UnsafeMutableRawPointer, count: Int) { bytes = UnsafeRawBufferPointer(start: base, count: count); mapped = true }
        init(copying source: [UInt8]) {
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(source.count, 1), alignment: 8)
            copy.copyBytes(from: source)
            bytes = UnsafeRawBufferPointer(rebasing: copy[..<source.count])
            mapped = false
        }
        deinit {
            if mapped { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) } else { bytes.deallocate() }
        }
    }

    /// The index at `path`, nil when it is not one this reader handles. Mapped with every page populated
    /// at once: read into memory instead, its 900 KB at 10,000 entries cost a page fault per 4 KB twice over.
    init?(contentsOf path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var s = stat()
        guard fstat(fd, &s) == 0, s.st_size > 0,
              let base = mmap(nil, Int(s.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), base != MAP_FAILED else { return nil }
        self.init(storage: Storage(mapping: base, count: Int(s.st_size)))
    }

    init?(bytes: [UInt8]) { self.init(storage: Storage(copying: bytes)) }

    private init?(storage: Storage) {
        self.storage = storage
        let bytes = storage.bytes
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

    static func uint32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }
    func field(_ entry: Int, _ at: Int) -> UInt32 { Self.uint32(bytes, offsets[entry] + at) }

    /// Git's mode of the entry: 0o100644, 0o100755, 0o120000 (a link) or 0o160000 (a submodule).
    func mode(_ entry: Int) -> UInt32 { field(entry, 24) }
    func size(_ entry: Int) -> UInt32 { field(entry, 36) }
    func id(_ entry: Int) -> git_oid {
        var oid = git_oid()
        withUnsafeMutableBytes(of: &oid.id) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[(offsets[entry] + 40)..<(offsets[entry] + 60)])) }
        return oid
    }
    func path(_ entry: Int) -> String {
        let start = offsets[entry] + Self.entryFixedSize
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + pathLengths[entry])]), as: UTF8.self)
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
        let c = memcmp(bytes.baseAddress! + offsets[entry] + Self.entryFixedSize, key.baseAddress!, min(length, key.count))
        return c != 0 ? c : Int32(length - key.count).signum()
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
        return memcmp(bytes.baseAddress! + offsets[entry] + Self.entryFixedSize, prefix.baseAddress!, prefix.count) == 0
    }

    /// One entry of a new index: either an entry of this one kept as it is, or one made afresh.
    enum Entry {
        case kept(Int)
        case made(path: String, mode: UInt32, id: git_oid, stat: stat?)
    }

    /// A stretch of a new index file: bytes of this one (a run of kept entries lies contiguous in it), or new bytes.
    private enum Piece { case old(Range<Int>), new([UInt8]) }

    /// The index file holding `entries` (sorted by path) but its checksum, as stretches in order.
    private func pieces(_ entries: [Entry]) -> [Piece] {
        func bigEndian(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
        var pieces: [Piece] = [.new([0x44, 0x49, 0x52, 0x43, 0, 0, 0, 2] + bigEndian(UInt32(entries.count)))]
        for entry in entries {
            switch entry {
            case .kept(let i):
                let range = offsets[i]..<(offsets[i] + (Self.entryFixedSize + pathLengths[i] + 8) & ~7)
                if case .old(let run) = pieces.last!, run.upperBound == range.lowerBound {
                    pieces[pieces.count - 1] = .old(run.lowerBound..<range.upperBound)
                } else {
                    pieces.append(.old(range))
                }
            case .made(let path, let mode, let id, let s):
                // No stat data (an LFS file, not on disk): git compares such an entry by content.
                let s = s ?? stat()
                var out: [UInt8] = []
                for value in [s.st_ctim.tv_sec, s.st_ctim.tv_nsec, s.st_mtim.tv_sec, s.st_mtim.tv_nsec] { out += bigEndian(UInt32(truncatingIfNeeded: value)) }
                out += bigEndian(UInt32(truncatingIfNeeded: s.st_dev)) + bigEndian(UInt32(truncatingIfNeeded: s.st_ino))
                out += bigEndian(mode) + bigEndian(s.st_uid) + bigEndian(s.st_gid) + bigEndian(UInt32(truncatingIfNeeded: s.st_size))
                withUnsafeBytes(of: id.id) { out.append(contentsOf: $0) }
                let name = Array(path.utf8)
                let flags = UInt16(min(name.count, 0xFFF))
                out.append(UInt8(flags >> 8)); out.append(UInt8(flags & 0xFF))
                out += name
                out += [UInt8](repeating: 0, count: (Self.entryFixedSize + name.count + 8) & ~7 - Self.entryFixedSize - name.count)
                pieces.append(.new(out))
            }
        }
        return pieces
    }

    /// Hands each stretch of the new file to `body` in order, then its SHA-1 checksum (OpenSSL's).
    private func forEachStretch(_ entries: [Entry], _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let context = EVP_MD_CTX_new() else { throw PlumbError("cannot hash the workspace index: no memory") }
        defer { EVP_MD_CTX_free(context) }
        EVP_DigestInit_ex(context, EVP_sha1(), nil)
        func emit(_ stretch: UnsafeRawBufferPointer) throws {
            EVP_DigestUpdate(context, stretch.baseAddress, stretch.count)
            try body(stretch)
        }
        for piece in pieces(entries) {
            switch piece {
            case .old(let range): try emit(UnsafeRawBufferPointer(rebasing: bytes[range]))
            case .new(let data): try data.withUnsafeBytes { try emit($0) }
            }
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        try digest.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[..<Int(length)])) }
    }

    /// The index file holding `entries`, with its checksum.
    func encoded(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        try? forEachStretch(entries) { out.append(contentsOf: $0) }
        return out
    }

    /// Writes `entries` as the index at `path`, as git does: into `index.lock` (created exclusively, so a
    /// concurrent git fails instead of being overwritten), then renamed over the index.
    func write(_ entries: [Entry], to path: String) throws {
        let lock = path + ".lock"
        let fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PlumbError("cannot write \(lock): \(errnoText())") }
        do {
            defer { close(fd) }
            try forEachStretch(entries) { stretch in
                var done = 0
                while done < stretch.count {
                    let n = Glibc.write(fd, stretch.baseAddress! + done, stretch.count - done)
                    guard n > 0 else { throw PlumbError("cannot write \(lock): \(errnoText())") }
                    done += n
                }
            }
        } catch {
            unlink(lock)
            throw error
        }
        guard rename(lock, path) == 0 else {
            let message = errnoText()
            unlink(lock)
            throw PlumbError("cannot write \(path): \(message)")
        }
    }
}
