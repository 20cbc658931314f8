import Dispatch
import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// Why the cache could not give back an object.
package enum CacheError: Error, Sendable, CustomStringConvertible {
    /// No object with this digest is in the cache.
    case missing(Digest)
    /// The object's bytes no longer hash to its name; it has been deleted so that it is rebuilt.
    case corrupt(Digest)

    package var description: String {
        switch self {
        case let .missing(d): return "object \(d.short) is not in the cache"
        case let .corrupt(d): return "object \(d.short) in the cache is corrupt (removed; it will be rebuilt)"
        }
    }
}

/// The content-addressed cache of stage outputs, logs and records (`.plumb/cache`).
///
/// Layout (see docs/decisions.md):
///
///     objects/ab/cdef…     file contents, named by the SHA-256 of their bytes (read-only; readable by
///                          group and others only if every file stored with these bytes was, see `objectMode`)
///     manifests/ab/cdef…   directory manifests (`DirectoryManifest.canonicalEncoding`), named by their SHA-256
///     fingerprints/ab/…    what a run with a fingerprint produced (`CachedOutcome` JSON), named by the fingerprint
///     tmp/                 objects being written; renamed into place once complete and fsync'ed
///
/// Every object is named by the SHA-256 of exactly the bytes it holds, so any object can be verified by
/// re-hashing it. Manifests live in their own folder rather than carrying a marker, so `isDirectory`
/// is one `access(2)` and a file whose bytes happen to form a manifest still has a file object.
///
/// Crash safety: an object appears under its final name only by `rename(2)` of a complete, fsync'ed
/// temporary file, so a kill at any moment leaves at worst a stray file in tmp/, which the next
/// `init` removes once it is an hour old (younger ones may belong to another running Plumb).
package final class Cache: ContentStore, Sendable {
    /// The cache's folder.
    package let root: URL
    /// The digester whose stat cache learns the digest of every file stored.
    package let digester: ContentDigester
    /// How many files and bytes went in and out by link, reflink and copy in this process.
    package let transfers = TransferTally()
    private let objects: String
    private let manifests: String
    private let tmp: String
    /// Whether this process writes files that have no write bit (root): then no inode is ever shared.
    private let writesReadOnlyFiles: Bool

    /// Opens (creating if needed) the cache at `root`, removing temporary files older than an hour.
    package init(root: URL, digester: ContentDigester) throws {
        self.root = root
        self.digester = digester
        objects = root.path + "/objects"
        manifests = root.path + "/manifests"
        let tmp = root.path + "/tmp"
        self.tmp = tmp
        let folders = [objects, manifests, tmp]
        try PlumbError.wrap("cannot open the cache \(root.path)") {
            for folder in folders {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
        }
        writesReadOnlyFiles = Self.probeWritesReadOnlyFiles(in: tmp)
        removeStaleTemporaryFiles(olderThan: 3600)
    }

    /// Asked once, of a read-only file of our own in tmp/: true for root and CAP_DAC_OVERRIDE (and, to be
    /// safe, when the probe cannot be made).
    private static func probeWritesReadOnlyFiles(in folder: String) -> Bool {
        let probe = "\(folder)/probe-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o400)
        guard fd >= 0 else { return true }
        close(fd)
        defer { unlink(probe) }
        return FileTransfer.writesReadOnlyFiles(probe)
    }

    // MARK: - Storing

    /// Stores a file or a directory (a manifest object plus one object per file) and returns its digest,
    /// the same as `digester.digest(of:)`. Each file is read once, to hash it where it is (the digest goes
    /// into the stat cache); bytes the cache already holds are then skipped, new ones go in by hard link
    /// (`shareable` files only, when safe: `shareInode`), reflink, or a copy in the kernel. A file the stat
    /// cache knows whose object exists is not read at all. An existing object is never rewritten.
    ///
    /// `shareable`: the caller hands the file over, read-only from now on (a stage's outputs), so the
    /// file itself may become the object; it is then made read-only and sealed (`FileTransfer.seal`).
    @discardableResult
    package func store(_ path: String, shareable: Bool) throws -> Digest {
        let absolute = StatCache.absolute(path)
        var s = stat()
        guard stat(absolute, &s) == 0 else { throw PlumbError("\(path) does not exist") }
        return try PlumbError.wrap("cannot store \(path) in the cache") {
            switch s.st_mode & S_IFMT {
            case S_IFREG:
                return try storeFile(absolute, shareable: shareable)
            case S_IFDIR:
                let scanned = try ContentDigester.scan(directory: absolute)
                let files = scanned.compactMap(\.fileAbsolutePath)
                let digests = try parallelMap(files.count) { try storeFile(files[$0], shareable: shareable) }
                let byFile = Dictionary(uniqueKeysWithValues: zip(files, digests))
                let manifest = ContentDigester.manifest(of: scanned) { byFile[$0]! }
                let encoding = manifest.canonicalEncoding
                let digest = SHA256Hasher.digest(encoding)
                // The manifest names the folder's files: as private as the folder.
                let mode = Self.objectMode(of: s.st_mode)
                if access(manifestPath(digest), F_OK) != 0 {
                    try writeObject(encoding, to: manifestPath(digest), mode: mode)
                } else {
                    Self.narrow(manifestPath(digest), to: mode)
                }
                return digest
            default:
                throw PlumbError("\(path) is neither a file nor a directory")
            }
        }
    }

    /// Stores bytes (a log, a record) as a file object.
    @discardableResult
    package func storeData(_ data: Data) throws -> Digest {
        let digest = SHA256Hasher.digest(data)
        if access(objectPath(digest), F_OK) != 0 {
            try PlumbError.wrap("cannot store data in the cache") { try writeObject(data, to: objectPath(digest), sealing: digest) }
        }
        return digest
    }

    private func storeFile(_ absolute: String, shareable: Bool) throws -> Digest {
        let statCache = digester.statCache
        if let known = statCache.cachedDigest(forFileAt: absolute), access(objectPath(known), F_OK) == 0 {
            var s = stat()
            if stat(absolute, &s) == 0 {
                Self.narrow(objectPath(known), to: Self.objectMode(of: s.st_mode))
                transfers.noteStored(.present, bytes: Int64(s.st_size))
            }
            return known
        }
        let source = open(absolute, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw PlumbError("cannot read \(absolute): \(errnoText())") }
        defer { close(source) }
        let started = StatCache.now()
        var sourceStat = stat()
        guard fstat(source, &sourceStat) == 0 else { throw PlumbError("cannot stat \(absolute): \(errnoText())") }
        var before = FileStamp(sourceStat)
        let mode = Self.objectMode(of: sourceStat.st_mode)
        let size = Int64(sourceStat.st_size)
        // Hashed where it is, before anything is written: bytes the cache already holds cost this one read.
        let digest = try SHA256Hasher.digest(descriptor: source, path: absolute)
        statCache.noteFileHashed()
        // Changed while read (something still writes it): copy it, hashing what is copied, as a snapshot.
        guard FileStamp.of(descriptor: source) == before else {
            guard lseek(source, 0, SEEK_SET) == 0 else { throw PlumbError("cannot read \(absolute): \(errnoText())") }
            return try storeCopying(source, path: absolute, mode: mode, size: size)
        }
        statCache.record(digest, stamp: before, hashedAt: started, forFileAt: absolute)
        let final = objectPath(digest)
        if access(final, F_OK) == 0 {
            Self.narrow(final, to: mode)
            transfers.noteStored(.present, bytes: size)
            return digest
        }
        try makeShard(final)
        if shareable, !writesReadOnlyFiles {
            if try shareInode(source, absolute, stat: sourceStat, mode: mode, digest: digest, final: final) {
                transfers.noteStored(.hardlink, bytes: size)
                return digest
            }
            // Not linked, but made read-only: that moved its ctime. What must not move is its content.
            if let now = FileStamp.of(descriptor: source), now.hasSameContentStamp(as: before) { before = now }
        }
        // An inode of its own in tmp/: a reflink where the file system has them, else a kernel copy.
        let (temporary, destination) = try createTemporary(mode: mode)
        var keep = false
        defer { if !keep { unlink(temporary) } }
        var how = Transfer.reflink
        do {
            defer { close(destination) }
            if !FileTransfer.clone(source, into: destination) {
                how = .copy
                try FileTransfer.copy(source, into: destination, path: absolute)
            }
            // The bytes placed must be the bytes hashed; a write since (a process the stage left) voids both.
            guard FileStamp.of(descriptor: source) == before else {
                guard lseek(source, 0, SEEK_SET) == 0 else { throw PlumbError("cannot read \(absolute): \(errnoText())") }
                return try storeCopying(source, path: absolute, mode: mode, size: size)
            }
            try FileTransfer.seal(destination, as: digest)
            guard fsync(destination) == 0 else { throw PlumbError("cannot fsync \(temporary): \(errnoText())") }
        }
        guard rename(temporary, final) == 0 else { throw PlumbError("cannot rename \(temporary) to \(final): \(errnoText())") }
        keep = true
        transfers.noteStored(how, bytes: size)
        return digest
    }

    /// Makes the file itself the object, by a hard link, when nothing can write it afterwards: it is made
    /// read-only here (its caller hands it over), and only then is it checked to be not executable (an
    /// object carries no execute bit), its inode's only name, open nowhere else (so no process the stage
    /// left can write it), and this process not one that writes read-only files anyway (root). Returns
    /// false, having changed nothing but its mode, when any of that fails.
    private func shareInode(_ fd: Int32, _ path: String, stat s: stat, mode: mode_t, digest: Digest, final: String) throws -> Bool {
        guard s.st_nlink == 1, s.st_mode & 0o111 == 0 else { return false }
        // Read-only first: whoever opens it from now on cannot write it; the lease then tells whether anyone had it open.
        guard fchmod(fd, mode) == 0, !FileTransfer.writesReadOnlyFiles(path), !FileTransfer.mayBeOpenElsewhere(fd) else { return false }
        guard fsync(fd) == 0 else { throw PlumbError("cannot fsync \(path): \(errnoText())") }
        // EXDEV (the cache on another file system), EMLINK, EPERM: an inode of its own instead. EEXIST:
        // another Plumb stored these bytes meanwhile, which is as good.
        guard link(path, final) == 0 || errno == EEXIST else { return false }
        try FileTransfer.seal(fd, as: digest)
        return true
    }

    /// Copies the file into a new object while hashing what is copied (for a file that is changing).
    private func storeCopying(_ source: Int32, path: String, mode: mode_t, size: Int64) throws -> Digest {
        let (temporary, destination) = try createTemporary(mode: mode)
        var keep = false
        defer { if !keep { unlink(temporary) } }
        let digest: Digest
        do {
            defer { close(destination) }
            digest = try Self.copyHashing(from: source, to: destination, path: path)
            digester.statCache.noteFileHashed()
            try FileTransfer.seal(destination, as: digest)
            guard fsync(destination) == 0 else { throw PlumbError("cannot fsync \(temporary): \(errnoText())") }
        }
        let final = objectPath(digest)
        if access(final, F_OK) == 0 {
            Self.narrow(final, to: mode)
            transfers.noteStored(.present, bytes: size)
            return digest
        }
        try makeShard(final)
        guard rename(temporary, final) == 0 else { throw PlumbError("cannot rename \(temporary) to \(final): \(errnoText())") }
        keep = true
        transfers.noteStored(.copy, bytes: size)
        return digest
    }

    // MARK: - Reading

    /// Whether the object is present, and for a directory every file object its manifest lists.
    /// Reads no file content (a directory's manifest is read to know its files).
    package func contains(_ digest: Digest) -> Bool {
        if access(manifestPath(digest), F_OK) == 0 {
            guard let data = FileManager.default.contents(atPath: manifestPath(digest)),
                  let manifest = try? DirectoryManifest(canonicalEncoding: data) else { return false }
            return manifest.entries.allSatisfy { e in e.digest.map { access(objectPath($0), F_OK) == 0 } ?? true }
        }
        return access(objectPath(digest), F_OK) == 0
    }

    /// Whether the digest names a directory (a manifest object).
    package func isDirectory(_ digest: Digest) -> Bool {
        access(manifestPath(digest), F_OK) == 0
    }

    /// The directory manifest named by `digest` (verified), or nil if `digest` is not a directory in the cache.
    package func manifest(_ digest: Digest) throws -> DirectoryManifest? {
        let path = manifestPath(digest)
        guard access(path, F_OK) == 0 else { return nil }
        let data = try readVerified(path: path, digest: digest)
        do { return try DirectoryManifest(canonicalEncoding: data) } catch {
            removeObject(at: path)
            throw CacheError.corrupt(digest)
        }
    }

    /// The bytes of a file object, verified against its digest.
    package func data(_ digest: Digest) throws -> Data {
        try readVerified(path: objectPath(digest), digest: digest)
    }

    /// Re-hashes the object (for a directory, the manifest and every file) and says whether all match.
    func verify(_ digest: Digest) -> Bool {
        if isDirectory(digest) {
            guard let data = FileManager.default.contents(atPath: manifestPath(digest)),
                  SHA256Hasher.digest(data) == digest,
                  let manifest = try? DirectoryManifest(canonicalEncoding: data) else { return false }
            let files = Array(Set(manifest.entries.compactMap(\.digest)))
            let results = (try? parallelMap(files.count) { i in
                (try? SHA256Hasher.digest(fileAt: self.objectPath(files[i]))) == files[i]
            }) ?? []
            return results.count == files.count && results.allSatisfy { $0 }
        }
        return (try? SHA256Hasher.digest(fileAt: objectPath(digest))) == digest
    }

    // MARK: - Materializing

    /// Recreates the file or directory named by `digest` at `path`, replacing whatever is there.
    ///
    /// A `.readOnly` file may be a hard link to the object, a `.writable` one never is: see `copyObject`.
    /// A file whose object is sealed is linked or reflinked without being read; any other is copied,
    /// every byte verified against its digest on the way: a corrupt object is deleted (so the stage that
    /// made it is rebuilt), `CacheError.corrupt` names it, and `path` is left as it was.
    /// A directory is assembled in a sibling folder and renamed into place.
    package func materialize(_ digest: Digest, at path: String, access: MaterializedAccess) throws {
        let target = StatCache.absolute(path)
        let parent = (target as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let staging = parent + "/.plumb-materialize-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        var done = false
        defer { if !done { try? FileManager.default.removeItem(atPath: staging) } }

        if let manifest = try manifest(digest) {
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
            var folders = Set<String>()
            for e in manifest.entries {
                var folder = (e.path as NSString).deletingLastPathComponent
                while !folder.isEmpty, folders.insert(folder).inserted {
                    folder = (folder as NSString).deletingLastPathComponent
                }
            }
            // Shorter paths first, so parents exist before children.
            for folder in folders.sorted(by: { $0.count < $1.count }) {
                try FileManager.default.createDirectory(atPath: staging + "/" + folder, withIntermediateDirectories: true)
            }
            for e in manifest.entries where e.symlink != nil {
                guard symlink(e.symlink!, staging + "/" + e.path) == 0 else {
                    throw PlumbError("cannot create link \(path)/\(e.path): \(errnoText())")
                }
            }
            let files = manifest.entries.filter { $0.symlink == nil }
            let results = try parallelMap(files.count) { i in
                let e = files[i]
                return Result { try copyObject(e.digest!, to: staging + "/" + e.path, executable: e.executable, access: access) }
            }
            // Two entries may share an object: when one copy finds it corrupt and deletes it, the other
            // sees it missing. Report the corruption, the cause.
            let errors = results.compactMap { r -> Error? in if case let .failure(e) = r { return e }; return nil }
            if let corrupt = errors.first(where: { if case CacheError.corrupt = $0 { return true }; return false }) {
                throw corrupt
            }
            if let first = errors.first { throw first }
        } else if Glibc.access(objectPath(digest), F_OK) == 0 {
            try copyObject(digest, to: staging, executable: false, access: access)
        } else {
            throw CacheError.missing(digest)
        }

        try removeItemIfPresent(target)
        guard rename(staging, target) == 0 else { throw PlumbError("cannot move \(staging) to \(target): \(errnoText())") }
        done = true
    }

    /// Puts a file object at `destination`, the cheapest safe way:
    ///
    /// - a hard link, for a `.readOnly`, non-executable file whose object is sealed, unless this process
    ///   writes read-only files anyway (root): the file is the object, without a write bit, so a stage
    ///   that opens it for writing fails (EACCES) instead of changing the cache, and nothing here ever
    ///   chmods it (the object's mode would change with it);
    /// - a reflink of a sealed object: an inode of its own, writable, sharing the blocks copy-on-write;
    /// - otherwise a copy, hashed as it goes; a mismatch deletes the object, and a match seals it.
    ///
    /// Sealed objects are not read again when linked: their bytes matched their name when sealed, and
    /// any write since would have moved the seal (`FileTransfer.seal`). A copy is writable by its owner,
    /// readable by whom the object is, and executable by them when the manifest says so.
    private func copyObject(_ digest: Digest, to destination: String, executable: Bool, access: MaterializedAccess) throws {
        let objectPath = objectPath(digest)
        let source = open(objectPath, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else {
            if errno == ENOENT { throw CacheError.missing(digest) }
            throw PlumbError("cannot read \(objectPath): \(errnoText())")
        }
        defer { close(source) }
        var objectStat = stat()
        guard fstat(source, &objectStat) == 0 else { throw PlumbError("cannot stat \(objectPath): \(errnoText())") }
        let size = Int64(objectStat.st_size)
        let sealed = FileTransfer.isSealed(objectStat, as: digest)
        // EXDEV (another file system), EMLINK (too many links): an inode of its own below.
        if sealed, access == .readOnly, !executable, !writesReadOnlyFiles, link(objectPath, destination) == 0 {
            transfers.noteMaterialized(.hardlink, bytes: size)
            return
        }
        let mode = Self.materializedMode(object: objectStat.st_mode, executable: executable)
        let out = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard out >= 0 else { throw PlumbError("cannot create \(destination): \(errnoText())") }
        defer { close(out) }
        fchmod(out, mode) // the umask must not strip an executable bit the manifest recorded
        if sealed, FileTransfer.clone(source, into: out) {
            transfers.noteMaterialized(.reflink, bytes: size)
            return
        }
        let actual = try Self.copyHashing(from: source, to: out, path: objectPath)
        if actual != digest {
            removeObject(at: objectPath)
            throw CacheError.corrupt(digest)
        }
        if !sealed {
            // Verified just now: sealed (and read-only again, if something had made it writable), so the
            // next use may share it. The object is no file's hard link yet: only sealed objects are linked.
            if objectStat.st_mode & 0o222 != 0 { fchmod(source, objectStat.st_mode & 0o7555) }
            try? FileTransfer.seal(source, as: digest)
        }
        transfers.noteMaterialized(.copy, bytes: size)
    }

    // MARK: - Results of earlier runs

    func outcomePath(_ fingerprint: Digest) -> String {
        root.path + "/fingerprints/\(fingerprint.hex.prefix(2))/\(fingerprint.hex).json"
    }

    package func outcome(for fingerprint: Digest) -> CachedOutcome? {
        guard let data = FileManager.default.contents(atPath: outcomePath(fingerprint)) else { return nil }
        return try? RecordJSON.decode(CachedOutcome.self, from: data)
    }

    /// AtomicFile creates the shard folder.
    package func remember(_ outcome: CachedOutcome, for fingerprint: Digest) throws {
        try AtomicFile.write(try RecordJSON.encode(outcome), to: outcomePath(fingerprint))
    }

    // MARK: - Housekeeping

    package func inventory() -> StoreInventory {
        let fm = FileManager.default
        var items: [StoreInventory.Item] = []
        for (kind, base) in [(StoreInventory.Kind.file, objects), (.manifest, manifests), (.outcome, root.path + "/fingerprints")] {
            for shard in ((try? fm.contentsOfDirectory(atPath: base)) ?? []).sorted() {
                for rest in ((try? fm.contentsOfDirectory(atPath: base + "/" + shard)) ?? []).sorted() {
                    // Only names that are digests: anything else in these folders is not Plumb's.
                    let name = kind == .outcome ? (rest.hasSuffix(".json") ? String(rest.dropLast(5)) : "") : shard + rest
                    guard let digest = Digest(hex: name), kind != .outcome || name.hasPrefix(shard) else { continue }
                    var s = stat()
                    let bytes = stat(base + "/" + shard + "/" + rest, &s) == 0 ? Int64(s.st_size) : 0
                    items.append(.init(kind: kind, digest: digest, bytes: bytes))
                }
            }
        }
        return StoreInventory(items: items)
    }

    /// What the cache at `root` takes on disk, read without opening it (no folder is created):
    /// `plumb gc` and `plumb doctor` report it.
    package static func usage(at root: String) -> CacheUsage {
        var usage = CacheUsage()
        for base in ["objects", "manifests", "fingerprints"] {
            let folder = root + "/" + base
            for shard in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + shard)) ?? [] {
                    var s = stat()
                    guard lstat(folder + "/" + shard + "/" + name, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG else { continue }
                    usage.files += 1
                    usage.bytes += Int64(s.st_size)
                    // Another name for the same inode: a workspace's input or output, not a second copy.
                    if s.st_nlink > 1 { usage.linkedBytes += Int64(s.st_size) }
                }
            }
        }
        return usage
    }

    package func remove(_ item: StoreInventory.Item) throws {
        let path = switch item.kind {
        case .file: objectPath(item.digest)
        case .manifest: manifestPath(item.digest)
        case .outcome: outcomePath(item.digest)
        }
        // The path is built from a `Digest`, which holds only hex: it always lies in the cache.
        guard unlink(path) == 0 || errno == ENOENT else { throw PlumbError("cannot remove \(path): \(errnoText())") }
    }

    // MARK: - Internals

    func objectPath(_ d: Digest) -> String { "\(objects)/\(d.hex.prefix(2))/\(d.hex.dropFirst(2))" }
    func manifestPath(_ d: Digest) -> String { "\(manifests)/\(d.hex.prefix(2))/\(d.hex.dropFirst(2))" }

    /// Deletes a corrupt object. Its path comes from a `Digest`, which holds only hex, so it always
    /// lies in objects/ or manifests/; checked again here because this is the cache's one unlink of
    /// an object, and the cache must never remove anything that is not its own.
    private func removeObject(at path: String) {
        let name = path.split(separator: "/").suffix(2)
        guard path.hasPrefix(objects + "/") || path.hasPrefix(manifests + "/"), name.count == 2,
              Digest.isValid(name.joined()) else { return }
        unlink(path)
    }

    private func readVerified(path: String, digest: Digest) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            if access(path, F_OK) != 0 { throw CacheError.missing(digest) }
            throw PlumbError("cannot read \(path)")
        }
        guard SHA256Hasher.digest(data) == digest else {
            removeObject(at: path)
            throw CacheError.corrupt(digest)
        }
        return data
    }

    /// Writes an object: temporary file in tmp/, fsync, rename to its final name.
    private func writeObject(_ data: Data, to final: String, mode: mode_t = 0o444, sealing file: Digest? = nil) throws {
        let (temporary, fd) = try createTemporary(mode: mode)
        var keep = false
        defer { if !keep { unlink(temporary) } }
        do {
            defer { close(fd) }
            try AtomicFile.writeAll(fd, data, path: temporary)
            if let file { try FileTransfer.seal(fd, as: file) }
            guard fsync(fd) == 0 else { throw PlumbError("cannot fsync \(temporary): \(errnoText())") }
        }
        try makeShard(final)
        guard rename(temporary, final) == 0 else { throw PlumbError("cannot rename \(temporary) to \(final): \(errnoText())") }
        keep = true
    }

    /// A new file in tmp/, read-only once renamed (objects are immutable; no write bit catches accidental
    /// writes). Created with its final `mode`, so a private file's bytes are never readable by others, even
    /// while being copied.
    private func createTemporary(mode: mode_t) throws -> (String, Int32) {
        let path = "\(tmp)/\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw PlumbError("cannot create \(path): \(errnoText())") }
        fchmod(fd, mode) // the umask may only have narrowed it; keep exactly the mode asked for
        return (path, fd)
    }

    // MARK: - Modes

    /// The mode of an object stored from a file (or folder) with `mode`: read-only, readable by the owner,
    /// and by group and others only where the source was. Digests do not depend on modes (as in git), so
    /// the executable bit lives in manifests, not here.
    static func objectMode(of mode: mode_t) -> mode_t { 0o400 | (mode & 0o044) }

    /// The mode of a file materialised from an object with `object`'s mode: writable by its owner (it is
    /// a copy), readable as the object is, and executable by those readers when the manifest says so.
    static func materializedMode(object: mode_t, executable: Bool) -> mode_t {
        let readers = object & 0o044
        return 0o600 | readers | (executable ? 0o100 | (readers >> 2) : 0)
    }

    /// One object serves every file with its bytes: when a more private file is stored with the same
    /// bytes, the object loses the read bits that file lacks (never gains any), so storing a 0600 file
    /// never leaves its bytes world-readable. A failure (an object another user owns) changes nothing.
    static func narrow(_ path: String, to mode: mode_t) {
        var s = stat()
        guard stat(path, &s) == 0 else { return }
        let current = s.st_mode & 0o777
        if current & ~mode != 0 { chmod(path, current & mode) }
    }

    private func makeShard(_ final: String) throws {
        let shard = (final as NSString).deletingLastPathComponent
        if mkdir(shard, 0o755) != 0 && errno != EEXIST {
            throw PlumbError("cannot create \(shard): \(errnoText())")
        }
    }

    private func removeStaleTemporaryFiles(olderThan seconds: Double) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: tmp) else { return }
        let cutoff = StatCache.now() - Int64(seconds * 1e9)
        for name in names {
            let path = tmp + "/" + name
            guard let stamp = FileStamp.of(path: path), stamp.mtimeNanoseconds < cutoff else { continue }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    private func removeItemIfPresent(_ path: String) throws {
        var s = stat()
        guard lstat(path, &s) == 0 else { return }
        if (s.st_mode & S_IFMT) == S_IFDIR {
            try FileManager.default.removeItem(atPath: path)
        } else if unlink(path) != 0 {
            throw PlumbError("cannot remove \(path): \(errnoText())")
        }
    }

    /// Copies `source` to `destination` with read/write in 1 MiB chunks, returning the SHA-256 of the bytes:
    /// for copies that must be hashed as they are made (a changing file, an object not yet sealed).
    package static func copyHashing(from source: Int32, to destination: Int32, path: String) throws -> Digest {
        try SHA256Hasher.digest(descriptor: source, path: path) { chunk in
            try AtomicFile.writeAll(destination, chunk, path: path)
        }
    }
}

/// How much a cache holds: its files (objects, manifests, remembered results) and their bytes, and
/// how many of those bytes are also files in workspaces by hard link (counted once on disk).
/// Reflinked blocks shared with workspaces are counted here too, as `du` counts them.
package struct CacheUsage: Sendable, Equatable, Codable {
    package var files = 0
    package var bytes: Int64 = 0
    package var linkedBytes: Int64 = 0

    package init() {}

    /// `2.1 GB in 3 files (2.1 GB of it hard-linked into workspaces)`.
    package var summary: String {
        "\(formatBytes(bytes)) in \(files) file\(files == 1 ? "" : "s")"
            + (linkedBytes > 0 ? " (\(formatBytes(linkedBytes)) of it hard-linked into workspaces)" : "")
    }
}
