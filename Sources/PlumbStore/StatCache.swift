import Synchronization
import Dispatch
import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// What `stat(2)` says about a file, reduced to the fields that tell whether its content may have changed.
///
/// Two equal stamps mean "same file, not written since" as far as the kernel reports; the inode and the
/// device catch a file replaced by rename (editors, `git checkout`), ctime catches a write whose mtime
/// was set back (`touch -r`, `rsync -t`).
package struct FileStamp: Sendable, Hashable {
    package var device: UInt64
    var inode: UInt64
    package var size: Int64
    var mtimeNanoseconds: Int64
    var ctimeNanoseconds: Int64

    package init(_ s: stat) {
        device = UInt64(s.st_dev)
        inode = UInt64(s.st_ino)
        size = Int64(s.st_size)
        mtimeNanoseconds = Int64(s.st_mtim.tv_sec) * 1_000_000_000 + Int64(s.st_mtim.tv_nsec)
        ctimeNanoseconds = Int64(s.st_ctim.tv_sec) * 1_000_000_000 + Int64(s.st_ctim.tv_nsec)
    }

    package init(device: UInt64, inode: UInt64, size: Int64, mtimeNanoseconds: Int64, ctimeNanoseconds: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeNanoseconds = ctimeNanoseconds
    }

    /// The stamp of the file at `path` (symbolic links followed, as `open` would), or nil if it cannot be stat'ed.
    package static func of(path: String) -> FileStamp? {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        return FileStamp(s)
    }

    /// The stamp of an open file.
    package static func of(descriptor fd: Int32) -> FileStamp? {
        var s = stat()
        guard fstat(fd, &s) == 0 else { return nil }
        return FileStamp(s)
    }

    /// This stamp with the write bits of `mode` in place of its ctime (kept negative, so it never equals a
    /// time): for a file whose ctime moves with links made elsewhere and whose read bits may narrow
    /// (`Cache.narrow`), where what matters is that it stays unwritable.
    package func keepingWriteBits(of mode: mode_t) -> FileStamp {
        FileStamp(device: device, inode: inode, size: size, mtimeNanoseconds: mtimeNanoseconds, ctimeNanoseconds: -1 - Int64(mode & 0o222))
    }

    /// Whether the two stamps agree on everything a write changes (the same inode, size and mtime): for a
    /// file whose ctime we moved ourselves (a chmod).
    package func hasSameContentStamp(as other: FileStamp) -> Bool {
        device == other.device && inode == other.inode && size == other.size && mtimeNanoseconds == other.mtimeNanoseconds
    }

    /// The later of mtime and ctime: the last moment the content (or its metadata) was touched.
    var lastChangeNanoseconds: Int64 { max(mtimeNanoseconds, ctimeNanoseconds) }
}

