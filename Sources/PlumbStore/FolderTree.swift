import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// A directory's digest computed folder by folder against the `FolderLog`, so that work follows what
/// changed: a no-op walk only `lstat`s (no file read, nothing hashed), and a changed file is read alone
/// and re-records its folder and the folders above it.
///
/// Each folder has a tree digest, a Merkle hash of its entries (kind, key, content digest or link target)
/// and of its subfolders' tree digests. The digest a walk returns is still the `DirectoryManifest` digest
/// (the SHA-256 of the flat manifest), unchanged in meaning, because records, the cache and workspaces all
/// hold it; the tree digest is the key under which the root's record keeps it, so an unchanged tree
/// answers with no hashing at all, and a changed one streams the manifest from the records (about 90 bytes
/// per file through SHA-256, with no manifest held in memory).
struct FolderTree {
    let log: FolderLog
    let statCache: StatCache

    static let treeHeader = Array("plumb-tree 1\n".utf8)

    /// The `DirectoryManifest` digest of the directory at `root` (an absolute path to a directory).
    func digest(ofDirectory root: String) throws -> Digest {
        let tree = try walk(root, parallel: true)
        if let known = log.withRecord(of: root, { rec -> Digest? in
            guard let rec, let flat = rec.flat, rec.tree.elementsEqual(tree) else { return nil }
            return Digest(bytes: flat)
        }) { return known }
        let h = SHA256Hasher()
        var buffer = DirectoryManifest.header
        buffer.reserveCapacity(1 << 18)
        try stream(root, relative: [], into: &buffer, hasher: h)
        buffer.withUnsafeBytes { h.update($0) }
        let digest = h.finish()
        // Remembered in the root's record, so the next walk that finds the same tree does not stream.
        let patched: [UInt8]? = log.withRecord(of: root) { rec in
            guard let rec, rec.tree.elementsEqual(tree) else { return nil }
            var body = Array(rec.body)
            let at = FolderRecord.flatOffset(folder: root)
            body[at] = 1
            body.replaceSubrange((at + 1)..<(at + 33), with: digest.bytes)
            return body
        }
        if let patched { log.update(folder: root, record: patched) }
        return digest
    }

