import Synchronization
import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// The stat cache of folder walks, one record per folder: its entries in manifest order, each with the
/// stamp and digest that let the next walk trust it, and the folder's tree digest (see `FolderTree`).
///
/// Persisted as an append log (`statcache.folders` beside the stat cache): a plan that changed one file
/// of a million appends the one record of its folder and those above it, instead of rewriting the cache.
/// The file is memory-mapped and indexed by folder path only (a thousand keys for a million files), so a
/// record's entries are read, and checked, only when its folder is walked. When superseded records
/// outweigh live ones, `save()` rewrites the live ones atomically (dropping folders that are gone).
///
/// Untrusted like every file in `.plumb/`: each record carries a checksum, checked when it is read; a
/// record that fails it, or a torn tail, is ignored (the folder is then hashed again, never trusted).
final class FolderLog: @unchecked Sendable {
    /// Where the log lives.
    let path: String
    private let mapped: UnsafeRawBufferPointer?
    /// Offset and length of the latest record body of each folder in `mapped`.
    private let index: [String: Range<Int>]
    private let liveBytes: Int
    /// Whether the file ended on a frame boundary; appending after a torn frame would hide what follows.
    private let sound: Bool
    /// Records made by this process, not yet saved (body bytes, the same form as on disk).
    private let pending = Mutex<[String: [UInt8]]>([:])
    /// Folders whose mapped record passed its checksum: a plan reads a record up to three times
    /// (walk, manifest stream, root lookup) and should not hash it each time.
    private let verified = Mutex<Set<String>>([])

    static let magic = Array("PLUMBFL1".utf8)
    /// A record's frame: UInt32 body length before it, 8 checksum bytes (SHA-256's first) after it.
    static let frameOverhead = 4 + 8

    init(path: String) {
        self.path = path
        var mapped: UnsafeRawBufferPointer?
        var index: [String: Range<Int>] = [:]
        var live = 0
        var sound = false
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        var s = stat()
        if fd >= 0, fstat(fd, &s) == 0, s.st_size >= Self.magic.count,
           let base = mmap(nil, Int(s.st_size), PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED {
            let raw = UnsafeRawBufferPointer(start: base, count: Int(s.st_size))
            if raw.prefix(Self.magic.count).elementsEqual(Self.magic) {
                mapped = raw
                var at = Self.magic.count
                // Reads only each frame's length and folder path; a frame that runs past the end is a torn
                // append, and nothing after it is trusted.
                while at + 8 <= raw.count {
                    let length = Int(raw.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
                    let body = at + 4
                    guard length >= 4, body + length + 8 <= raw.count else { break }
                    let pathLength = Int(raw.loadUnaligned(fromByteOffset: body, as: UInt32.self).littleEndian)
                    guard 4 + pathLength <= length else { break }
                    let folder = String(decoding: UnsafeRawBufferPointer(rebasing: raw[(body + 4)..<(body + 4 + pathLength)]), as: UTF8.self)
                    if let old = index[folder] { live -= old.count }
                    index[folder] = body..<(body + length)
                    live += length
                    at = body + length + 8
                }
                sound = at == raw.count
            } else {
                munmap(base, Int(s.st_size))
            }
        }
        if fd >= 0 { close(fd) }
        self.mapped = mapped
        self.index = index
        self.liveBytes = live
        self.sound = sound
    }

    deinit {
        if let mapped { munmap(UnsafeMutableRawPointer(mutating: mapped.baseAddress), mapped.count) }
    }

    /// Calls `body` with the latest record of `folder` (this process's own first), or with nil when there
    /// is none or it fails its checksum.
    func withRecord<T>(of folder: String, _ body: (FolderRecord?) throws -> T) rethrows -> T {
        if let own = pending.withLock({ $0[folder] }) {
            return try own.withUnsafeBytes { try body(FolderRecord(body: $0)) }
        }
        guard let bytes = mappedBody(of: folder) else { return try body(nil) }
        return try body(FolderRecord(body: bytes))
    }

    /// The mapped record body of `folder` if it passes its checksum (checked once per process).
    private func mappedBody(of folder: String) -> UnsafeRawBufferPointer? {
        guard let mapped, let range = index[folder] else { return nil }
        let bytes = UnsafeRawBufferPointer(rebasing: mapped[range])
        if !verified.withLock({ $0.contains(folder) }) {
            let sum = UnsafeRawBufferPointer(rebasing: mapped[range.upperBound..<(range.upperBound + 8)])
            guard SHA256Hasher.digest(bytes).prefix(8).elementsEqual(sum) else { return nil }
            verified.withLock { _ = $0.insert(folder) }
        }
        return bytes
    }

    /// Keeps `record` (an encoded body) as the latest of its folder, for this process and the next save.
    func update(folder: String, record: [UInt8]) {
        pending.withLock { $0[folder] = record }
    }

    /// Appends this process's records to the log in one write, or rewrites the log with only live
    /// records when superseded ones would outweigh them. Does nothing when nothing changed.
    func save() throws {
        let own = pending.withLock { $0 }
        guard !own.isEmpty else { return }
        var appended = [UInt8]()
        for folder in own.keys.sorted() { Self.frame(own[folder]!, into: &appended) }
        let superseded = own.keys.reduce(0) { $0 + (index[$1]?.count ?? 0) }
        let dead = (mapped?.count ?? 0) - Self.magic.count - liveBytes - index.count * Self.frameOverhead
        if !sound || dead + superseded > max(liveBytes - superseded, 1 << 20) {
            try compact(own)
        } else {
            let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
            guard fd >= 0 else { throw PlumbError("cannot open \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            // One write: a crash leaves at most a torn last frame, which loading ignores.
            try appended.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: path) }
        }
        pending.withLock { saved in for key in own.keys { saved[key] = nil } }
    }

    /// Rewrites the log with the latest record of every folder that still exists.
    private func compact(_ own: [String: [UInt8]]) throws {
        var out = Self.magic
        var folders = Set(own.keys)
        for folder in index.keys where own[folder] == nil && access(folder, F_OK) == 0 { folders.insert(folder) }
        for folder in folders.sorted() {
            if let body = own[folder] { Self.frame(body, into: &out); continue }
            guard let bytes = mappedBody(of: folder) else { continue }
            Self.frame(Array(bytes), into: &out)
        }
        try AtomicFile.write(Data(out), to: path)
    }

    private static func frame(_ body: [UInt8], into out: inout [UInt8]) {
        withUnsafeBytes(of: UInt32(body.count).littleEndian) { out += $0 }
        out += body
        out += body.withUnsafeBytes { SHA256Hasher.digest($0) }.prefix(8)
    }
}