/// Remembers the SHA-256 of files by path and stat stamp, so that an unchanged file is never read twice
/// (DESIGN: "a stat cache (inode, size, mtime) so that an unchanged file is never read twice").
///
/// An entry is used only if the file's device, inode, size, mtime and ctime (nanoseconds) are all as
/// recorded, and the file had not changed within `racyWindow` (2 s) before it was hashed. The second
/// rule answers git's "racy clean" problem: a file written in the same timestamp tick as it was hashed
/// could be written again without its stamp changing, so such an entry is re-hashed next time (which
/// refreshes the hash time, after which it is trusted). 2 s covers coarse file systems (FAT, some NFS).
///
/// Thread-safe (hence `@unchecked Sendable`): lookups and records take a lock; hashing happens outside
/// it, so many threads hash at once (StatCacheTests hashes from many threads).
/// Persisted by `save()` to one binary file, replaced atomically; an unreadable or corrupt file is ignored.
package final class StatCache: @unchecked Sendable {
    struct Entry: Hashable {
        var stamp: FileStamp
        /// Wall-clock time at which reading began, in nanoseconds since 1970.
        var hashedAt: Int64
        var digest: Digest
    }

    /// Where the cache is persisted.
    package let file: URL
    let racyWindowNanoseconds: Int64
    private let lock = NSLock()
    private let loaded = DispatchGroup()
    private var entries: [String: Entry] = [:]
    private var dirty = false
    /// How many files this cache has read to hash them; tests use it to prove a hit reads nothing.
    private(set) var filesHashed = 0
    private var openedFolders: FolderLog?

    /// The records of folder walks (`statcache.folders` beside `file`), opened on first use.
    var folders: FolderLog {
        lock.withLock {
            if let openedFolders { return openedFolders }
            let log = FolderLog(path: file.path + ".folders")
            openedFolders = log
            return log
        }
    }

    /// Opens the cache persisted at `file` (or an empty one if it does not exist or cannot be read).
    package convenience init(file: URL) {
        self.init(file: file, racyWindow: 2)
    }

    /// `racyWindow` in seconds; tests shrink it to prove hits without waiting for files to age.
    init(file: URL, racyWindow: Double) {
        self.file = file
        racyWindowNanoseconds = Int64(racyWindow * 1e9)
        // Loaded on another core while the caller reads the commit and the spec (10,000 entries take a few
        // milliseconds); every use of the entries waits for it.
        Self.pendingLoads.withLock { $0.append(loaded) }
        DispatchQueue.global().async(group: loaded) { [self] in
            if let data = try? Data(contentsOf: file), let decoded = Self.decode(data) {
                lock.withLock { entries = decoded }
            }
        }
    }

    /// Loads started by every cache in this process. A process must not exit while one runs:
    /// exit tears down what the loading thread still uses (seen as a rare crash on exit).
    private static let pendingLoads = Mutex<[DispatchGroup]>([])

    /// Waits for every background load to finish; the command line calls it before exiting.
    package static func settle() {
        for group in pendingLoads.withLock({ $0 }) { group.wait() }
    }

    /// Runs `body` under the lock, once the persisted entries are loaded.
    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        loaded.wait()
        return try lock.withLock(body)
    }

    /// How many entries the cache holds.
    package var count: Int { locked { entries.count } }

    /// The SHA-256 of the file's content: from the cache when the file is unchanged, else read and recorded.
    /// `stamp` is the file's stamp if the caller just took it (a directory scan), sparing a second stat.
    package func digest(ofFileAt path: String, stamp: FileStamp? = nil) throws -> Digest {
        let key = Self.absolute(path)
        if let hit = cachedDigest(forFileAt: key, stamp: stamp) { return hit }
        let read = try Self.hash(fileAt: key, followingLinks: true)
        guard let before = read.stamp else { throw PlumbError("cannot stat \(key): \(String(cString: strerror(errno)))") }
        // A file written while it was read has a digest of neither version: keep it out of the cache.
        if read.hashedAt != 0 { record(read.digest, stamp: before, hashedAt: read.hashedAt, forFileAt: key) }
        locked { filesHashed += 1 }
        return read.digest
    }

    /// Reads and hashes one regular file: its digest, the stamp it had before reading and the time
    /// reading began — 0 (never to be trusted) when the file changed while it was read.
    static func hash(fileAt path: String, followingLinks: Bool) throws -> (digest: Digest, stamp: FileStamp?, hashedAt: Int64) {
        // O_NONBLOCK: a path swapped for a FIFO after it was checked must not block the open (nor, with
        // O_NOFOLLOW, be a link followed); the descriptor itself is then checked, so only a regular
        // file of a real file system is read.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (followingLinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { throw PlumbError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        if case let .unsupported(what) = DiskEntryKind.of(descriptor: fd) {
            throw PlumbError("\(path) is \(what); only regular files are hashed")
        }
        let started = now()
        let before = FileStamp.of(descriptor: fd)
        let digest = try SHA256Hasher.digest(descriptor: fd, path: path)
        let after = FileStamp.of(descriptor: fd)
        return (digest, before, before != nil && after == before ? started : 0)
    }

    /// The cached digest if the file at `path` is unchanged since it was hashed (and not racily so), else nil.
    /// Reads no content.
    func cachedDigest(forFileAt path: String, stamp known: FileStamp? = nil) -> Digest? {
        let key = Self.absolute(path)
        guard let stamp = known ?? FileStamp.of(path: key) else { return nil }
        return locked {
            guard let entry = entries[key], entry.stamp == stamp,
                  entry.stamp.lastChangeNanoseconds < entry.hashedAt - racyWindowNanoseconds
            else { return nil }
            return entry.digest
        }
    }

    /// `cachedDigest(forFileAt:stamp:)` for many files under one lock; stamps not given are taken first.
    func cachedDigests(_ files: [(path: String, stamp: FileStamp?)]) -> [Digest?] {
        let keyed = files.map { f -> (String, FileStamp?) in
            let key = Self.absolute(f.path)
            return (key, f.stamp ?? FileStamp.of(path: key))
        }
        return locked {
            keyed.map { key, stamp in
                guard let stamp, let entry = entries[key], entry.stamp == stamp,
                      entry.stamp.lastChangeNanoseconds < entry.hashedAt - racyWindowNanoseconds
                else { return nil }
                return entry.digest
            }
        }
    }

    /// Records a digest the caller computed for the file as it is now (say, while copying it into the cache),
    /// so that it is not hashed again. The caller vouches that the file has not changed since it was read.
    package func record(_ digest: Digest, forFileAt path: String) {
        let key = Self.absolute(path)
        guard let stamp = FileStamp.of(path: key) else { return }
        record(digest, stamp: stamp, hashedAt: Self.now(), forFileAt: key)
    }

    /// Records a digest with the stamp taken before reading and the time reading began: the exact form,
    /// for callers that hashed the file themselves (the cache's copy-while-hashing).
    package func record(_ digest: Digest, stamp: FileStamp, hashedAt: Int64, forFileAt path: String) {
        let key = Self.absolute(path)
        locked {
            let entry = Entry(stamp: stamp, hashedAt: hashedAt, digest: digest)
            if entries[key] != entry {
                entries[key] = entry
                dirty = true
            }
        }
    }

    /// Counts a file read by a caller that hashed it on its own (copy-while-hashing), for the test counter.
    func noteFileHashed() { noteFilesHashed(1) }
    func noteFilesHashed(_ n: Int) { if n > 0 { locked { filesHashed += n } } }

    /// A trusted per-file entry for a file a folder walk did not find in its folder's record: a digest
    /// `Cache.store` recorded while copying an output, or a cache written before folder records existed.
    /// Left in place, since the cache's own lookups go through this table.
    func fileEntry(forFileAt path: String, stamp: FileStamp) -> (digest: Digest, hashedAt: Int64)? {
        locked {
            guard let entry = entries[path], entry.stamp == stamp,
                  entry.stamp.lastChangeNanoseconds < entry.hashedAt - racyWindowNanoseconds
            else { return nil }
            return (entry.digest, entry.hashedAt)
        }
    }

    /// Writes the cache to `file` atomically (temporary file, fsync, rename), dropping entries of files
    /// that no longer exist. Does nothing if nothing changed.
    package func save() throws {
        let folderLog = lock.withLock { openedFolders }
        try PlumbError.wrap("cannot save the stat cache \(file.path).folders") { try folderLog?.save() }
        let snapshot: [String: Entry]? = locked {
            guard dirty else { return nil }
            return entries
        }
        guard var snapshot else { return }
        // Workspaces come and go; their entries would otherwise accumulate forever.
        for key in snapshot.keys where access(key, F_OK) != 0 { snapshot[key] = nil }
        try PlumbError.wrap("cannot save the stat cache \(file.path)") {
            try AtomicFile.write(Self.encode(snapshot), to: file.path)
        }
        locked { dirty = false }
    }

    // MARK: - Binary format
    //
    // "PLUMBSC1", UInt32 entry count, then per entry: UInt32 path length, path bytes, device, inode,
    // size, mtime, ctime, hashedAt (8 bytes each, little endian), 32 digest bytes; then the SHA-256 of
    // everything before it (32 bytes), so a torn or corrupted file is recognised and ignored.

    static let magic = Array("PLUMBSC1".utf8)

    static func encode(_ entries: [String: Entry]) -> Data {
        var out = [UInt8]()
        out.reserveCapacity(entries.count * 128 + 64)
        out += magic
        append(UInt32(entries.count), to: &out)
        for key in entries.keys.sorted() {
            let e = entries[key]!
            let path = Array(key.utf8)
            append(UInt32(path.count), to: &out)
            out += path
            append(e.stamp.device, to: &out)
            append(e.stamp.inode, to: &out)
            append(UInt64(bitPattern: e.stamp.size), to: &out)
            append(UInt64(bitPattern: e.stamp.mtimeNanoseconds), to: &out)
            append(UInt64(bitPattern: e.stamp.ctimeNanoseconds), to: &out)
            append(UInt64(bitPattern: e.hashedAt), to: &out)
            out += e.digest.bytes
        }
        out += SHA256Hasher.digest(Data(out)).bytes
        return Data(out)
    }

    /// How many entries a persisted cache file holds, or nil when it is not one: the decoder that
    /// loading uses, for the fuzz target (the file lives in `.plumb/`, which anything on the machine can write).
    package static func decodedEntryCount(_ data: Data) -> Int? { decode(data)?.count }

    static func decode(_ data: Data) -> [String: Entry]? {
        // Reads straight from the bytes (no per-field closures or copies): loading the stat cache of
        // 10,000 files is on the path of every plan.
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [String: Entry]? in
            guard raw.count >= magic.count + 4 + 32, raw.prefix(magic.count).elementsEqual(magic) else { return nil }
            let end = raw.count - 32
            let body = UnsafeRawBufferPointer(rebasing: raw[0..<end])
            guard SHA256Hasher.digest(body).elementsEqual(raw[end...]) else { return nil }
            var at = magic.count
            func u32() -> UInt32? {
                guard at + 4 <= end else { return nil }
                defer { at += 4 }
                return UInt32(littleEndian: body.loadUnaligned(fromByteOffset: at, as: UInt32.self))
            }
            func u64() -> UInt64 {
                defer { at += 8 }
                return UInt64(littleEndian: body.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            }
            guard let count = u32() else { return nil }
            var result: [String: Entry] = [:]
            // The count is read from the file: reserve only what the remaining bytes can hold (an entry
            // takes at least 84), or a damaged count would ask for gigabytes before the loop noticed.
            result.reserveCapacity(min(Int(count), (end - at) / (4 + 6 * 8 + 32)))
            for _ in 0..<count {
                guard let length = u32().map(Int.init), at + length + 6 * 8 + 32 <= end else { return nil }
                let path = String(decoding: UnsafeRawBufferPointer(rebasing: body[at..<(at + length)]), as: UTF8.self)
                at += length
                let dev = u64(), ino = u64(), size = u64(), mtime = u64(), ctime = u64(), hashedAt = u64()
                let digest = Digest(bytes: UnsafeRawBufferPointer(rebasing: body[at..<(at + 32)]))
                at += 32
                let stamp = FileStamp(device: dev, inode: ino, size: Int64(bitPattern: size),
                                      mtimeNanoseconds: Int64(bitPattern: mtime), ctimeNanoseconds: Int64(bitPattern: ctime))
                result[path] = Entry(stamp: stamp, hashedAt: Int64(bitPattern: hashedAt), digest: digest)
            }
            return at == end ? result : nil
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }

    // MARK: - Helpers

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }

    /// Wall-clock nanoseconds: comparable with file timestamps, which the kernel takes from the same clock.
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

extension Digest {
    /// The 32 raw bytes (for compact binary files); empty if the hex is malformed.
    var bytes: [UInt8] {
        var out = [UInt8](); out.reserveCapacity(32)
        var high: UInt8? = nil
        for c in hex.utf8 {
            let v: UInt8
            switch c {
            case 48...57: v = c - 48
            case 97...102: v = c - 87
            case 65...70: v = c - 55
            default: return []
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return out
    }
}