    /// Walks one folder: its subfolders first (on all cores when `parallel`), then its own entries against
    /// its record. Returns the folder's tree digest and records the folder anew if anything differs.
    private func walk(_ folder: String, parallel: Bool) throws -> [UInt8] {
        guard let dir = opendir(folder) else {
            throw PlumbError("cannot read directory \(folder): \(String(cString: strerror(errno)))")
        }
        // Names go back to back into one buffer and are sorted as indices, so a folder of a thousand
        // files costs a few allocations, not one per file, and sorting moves integers, not `stat`s.
        var names: [UInt8] = []
        var spans: [Range<Int>] = []
        var stats: [stat] = []
        var folderDevice = stat()
        do {
            defer { closedir(dir) }
            let fd = dirfd(dir)
            guard fstat(fd, &folderDevice) == 0 else {
                throw PlumbError("cannot stat \(folder): \(String(cString: strerror(errno)))")
            }
            while let ent = readdir(dir) {
                var s = stat()
                let read = withUnsafeBytes(of: ent.pointee.d_name) { raw -> Bool in
                    let p = raw.bindMemory(to: CChar.self).baseAddress!
                    if strcmp(p, ".") == 0 || strcmp(p, "..") == 0 { return false }
                    guard fstatat(fd, p, &s, AT_SYMLINK_NOFOLLOW) == 0 else { return false } // vanished meanwhile
                    let kind = s.st_mode & S_IFMT
                    guard kind == S_IFDIR || kind == S_IFREG || kind == S_IFLNK else { return false } // sockets, fifos, devices: not content
                    let start = names.count
                    names.append(contentsOf: UnsafeRawBufferPointer(start: p, count: strlen(p)))
                    if kind == S_IFDIR { names.append(UInt8(ascii: "/")) }
                    spans.append(start..<names.count)
                    return true
                }
                if read { stats.append(s) }
            }
        }
        // Sorted by each name's first 8 bytes as one big-endian integer (zero-padded, so a shorter name
        // sorts first as memcmp would have it), ties broken by the whole name.
        let found: [(key: ArraySlice<UInt8>, stat: stat)] = names.withUnsafeBytes { all in
            var order: [(prefix: UInt64, index: Int)] = spans.indices.map { i in
                var prefix: UInt64 = 0
                for (k, b) in all[spans[i].prefix(8)].enumerated() { prefix |= UInt64(b) << (56 - 8 * k) }
                return (prefix, i)
            }
            order.sort { a, b in
                a.prefix != b.prefix ? a.prefix < b.prefix
                    : bytesPrecede(UnsafeRawBufferPointer(rebasing: all[spans[a.index]]), UnsafeRawBufferPointer(rebasing: all[spans[b.index]]))
            }
            return order.map { (key: names[spans[$0.index]], stat: stats[$0.index]) }
        }
        let device = UInt64(folderDevice.st_dev)

        let subfolders = found.indices.filter { found[$0].stat.st_mode & S_IFMT == S_IFDIR }
        func path<Key: BidirectionalCollection<UInt8>>(_ key: Key) -> String {
            folder + "/" + String(decoding: key.last == UInt8(ascii: "/") ? key.dropLast() : key[...], as: UTF8.self)
        }
        let trees: [[UInt8]]
        if parallel && subfolders.count > 1 {
            trees = try parallelMap(subfolders.count) { try walk(path(found[subfolders[$0]].key), parallel: false) }
        } else {
            trees = try subfolders.map { try walk(path(found[$0].key), parallel: parallel) }
        }
        var treeOf: [Int: [UInt8]] = [:]
        for (i, t) in zip(subfolders, trees) { treeOf[i] = t }

        // Against the record: what is the same is taken from it; files that differ are hashed below.
        var entries: [WalkedEntry] = []
        entries.reserveCapacity(found.count)
        var misses: [Int] = []
        let racy = statCache.racyWindowNanoseconds
        let unchangedTree: [UInt8]? = try log.withRecord(of: folder) { rec in
            // First without building anything (the no-op path allocates nothing per file); on the first
            // difference, again, building the entries of a new record.
            func pass(building: Bool) throws -> Bool {
                var j = 0
                var same = rec != nil && rec!.device == device && rec!.entries.count == found.count
                if !same && !building { return false }
                for (i, f) in found.enumerated() {
                    var known: FolderRecord.Entry?
                    if let rec {
                        while j < rec.entries.count, bytesPrecede(rec.entries[j].key, f.key) { j += 1 }
                        if j < rec.entries.count, rec.entries[j].key.elementsEqual(f.key) { known = rec.entries[j] }
                    }
                    switch f.stat.st_mode & S_IFMT {
                    case S_IFDIR:
                        let t = treeOf[i]!
                        if !(known?.kind == FolderRecord.folderKind && rec!.digest(known!).elementsEqual(t)) { same = false }
                        if building { entries.append(WalkedEntry(kind: FolderRecord.folderKind, key: Array(f.key), stamp: FileStamp(f.stat), hashedAt: 0, value: t)) }
                    case S_IFLNK:
                        let target = Array(try ContentDigester.readLink(path(f.key)).utf8)
                        if !(known?.kind == FolderRecord.linkKind && rec!.linkTarget(known!).elementsEqual(target)) { same = false }
                        if building { entries.append(WalkedEntry(kind: FolderRecord.linkKind, key: Array(f.key), stamp: FileStamp(f.stat), hashedAt: 0, value: target)) }
                    default:
                        let stamp = FileStamp(f.stat)
                        let kind = f.stat.st_mode & S_IXUSR != 0 ? FolderRecord.executableKind : FolderRecord.fileKind
                        if let known, let rec, known.kind == kind, UInt64(f.stat.st_dev) == device {
                            let (was, hashedAt) = rec.stamp(known)
                            // Trusted only if unchanged and not racily so (see StatCache).
                            if was == stamp, stamp.lastChangeNanoseconds < hashedAt - racy {
                                if building { entries.append(WalkedEntry(kind: kind, key: Array(f.key), stamp: stamp, hashedAt: hashedAt, value: Array(rec.digest(known)))) }
                                continue
                            }
                        }
                        same = false
                        if building {
                            misses.append(entries.count)
                            entries.append(WalkedEntry(kind: kind, key: Array(f.key), stamp: stamp, hashedAt: 0, value: []))
                        }
                    }
                    if !same && !building { return false }
                }
                return same
            }
            if try pass(building: false) { return Array(rec!.tree) }
            _ = try pass(building: true)
            return nil
        }
        if let unchangedTree { return unchangedTree }

        // Files the record does not vouch for: first the per-file stat cache (outputs the cache stored,
        // caches written before folder records existed), then read, on all cores when there are many.
        var unread: [Int] = []
        for m in misses {
            let p = path(entries[m].key)
            if let old = statCache.fileEntry(forFileAt: p, stamp: entries[m].stamp) {
                entries[m].hashedAt = old.hashedAt
                entries[m].value = old.digest.bytes
            } else {
                unread.append(m)
            }
        }
        let hashed = try parallelMap(unread.count) { k in try StatCache.hash(fileAt: path(entries[unread[k]].key), followingLinks: false) }
        for (m, h) in zip(unread, hashed) {
            entries[m].value = h.digest.bytes
            entries[m].hashedAt = h.hashedAt
            entries[m].stamp = h.stamp ?? entries[m].stamp
        }
        statCache.noteFilesHashed(unread.count)

        let tree = Self.treeDigest(entries)
        log.update(folder: folder, record: FolderRecord.encode(folder: folder, device: device, tree: tree, flat: nil, entries: entries))
        return tree
    }

