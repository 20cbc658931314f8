import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
#if canImport(Glibc)
import Glibc
#endif

/// Staged copies of untracked data folders, kept between runs beside the workspace
/// (`.plumb/work/<env>.inputs/`), so that the next run syncs a copy instead of making one: one slot per
/// dep path, named by the SHA-256 of the path, holding `record` (a `StagedCopyRecord`) and, while no
/// run has it in the workspace, `copy`.
///
/// A copy lives in the workspace while a run uses it; before the next workspace update (whose sweep
/// removes every path the workspace's index does not hold) it is renamed back into its slot, an O(1)
/// rename on the same file system. A slot whose path no stage reads as untracked data any more (it is
/// tracked now, or no longer a dep) is removed. Nothing here trusts a copy: `WorkspaceInputs` checks
/// each file against the record when it stages the copy again.
struct KeptInputs {
    /// `<workspace>.inputs`: environment names cannot contain a dot, so it is no workspace's name.
    let folder: String
    let workspace: String

    init(workspace: String) {
        self.workspace = workspace
        folder = workspace + ".inputs"
    }

    func slot(of path: String) -> String { folder + "/" + String(SHA256Hasher.digest(path).hex.prefix(32)) }
    func copy(of path: String) -> String { slot(of: path) + "/copy" }
    func recordFile(of path: String) -> String { slot(of: path) + "/record" }

    /// The record of the copy of `path`, if there is a sound one.
    func record(of path: String) -> StagedCopyRecord? {
        guard let data = FileManager.default.contents(atPath: recordFile(of: path)) else { return nil }
        return StagedCopyRecord(data, path: path)
    }

    /// Replaces the record of the copy of `path` with an encoded `StagedCopyRecord`, atomically.
    func write(_ record: Data, of path: String) throws {
        try AtomicFile.write(record, to: recordFile(of: path))
    }

    /// Forgets the record of `path` (its copy is no longer the one it describes), keeping the slot.
    func forget(_ path: String) {
        unlink(recordFile(of: path))
    }

    /// Before the workspace update: renames each kept copy the last run left in the workspace back into
    /// its slot, and removes the slots of paths not in `wanted` (the untracked data deps of this plan).
    /// Best effort: a copy that cannot be moved is left to the sweep, and copied again when needed.
    func withdraw(keeping wanted: Set<String>) {
        guard let slots = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in slots {
            let slot = folder + "/" + name
            // The path is read from the record's head only: it says where to look, the full record is
            // checked when the copy is staged. A slot must be the one its path names.
            guard let data = Self.head(of: slot + "/record"), let path = StagedCopyRecord.path(in: data),
                  self.slot(of: path) == slot, wanted.contains(path) else {
                try? Repository.removeTree(slot)
                continue
            }
            var s = stat()
            if lstat(slot + "/copy", &s) == 0 { continue }
            // Never through a link a commit put where a folder of the path should be.
            guard let inWorkspace = try? ContainedPath.prepare(path, under: workspace, create: false),
                  lstat(inWorkspace, &s) == 0, (s.st_mode & S_IFMT) == S_IFDIR,
                  rename(inWorkspace, slot + "/copy") == 0 else {
                forget(path)
                continue
            }
        }
    }

    /// The first bytes of a record, where its path is (a million files' record is over 100 MB).
    private static func head(of file: String) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: file) else { return nil }
        defer { try? handle.close() }
        return try? handle.read(upToCount: StagedCopyRecord.magic.count + 4 + 4096)
    }
}

extension StagedCopyRecord {
    /// The dep path a record's head names, if it is a normalised relative path; the rest is not checked.
    static func path(in data: Data) -> String? {
        let bytes = [UInt8](data.prefix(magic.count + 4 + 4096))
        guard bytes.count >= magic.count + 4, bytes.starts(with: magic) else { return nil }
        let n = Int(bytes[magic.count..<(magic.count + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }.littleEndian)
        guard n > 0, magic.count + 4 + n <= bytes.count else { return nil }
        let path = String(decoding: bytes[(magic.count + 4)..<(magic.count + 4 + n)], as: UTF8.self)
        return RecordRules.normalisedProblem(path, allowAbsolute: false) == nil ? path : nil
    }
}
