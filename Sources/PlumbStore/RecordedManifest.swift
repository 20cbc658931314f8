import Foundation
import PlumbCore

extension ContentDigester {
    /// The manifest of the directory at `path` with the digest `expected`, as the last folder walk recorded
    /// it (`FolderTree`): what a plan that just walked the directory found, per file, with no file read or
    /// stat'ed. Nil unless the root's record keeps that manifest digest (it was walked as a dep) and every
    /// subfolder's record is the one its parent's names (its tree digest), so the entries are exactly those
    /// the digest was computed from.
    package func recordedManifest(ofDirectory path: String, digest expected: Digest) -> DirectoryManifest? {
        var root = StatCache.absolute(path)
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        // This process's records first; once saved (a reconcile saves the stat cache after planning),
        // they are in the file, which the open log still sees as it was mapped: so the file, read anew.
        let live = statCache.folders
        for log in [{ live }, { FolderLog(path: live.path) }] {
            if let found = Self.recordedManifest(root, in: log()), found.digest == expected { return found.manifest }
        }
        return nil
    }

    private static func recordedManifest(_ root: String, in log: FolderLog) -> (manifest: DirectoryManifest, digest: Digest)? {
        let top: (tree: [UInt8], flat: Digest)? = log.withRecord(of: root) { rec in
            guard let rec, let flat = rec.flat else { return nil }
            return (Array(rec.tree), Digest(bytes: flat))
        }
        guard let top else { return nil }
        var entries: [DirectoryManifest.Entry] = []
        guard collect(root, relative: "", tree: top.tree, log: log, into: &entries) else { return nil }
        return (DirectoryManifest(entries: entries), top.flat)
    }

    /// Appends the entries of `folder`'s record (its subfolders' first-level entries in place, recursively)
    /// when its tree digest is `tree`; false when a record is missing or is not that one.
    private static func collect(_ folder: String, relative: String, tree: [UInt8], log: FolderLog,
                                into entries: inout [DirectoryManifest.Entry]) -> Bool {
        log.withRecord(of: folder) { rec in
            guard let rec, rec.tree.elementsEqual(tree) else { return false }
            for e in rec.entries {
                switch e.kind {
                case FolderRecord.folderKind:
                    let name = String(decoding: e.key.dropLast(), as: UTF8.self)
                    guard collect(folder + "/" + name, relative: relative + name + "/", tree: Array(rec.digest(e)), log: log,
                                  into: &entries) else { return false }
                case FolderRecord.linkKind:
                    entries.append(.init(path: relative + String(decoding: e.key, as: UTF8.self), digest: nil, executable: false,
                                         symlink: String(decoding: rec.linkTarget(e), as: UTF8.self)))
                default:
                    entries.append(.init(path: relative + String(decoding: e.key, as: UTF8.self), digest: Digest(bytes: rec.digest(e)),
                                         executable: e.kind == FolderRecord.executableKind, symlink: nil))
                }
            }
            return true
        }
    }
}

extension ContentDigester.ScannedEntry {
    /// A regular file's stamp as the scan took it (nil for a link): lets a caller compare a scanned file
    /// with a stamp it recorded without a second `lstat`.
    package var scannedStamp: FileStamp? { stamp }
}

extension FileStamp {
    /// The stamp's fields in a fixed order (device, inode, size, mtime, ctime), for records kept outside
    /// this module (`StagedCopyRecord`, which reads them back with `init(device:inode:size:mtimeNanoseconds:ctimeNanoseconds:)`).
    package var fields: [Int64] {
        [Int64(bitPattern: device), Int64(bitPattern: inode), size, mtimeNanoseconds, ctimeNanoseconds]
    }
}
