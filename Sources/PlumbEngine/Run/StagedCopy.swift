import Foundation
import PlumbCore
import PlumbStore
#if canImport(Glibc)
import Glibc
#endif

/// Brings a kept copy of an untracked data folder to what the plan identified, copying only what
/// differs: a file of the copy is kept when its stamp is the one `record` holds for it (so it still
/// has the recorded content), that content's digest is the source file's as the plan's walk recorded it
/// (`manifest`), and its execute bit is the source's; any other file is removed and copied again (hashed
/// as it is copied), files and links the source no longer has are removed, and links are compared by
/// their target. As `WorkspaceInputs.copyVerifying`, only regular files and links are entries: a folder
/// exists when an entry needs it, and a folder only removed entries needed is removed.
///
/// The digest of the result is computed from the copy's own per-file digests, the recorded ones of kept
/// files and the ones hashed while copying, so the caller checks what the copy holds, not the source.
enum StagedCopy {
    /// What a sync left in the copy.
    struct Synced {
        /// The copy's files and links, relative to it, in manifest order, and their stamps.
        var paths: [String]
        var stamps: [FileStamp?]
        /// The digests of copied files that are not the ones `entries` (the source's manifest) name.
        var digests: [Int: Digest]
        var entries: [DirectoryManifest.Entry]
        /// The manifest digest of the copy (`ContentDigester.manifest` of its per-file digests).
        var digest: Digest
        /// How many entries were copied (or linked) again, and how many removed.
        var copied: Int
        var removed: Int

        /// The copy's regular files with their stamps and digests, for its record.
        var files: some Collection<StagedCopyRecord.File> {
            entries.indices.lazy.compactMap { k in
                let e = entries[k]
                guard e.symlink == nil, let stamp = stamps[k], let digest = digests[k] ?? e.digest else { return nil }
                return StagedCopyRecord.File(path: e.path, executable: e.executable, stamp: stamp, digest: digest)
            }
        }
    }

    /// Syncs the folder at `copy` (which exists) to `manifest`, the entries of the folder at `source`, whose
    /// digest the caller verified is `digest`.
    static func sync(_ copy: String, from source: String, manifest: DirectoryManifest, digest: Digest,
                     record: StagedCopyRecord?) throws -> Synced {
        var scanned = try ContentDigester.scan(directory: copy)
        let recorded = record?.count ?? 0
        let entries = manifest.entries
        // The source's entries, the copy's scan and the record are all in manifest order (the byte order of
        // the path): one merge, compared by bytes (String's == would take a decomposed `é` for a composed one).
        var kept = [Bool](repeating: false, count: entries.count)
        // The stamps of kept files, taken by the scan; the rest are taken once copied.
        var stamps = [FileStamp?](repeating: nil, count: entries.count)
        var used = [Bool](repeating: false, count: scanned.count)
        var i = 0, r = 0
        for (k, e) in entries.enumerated() {
            while i < scanned.count, precedes(scanned[i].relativePath, e.path) { i += 1 }
            guard i < scanned.count, same(scanned[i].relativePath, e.path) else { continue }
            let c = scanned[i]
            if let target = e.symlink {
                kept[k] = c.symlinkTarget.map { same($0, target) } ?? false
            } else if c.symlinkTarget == nil, c.executable == e.executable, let stamp = c.scannedStamp, let record, let digest = e.digest {
                var path = e.path, hex = digest.hex
                path.withUTF8 { name in
                    while r < recorded, record.withFile(r, { was, _, _, _ in bytesPrecede(was, UnsafeRawBufferPointer(name)) }) { r += 1 }
                    guard r < recorded else { return }
                    kept[k] = record.withFile(r) { was, executable, wasStamp, wasDigest in
                        same(was, UnsafeRawBufferPointer(name)) && wasStamp == stamp && executable == e.executable
                            && hex.withUTF8 { same(wasDigest, UnsafeRawBufferPointer($0)) }
                    }
                }
            }
            used[i] = kept[k]
            if kept[k] { stamps[k] = c.scannedStamp }
            i += 1
        }

        // What the copy has that the source lacks, or that is not as recorded; then the folders only those
        // needed (rmdir refuses one that still holds something: an empty folder is no entry).
        var removed = 0
        var emptied = Set<String>()
        for (i, c) in scanned.enumerated() where !used[i] {
            guard unlink(c.absolutePath) == 0 || errno == ENOENT else {
                throw PlumbError("cannot remove \(c.absolutePath): \(errnoText())")
            }
            removed += 1
            var folder = parent(of: c.relativePath)
            while !folder.isEmpty, emptied.insert(folder).inserted { folder = parent(of: folder) }
        }
        for folder in emptied.sorted(by: { $0.utf8.count > $1.utf8.count }) { rmdir(copy + "/" + folder) }
        // Done with: a million entries' paths, twice over.
        scanned = []
        used = []

        let missing = entries.indices.filter { !kept[$0] }
        var folders = Set<String>()
        for k in missing {
            var folder = parent(of: entries[k].path)
            while !folder.isEmpty, folders.insert(folder).inserted { folder = parent(of: folder) }
        }
        // Parents first; whatever was in a folder's place (a file, a link) was removed above.
        for folder in folders.sorted(by: { $0.utf8.count < $1.utf8.count }) {
            let full = copy + "/" + folder
            if mkdir(full, 0o755) == 0 { continue }
            var s = stat()
            guard errno == EEXIST, lstat(full, &s) == 0, (s.st_mode & S_IFMT) == S_IFDIR else {
                throw PlumbError("cannot create folder \(full): \(errnoText())")
            }
        }
        for k in missing {
            if let target = entries[k].symlink, symlink(target, copy + "/" + entries[k].path) != 0 {
                throw PlumbError("cannot create link \(copy)/\(entries[k].path): \(errnoText())")
            }
        }
        let files = missing.filter { entries[$0].symlink == nil }
        let copiedDigests = try parallelMap(files.count) { j in
            let e = entries[files[j]]
            return try WorkspaceInputs.copyFile(source + "/" + e.path, to: copy + "/" + e.path, mode: e.executable ? 0o555 : 0o444)
        }
        var digestOf: [Int: Digest] = [:]
        for (k, d) in zip(files, copiedDigests) where d != entries[k].digest { digestOf[k] = d }

        for k in missing { stamps[k] = WorkspaceInputs.stamp(copy + "/" + entries[k].path) }
        for (k, e) in entries.enumerated() where kept[k] && e.symlink != nil { stamps[k] = WorkspaceInputs.stamp(copy + "/" + e.path) }
        var synced = Synced(paths: entries.map(\.path), stamps: stamps, digests: digestOf, entries: entries, digest: digest,
                            copied: missing.count, removed: removed)
        // Every file holds the digest the source's manifest names (kept ones by their record, copied ones as
        // hashed), so the copy's manifest is that manifest, whose digest the caller checked; only a file
        // hashed otherwise (the source changed after planning) makes it another, computed from the copy's own.
        if !digestOf.isEmpty {
            synced.digest = DirectoryManifest(entries: entries.enumerated().map { k, e in
                var entry = e
                if let d = digestOf[k] { entry.digest = d }
                return entry
            }).digest
        }
        return synced
    }

    /// Whether `a` sorts before `b` in the byte order of their UTF-8 (`bytesPrecede`).
    static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in bytesPrecede(x, y) } }
    }

    /// Whether `a` and `b` are the same bytes.
    static func same(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in same(UnsafeRawBufferPointer(x), UnsafeRawBufferPointer(y)) } }
    }

    static func same(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Bool {
        x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return String(path[..<slash])
    }
}
