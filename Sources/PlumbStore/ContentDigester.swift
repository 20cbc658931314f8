import Dispatch
import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// What a directory holds, in a canonical form whose SHA-256 is the directory's digest.
///
/// Only regular files and symbolic links are entries: empty folders carry no data a stage could read
/// and would make digests depend on leftovers, so they are ignored. A symbolic link is recorded by the
/// text of its target and never followed (a link out of an output folder must not pull the world in).
/// Other kinds of file (sockets, fifos, devices) are skipped.
///
/// A manifest read back from the cache is untrusted like a record (the cache is a folder anyone on
/// the machine, or a copied-in cache, can fill): `init(canonicalEncoding:)` refuses entry paths that
/// are absolute, not normalised or climb out through `..`, entries out of order or repeated, and a
/// file or link that is also another entry's folder, so materializing one never writes outside it.
package struct DirectoryManifest: Sendable, Hashable {
    /// The entries, sorted by path (byte order of UTF-8, the same on every machine).
    package var entries: [Entry]

    /// One file or symbolic link, by its path relative to the directory.
    package struct Entry: Sendable, Hashable {
        /// Relative path with `/` separators, no leading `./`.
        package var path: String
        /// The SHA-256 of a regular file's content; nil for a symbolic link.
        package var digest: Digest?
        /// Whether the owner may execute the file (the only mode bit that changes what a stage can do).
        package var executable: Bool
        /// The target text of a symbolic link; nil for a regular file.
        package var symlink: String?

        package init(path: String, digest: Digest?, executable: Bool, symlink: String?) {
            self.path = path
            self.digest = digest
            self.executable = executable
            self.symlink = symlink
        }
    }

    /// A manifest of `entries`, sorted here so every manifest is canonical.
    package init(entries: [Entry]) {
        // A directory scan already yields this order; checking it is linear.
        let inOrder = zip(entries, entries.dropFirst()).allSatisfy { utf8Precedes($0.path, $1.path) }
        self.entries = inOrder ? entries : entries.sorted { utf8Precedes($0.path, $1.path) }
    }

    /// The directory's digest: SHA-256 of `canonicalEncoding`.
    package var digest: Digest {
        let h = SHA256Hasher()
        canonicalBytes.withUnsafeBytes { h.update($0) }
        return h.finish()
    }

    static let header = Array("plumb-manifest 1\n".utf8)

    /// The canonical bytes: a header line, then per entry a kind byte (`f` file, `x` executable file,
    /// `l` symbolic link), the path, NUL, the hex digest or link target, NUL. NUL cannot occur in a path
    /// or a link target, so the encoding is unambiguous; it is also what the cache stores as the
    /// manifest object, so a manifest object is verified like any other object.
    package var canonicalEncoding: Data { Data(canonicalBytes) }

    var canonicalBytes: [UInt8] {
        var out = Self.header
        out.reserveCapacity(entries.reduce(Self.header.count) { $0 + $1.path.utf8.count + 67 + ($1.symlink?.utf8.count ?? 0) })
        for e in entries {
            if let target = e.symlink {
                Self.appendEntry(kind: UInt8(ascii: "l"), name: e.path.utf8, into: &out) { $0 += target.utf8 }
            } else {
                Self.appendEntry(kind: UInt8(ascii: e.executable ? "x" : "f"), name: e.path.utf8, into: &out) { $0 += (e.digest?.hex ?? "").utf8 }
            }
        }
        return out
    }

    /// One entry of `canonicalBytes`: the kind byte, the path (`prefix` then `name`), NUL, what `value`
    /// writes (the hex digest or the link's target), NUL. `FolderTree` streams a manifest through it too,
    /// so the two encodings cannot drift apart.
    static func appendEntry(kind: UInt8, prefix: [UInt8] = [], name: some Sequence<UInt8>, into out: inout [UInt8],
                            value: (inout [UInt8]) -> Void) {
        out.append(kind); out += prefix; out += name; out.append(0)
        value(&out); out.append(0)
    }

    /// Parses `canonicalEncoding`; throws on anything else.
    package init(canonicalEncoding data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count >= Self.header.count, Array(bytes[0..<Self.header.count]) == Self.header else {
            throw PlumbError("not a Plumb directory manifest")
        }
        var entries: [Entry] = []
        var at = Self.header.count
        func field() throws -> String {
            guard let end = bytes[at...].firstIndex(of: 0) else { throw PlumbError("truncated directory manifest") }
            defer { at = end + 1 }
            return String(decoding: bytes[at..<end], as: UTF8.self)
        }
        var paths = Set<String>()
        while at < bytes.count {
            let kind = bytes[at]
            at += 1
            let path = try field()
            let value = try field()
            if let problem = RecordRules.normalisedProblem(path, allowAbsolute: false) {
                throw PlumbError("directory manifest entry \(RecordRules.quoted(path)) \(problem)")
            }
            if let previous = entries.last, !utf8Precedes(previous.path, path) {
                throw PlumbError("directory manifest entries out of order or repeated at \(RecordRules.quoted(path))")
            }
            paths.insert(path)
            switch kind {
            case UInt8(ascii: "l"):
                guard !value.isEmpty else { throw PlumbError("directory manifest link \(RecordRules.quoted(path)) has no target") }
                entries.append(Entry(path: path, digest: nil, executable: false, symlink: value))
            case UInt8(ascii: "f"), UInt8(ascii: "x"):
                guard let digest = Digest(hex: value) else {
                    throw PlumbError("bad digest in directory manifest: \(RecordRules.quoted(value))")
                }
                entries.append(Entry(path: path, digest: digest, executable: kind == UInt8(ascii: "x"), symlink: nil))
            default:
                throw PlumbError("bad entry kind in directory manifest")
            }
        }
        // A real folder cannot hold `a` as a file or link and `a/b` too; a crafted manifest that does
        // would have a link's target written through.
        for path in paths {
            var folder = Substring(path)
            while let slash = folder.lastIndex(of: "/") {
                folder = folder[..<slash]
                if paths.contains(String(folder)) {
                    throw PlumbError("directory manifest lists \(RecordRules.quoted(String(folder))) both as an entry and as a folder")
                }
            }
        }
        self.entries = entries
    }
}

