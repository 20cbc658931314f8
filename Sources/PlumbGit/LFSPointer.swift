import CGit2
import Foundation
import PlumbCore

/// A Git LFS pointer: what git stores in place of a large file whose content lives in
/// `.git/lfs/objects/<aa>/<bb>/<oid>` (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md).
///
/// Recognised by content, as `git lfs` itself does for a blob under its size cut-off: exactly the
/// lines `version https://git-lfs.github.com/spec/v1`, `oid sha256:<64 lowercase hex>` and
/// `size <decimal>`, each ending in a line feed. Pointers with extensions (`ext-N-…` lines) are not
/// recognised: their object is not the file's content.
package struct LFSPointer: Sendable, Hashable {
    /// The SHA-256 of the file's content, which names the object.
    package var oid: Digest
    /// The content's size in bytes.
    package var size: UInt64

    /// git-lfs reads blobs below this size to look for pointers; a pointer is never larger.
    static let maximumSize = 1024
    /// The shortest possible pointer (a one-digit size): smaller blobs need not be read.
    static let minimumSize = "version \(versions[0])\noid sha256:\(String(repeating: "0", count: 64))\nsize 0\n".utf8.count
    /// The current spec, and the name git-lfs's pre-release used, which it still reads.
    static let versions = ["https://git-lfs.github.com/spec/v1", "https://hawser.github.com/spec/v1"]

    /// The pointer `data` holds, or nil when it is not exactly a pointer.
    package init?(parsing data: Data) {
        guard data.count >= Self.minimumSize, data.count < Self.maximumSize, data.last == UInt8(ascii: "\n"),
              let text = String(data: data.dropLast(), encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 3, lines[0].hasPrefix("version "), Self.versions.contains(String(lines[0].dropFirst(8))),
              lines[1].hasPrefix("oid sha256:"), lines[2].hasPrefix("size ") else { return nil }
        let hex = String(lines[1].dropFirst(11)), digits = lines[2].dropFirst(5)
        guard let oid = Digest(hex: hex), !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let size = UInt64(digits) else { return nil }
        self.oid = oid
        self.size = size
    }
}

extension Repository {
    /// The LFS pointer held by the blob `id`, or nil. Reads the blob only when its size (from the object's
    /// header) could be a pointer's, so a large tracked file is never inflated to find out.
    package func lfsPointer(blob id: ObjectID) throws -> LFSPointer? {
        var odb: OpaquePointer?
        try Git.check(git_repository_odb(&odb, handle), "git_repository_odb")
        defer { git_odb_free(odb) }
        return try lfsPointer(blob: id, odb: odb!)
    }

    func lfsPointer(blob id: ObjectID, odb: OpaquePointer) throws -> LFSPointer? {
        var oid = id.raw
        var size = 0
        var type = GIT_OBJECT_INVALID
        try Git.check(git_odb_read_header(&size, &type, odb, &oid), "git_odb_read_header")
        guard type == GIT_OBJECT_BLOB, size >= LFSPointer.minimumSize, size < LFSPointer.maximumSize else { return nil }
        return LFSPointer(parsing: try blob(id))
    }

    /// The git directory shared by all worktrees of this repository (`.git/` of the main one): where
    /// its objects and Git LFS's objects live.
    package var commonDirectory: String {
        let path = String(cString: git_repository_commondir(handle))
        return path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// Where git-lfs keeps the content named by `oid`: `<common dir>/lfs/objects/<aa>/<bb>/<oid>`.
    func lfsObjectPath(_ oid: Digest) -> String { LFSPointer.objectPath(oid, commonDirectory: commonDirectory) }
}

extension LFSPointer {
    /// Where git-lfs keeps the content named by `oid` for the repository whose common git directory is given.
    package static func objectPath(_ oid: Digest, commonDirectory: String) -> String {
        "\(commonDirectory)/lfs/objects/\(oid.hex.prefix(2))/\(oid.hex.dropFirst(2).prefix(2))/\(oid.hex)"
    }
}