    /// The Merkle digest of a folder's entries (its subfolders by their own tree digests).
    static func treeDigest(_ entries: [WalkedEntry]) -> [UInt8] {
        var bytes = treeHeader
        for e in entries {
            bytes.append(e.kind); bytes += e.key; bytes.append(0)
            withUnsafeBytes(of: UInt32(e.value.count).littleEndian) { bytes += $0 }
            bytes += e.value
        }
        return bytes.withUnsafeBytes { SHA256Hasher.digest($0) }
    }

    /// Writes the flat manifest entries of `folder` (paths prefixed by `relative`) from the records the
    /// walk just left, flushing `buffer` into `hasher` as it fills.
    private func stream(_ folder: String, relative: [UInt8], into buffer: inout [UInt8], hasher: SHA256Hasher) throws {
        let found: Bool = try log.withRecord(of: folder) { rec in
            guard let rec else { return false }
            for e in rec.entries {
                switch e.kind {
                case FolderRecord.folderKind:
                    let name = e.key.dropLast()
                    try stream(folder + "/" + String(decoding: name, as: UTF8.self), relative: relative + name + [UInt8(ascii: "/")],
                               into: &buffer, hasher: hasher)
                case FolderRecord.linkKind:
                    DirectoryManifest.appendEntry(kind: e.kind, prefix: relative, name: e.key, into: &buffer) { $0 += rec.linkTarget(e) }
                default:
                    DirectoryManifest.appendEntry(kind: e.kind, prefix: relative, name: e.key, into: &buffer) { SHA256Hasher.appendHex(rec.digest(e), to: &$0) }
                }
                if buffer.count >= 1 << 18 {
                    buffer.withUnsafeBytes { hasher.update($0) }
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            return true
        }
        guard found else { throw PlumbError("\(folder) changed while it was being walked", hint: "run the command again") }
    }
}