/// Computes content digests of files and directories: a file's is the SHA-256 of its bytes (through the
/// stat cache), a directory's is the SHA-256 of its `DirectoryManifest`. Files are hashed on all cores.
package final class ContentDigester: Sendable {
    /// The stat cache that spares re-reading unchanged files.
    package let statCache: StatCache

    package init(statCache: StatCache) {
        self.statCache = statCache
    }

    /// The digest of a file or a directory. A symbolic link given directly is followed (a dep linked into a
    /// workspace stands for its target); links inside a directory are recorded, not followed.
    package func digest(of path: String) throws -> Digest {
        try digests(of: [path])[path]!
    }

    /// The digests of many paths at once, keyed by the paths as given. Their files are hashed in one
    /// parallel sweep, so a batch of small deps costs about as much as one folder of the same files;
    /// a directory is walked against its folder records (`FolderTree`), each file read at most once.
    package func digests(of paths: [String]) throws -> [String: Digest] {
        let targets = try paths.map { try Target(path: $0) }
        // Hits are answered in one pass under one lock (thousands of per-file locks contended across threads);
        // only the misses are read, on all cores, each file once.
        let files = targets.filter { $0.kind == .file }.map { (path: $0.absolute, stamp: FileStamp?.none) }
        var fileDigests = statCache.cachedDigests(files)
        var missPaths: [String] = []
        var seen = Set<String>()
        for i in fileDigests.indices where fileDigests[i] == nil && seen.insert(files[i].path).inserted { missPaths.append(files[i].path) }
        let hashed = try parallelMap(missPaths.count) { try statCache.digest(ofFileAt: missPaths[$0]) }
        let byPath = Dictionary(uniqueKeysWithValues: zip(missPaths, hashed))
        for i in fileDigests.indices where fileDigests[i] == nil { fileDigests[i] = byPath[files[i].path] }
        let tree = FolderTree(log: statCache.folders, statCache: statCache)
        var byDirectory: [String: Digest] = [:]
        var result: [String: Digest] = [:]
        var next = 0
        for (path, t) in zip(paths, targets) {
            switch t.kind {
            case .file:
                result[path] = fileDigests[next]!; next += 1
            case .directory:
                // The same folder named twice (say `data` and `data/`) is walked once.
                if byDirectory[t.absolute] == nil { byDirectory[t.absolute] = try tree.digest(ofDirectory: t.absolute) }
                result[path] = byDirectory[t.absolute]
            }
        }
        return result
    }

    /// The manifest of a directory (its files hashed through the stat cache).
    package func manifest(ofDirectory path: String) throws -> DirectoryManifest {
        let absolute = StatCache.absolute(path)
        var s = stat()
        guard stat(absolute, &s) == 0 else { throw PlumbError("\(path) does not exist") }
        guard (s.st_mode & S_IFMT) == S_IFDIR else { throw PlumbError("\(path) is not a directory") }
        let scanned = try Self.scan(directory: absolute)
        let files = scanned.filter { $0.symlinkTarget == nil }
        let digests = try parallelMap(files.count) { try statCache.digest(ofFileAt: files[$0].absolutePath, stamp: files[$0].stamp) }
        return Self.manifest(of: scanned, fileDigests: digests)
    }

    // MARK: - Scanning (shared with Cache, so a stored directory gets the very digest computed here)

    /// One file or link found in a directory.
    package struct ScannedEntry: Sendable {
        package var relativePath: String
        package var absolutePath: String
        package var executable: Bool
        /// Set for a symbolic link.
        package var symlinkTarget: String?
        /// A regular file's stamp as the scan saw it (lstat of a regular file is its stat).
        var stamp: FileStamp?
        var fileAbsolutePath: String? { symlinkTarget == nil ? absolutePath : nil }
    }

    private struct Target {
        enum Kind { case file, directory }
        var absolute: String
        var kind: Kind
        init(path: String) throws {
            absolute = StatCache.absolute(path)
            switch DiskEntryKind.of(absolute) {
            case .missing: throw PlumbError("\(path) does not exist")
            case .file: kind = .file
            case .directory:
                kind = .directory
                while absolute.count > 1, absolute.hasSuffix("/") { absolute.removeLast() }
            case let .unsupported(what):
                throw PlumbError("\(path) is \(what); a dep must be a regular file or a folder",
                                 hint: "copy the data into a regular file and depend on that")
            }
        }
    }

    /// Every regular file and symbolic link under `directory`, via opendir/readdir and fstatat relative to the
    /// open directory (no path walk per entry): several times faster than FileManager's enumerator, which
    /// builds URLs and resource dictionaries per entry.
    package static func scan(directory: String) throws -> [ScannedEntry] {
        var out: [ScannedEntry] = []
        try scan(absolute: directory, relative: "", into: &out, parallel: true)
        return out
    }

    /// Entries come out in the manifest's order (byte order of the relative path): siblings are sorted by name,
    /// a folder's name counting as `name/` since all its entries start so. Sorting short names per folder is
    /// far cheaper than sorting the whole list of paths afterwards, which then finds it already in order.
    /// With `parallel`, the subfolders of this folder are scanned on all cores (stat calls dominate a scan
    /// of many small files), and their entries put back in order.
    private static func scan(absolute: String, relative: String, into out: inout [ScannedEntry], parallel: Bool = false) throws {
        guard let dir = opendir(absolute) else {
            throw PlumbError("cannot read directory \(absolute): \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        let fd = dirfd(dir)
        var keys: [[UInt8]] = []
        var stats: [stat] = []
        while let ent = readdir(dir) {
            var s = stat()
            let key = withUnsafeBytes(of: ent.pointee.d_name) { raw -> [UInt8]? in
                let p = raw.bindMemory(to: CChar.self).baseAddress!
                if strcmp(p, ".") == 0 || strcmp(p, "..") == 0 { return nil }
                guard fstatat(fd, p, &s, AT_SYMLINK_NOFOLLOW) == 0 else { return nil } // vanished while scanning
                var key = Array(UnsafeRawBufferPointer(start: p, count: strlen(p)))
                if s.st_mode & S_IFMT == S_IFDIR { key.append(UInt8(ascii: "/")) }
                return key
            }
            guard let key else { continue }
            keys.append(key)
            stats.append(s)
        }
        let order = keys.indices.sorted { bytesPrecede(keys[$0], keys[$1]) }
        var subfolders: [Int: [ScannedEntry]] = [:]
        if parallel {
            let folders = order.filter { stats[$0].st_mode & S_IFMT == S_IFDIR }
            if folders.count > 1 {
                let scanned = try parallelMap(folders.count) { k -> [ScannedEntry] in
                    let name = String(decoding: keys[folders[k]].dropLast(), as: UTF8.self)
                    var sub: [ScannedEntry] = []
                    try scan(absolute: absolute + "/" + name, relative: relative.isEmpty ? name : relative + "/" + name, into: &sub)
                    return sub
                }
                for (i, entries) in zip(folders, scanned) { subfolders[i] = entries }
            }
        }
        for i in order {
            let s = stats[i]
            let name = String(decoding: s.st_mode & S_IFMT == S_IFDIR ? keys[i].dropLast() : keys[i][...], as: UTF8.self)
            let childAbsolute = absolute + "/" + name
            let childRelative = relative.isEmpty ? name : relative + "/" + name
            switch s.st_mode & S_IFMT {
            case S_IFDIR:
                if let done = subfolders[i] { out += done } else { try scan(absolute: childAbsolute, relative: childRelative, into: &out) }
            case S_IFREG:
                out.append(ScannedEntry(relativePath: childRelative, absolutePath: childAbsolute,
                                        executable: s.st_mode & S_IXUSR != 0, symlinkTarget: nil, stamp: FileStamp(s)))
            case S_IFLNK:
                out.append(ScannedEntry(relativePath: childRelative, absolutePath: childAbsolute,
                                        executable: false, symlinkTarget: try readLink(childAbsolute)))
            default:
                continue
            }
        }
    }

    static func readLink(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { throw PlumbError("cannot read link \(path): \(String(cString: strerror(errno)))") }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The manifest of scanned entries given the digests of their regular files, in scan order.
    package static func manifest<C: Collection>(of scanned: [ScannedEntry], fileDigests: C) -> DirectoryManifest where C.Element == Digest {
        var digests = fileDigests.makeIterator()
        return manifest(of: scanned) { _ in digests.next()! }
    }

    package static func manifest(of scanned: [ScannedEntry], fileDigest: (String) -> Digest) -> DirectoryManifest {
        DirectoryManifest(entries: scanned.map { e in
            if let target = e.symlinkTarget {
                return .init(path: e.relativePath, digest: nil, executable: false, symlink: target)
            }
            return .init(path: e.relativePath, digest: fileDigest(e.absolutePath), executable: e.executable, symlink: nil)
        })
    }
}

/// Whether `a` sorts before `b` in the byte order of their UTF-8 (memcmp on contiguous storage: the
/// generic `utf8.lexicographicallyPrecedes` dominated sorting a manifest of 10,000 entries).
func utf8Precedes(_ a: String, _ b: String) -> Bool {
    if let r = a.utf8.withContiguousStorageIfAvailable({ x in b.utf8.withContiguousStorageIfAvailable { y in bytesPrecede(x, y) } }),
       let r { return r }
    return a.utf8.lexicographicallyPrecedes(b.utf8)
}

/// Whether byte string `a` sorts before `b` (memcmp order, a prefix first).
package func bytesPrecede<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool where A.Element == UInt8, B.Element == UInt8 {
    if let r = a.withContiguousStorageIfAvailable({ x in
        b.withContiguousStorageIfAvailable { y -> Bool in
            let n = min(x.count, y.count)
            let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
            return c != 0 ? c < 0 : x.count < y.count
        }
    }), let r { return r }
    return a.lexicographicallyPrecedes(b)
}

/// Results of `body(0..<count)` computed on all cores, in order. The first error (by index) is rethrown
/// after every task finished, so no task outlives the call.
package func parallelMap<T>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
    if count == 0 { return [] }
    if count == 1 { return [try body(0)] }
    let buffer = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: count)
    buffer.initialize(repeating: nil)
    defer { buffer.deinitialize(); buffer.deallocate() }
    // Striding a few chunks per core keeps per-iteration overhead low for thousands of small files
    // while still balancing a few large ones.
    let chunks = min(count, ProcessInfo.processInfo.activeProcessorCount * 4)
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        nonisolated(unsafe) let buffer = buffer
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var i = chunk
            while i < count {
                buffer[i] = Result { try body(i) }
                i += chunks
            }
        }
    }
    return try buffer.map { try $0!.get() }
}
