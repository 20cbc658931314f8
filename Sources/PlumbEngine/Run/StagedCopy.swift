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
        /// Its regular files with their stamps and digests, for the next record.
        var files: [StagedCopyRecord.File]
        /// The manifest digest of the copy (`ContentDigester.manifest` of its per-file digests).
        var digest: Digest
        /// How many entries were copied (or linked) again, and how many removed.
        var copied: Int
        var removed: Int
    }

    /// Syncs the folder at `copy` (which exists) to `manifest`, the entries of the folder at `source`.
    static func sync(_ copy: String, from source: String, manifest: DirectoryManifest, record: StagedCopyRecord?) throws -> Synced {
        let scanned = try ContentDigester.scan(directory: copy)
        var inCopy: [String: Int] = [:]
        inCopy.reserveCapacity(scanned.count)
        for (i, e) in scanned.enumerated() { inCopy[e.relativePath] = i }
        var recorded: [String: Int] = [:]
        if let record {
            recorded.reserveCapacity(record.files.count)
            for (i, f) in record.files.enumerated() { recorded[f.path] = i }
        }

        let entries = manifest.entries
        var kept = [Bool](repeating: false, count: entries.count)
        var used = [Bool](repeating: false, count: scanned.count)
        for (k, e) in entries.enumerated() {
            guard let i = inCopy[e.path] else { continue }
            let c = scanned[i]
            if let target = e.symlink {
                kept[k] = c.symlinkTarget == target
            } else if c.symlinkTarget == nil, c.executable == e.executable, let stamp = c.scannedStamp, let r = recorded[e.path],
                      let was = record?.files[r], was.stamp == stamp, was.digest == e.digest, was.executable == e.executable {
                kept[k] = true
            }
            used[i] = kept[k]
        }

        // Every folder an entry of the source needs.
        var folders = Set<String>([""])
        for e in entries {
            var folder = parent(of: e.path)
            while folders.insert(folder).inserted { folder = parent(of: folder) }
        }
        var removed = 0
        var emptied = Set<String>()
        for (i, c) in scanned.enumerated() where !used[i] {
            guard unlink(c.absolutePath) == 0 || errno == ENOENT else {
                throw PlumbError("cannot remove \(c.absolutePath): \(errnoText())")
            }
            removed += 1
            var folder = parent(of: c.relativePath)
            while !folders.contains(folder), emptied.insert(folder).inserted { folder = parent(of: folder) }
        }
        // Deepest first; one that still holds something (an empty folder is no entry) stays.
        for folder in emptied.sorted(by: { $0.utf8.count > $1.utf8.count }) { rmdir(copy + "/" + folder) }
        for folder in folders.sorted(by: { $0.utf8.count < $1.utf8.count }) where !folder.isEmpty {
            let full = copy + "/" + folder
            if mkdir(full, 0o755) == 0 { continue }
            var s = stat()
            guard errno == EEXIST, lstat(full, &s) == 0, (s.st_mode & S_IFMT) == S_IFDIR else {
                throw PlumbError("cannot create folder \(full): \(errnoText())")
            }
        }

        let missing = entries.indices.filter { !kept[$0] }
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
        for (k, d) in zip(files, copiedDigests) { digestOf[k] = d }

        var synced = Synced(paths: [], stamps: [], files: [], digest: manifest.digest, copied: missing.count, removed: removed)
        synced.paths.reserveCapacity(entries.count)
        synced.stamps.reserveCapacity(entries.count)
        var actual: [DirectoryManifest.Entry] = []
        actual.reserveCapacity(entries.count)
        for (k, e) in entries.enumerated() {
            let stamp = kept[k] && e.symlink == nil ? scanned[inCopy[e.path]!].scannedStamp : WorkspaceInputs.stamp(copy + "/" + e.path)
            synced.paths.append(e.path)
            synced.stamps.append(stamp)
            var entry = e
            if e.symlink == nil {
                entry.digest = digestOf[k] ?? e.digest
                if let stamp, let digest = entry.digest {
                    synced.files.append(StagedCopyRecord.File(path: e.path, executable: e.executable, stamp: stamp, digest: digest))
                }
            }
            actual.append(entry)
        }
        synced.digest = DirectoryManifest(entries: actual).digest
        return synced
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return String(path[..<slash])
    }
}
