import Foundation
import PlumbCore

/// One folder's record in the `FolderLog`, read in place from its bytes (nothing is copied until used).
///
/// Body: UInt32 path length, the folder's absolute path, UInt64 device, the 32-byte tree digest, a flag
/// and 32 bytes for the manifest digest of the folder as a dep root (when it was one), UInt32 entry count,
/// then per entry, in manifest order (a folder's key ends in `/`): a kind byte, UInt16 key length, the key,
/// and for `f`/`x` a file's inode, size, mtime, ctime, hash time (8 bytes each) and 32 digest bytes; for
/// `l` UInt32 length and the link's target; for `d` the subfolder's 32-byte tree digest. Little endian.
struct FolderRecord {
    struct Entry {
        var kind: UInt8
        var key: UnsafeRawBufferPointer
        /// Offset of what follows the key.
        var payload: Int
    }

    let body: UnsafeRawBufferPointer
    let device: UInt64
    let tree: UnsafeRawBufferPointer
    let flat: UnsafeRawBufferPointer?
    let entries: [Entry]

    static let fileKind = UInt8(ascii: "f"), executableKind = UInt8(ascii: "x")
    static let linkKind = UInt8(ascii: "l"), folderKind = UInt8(ascii: "d")
    static let fileFields = 5 * 8 + 32

    /// Nil when the bytes do not parse (the checksum passed, so only a bug or a crafted file gets here).
    init?(body: UnsafeRawBufferPointer) {
        var at = 0
        func need(_ n: Int) -> Bool { at + n <= body.count }
        func u32() -> Int? {
            guard need(4) else { return nil }
            defer { at += 4 }
            return Int(body.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
        }
        guard let pathLength = u32(), need(pathLength + 8 + 32 + 1 + 32) else { return nil }
        at += pathLength
        device = body.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian
        at += 8
        tree = UnsafeRawBufferPointer(rebasing: body[at..<(at + 32)])
        at += 32
        let hasFlat = body[at] == 1
        flat = hasFlat ? UnsafeRawBufferPointer(rebasing: body[(at + 1)..<(at + 33)]) : nil
        at += 33
        guard let count = u32(), count <= body.count else { return nil }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            guard need(3) else { return nil }
            let kind = body[at]
            let keyLength = Int(body.loadUnaligned(fromByteOffset: at + 1, as: UInt16.self).littleEndian)
            at += 3
            guard keyLength > 0, need(keyLength) else { return nil }
            let key = UnsafeRawBufferPointer(rebasing: body[at..<(at + keyLength)])
            at += keyLength
            let payload = at
            switch kind {
            case Self.fileKind, Self.executableKind: at += Self.fileFields
            case Self.folderKind: at += 32
            case Self.linkKind:
                guard let n = u32() else { return nil }
                at += n
            default: return nil
            }
            guard at <= body.count else { return nil }
            entries.append(Entry(kind: kind, key: key, payload: payload))
        }
        guard at == body.count else { return nil }
        self.body = body
        self.entries = entries
    }

    func field(_ e: Entry, _ n: Int) -> Int64 {
        Int64(littleEndian: body.loadUnaligned(fromByteOffset: e.payload + 8 * n, as: Int64.self))
    }
    /// A file entry's stamp (with this folder's device) and hash time.
    func stamp(_ e: Entry) -> (stamp: FileStamp, hashedAt: Int64) {
        (FileStamp(device: device, inode: UInt64(bitPattern: field(e, 0)), size: field(e, 1),
                   mtimeNanoseconds: field(e, 2), ctimeNanoseconds: field(e, 3)), field(e, 4))
    }
    /// A file's content digest or a folder's tree digest.
    func digest(_ e: Entry) -> UnsafeRawBufferPointer {
        let at = e.payload + (e.kind == Self.folderKind ? 0 : 5 * 8)
        return UnsafeRawBufferPointer(rebasing: body[at..<(at + 32)])
    }
    func linkTarget(_ e: Entry) -> UnsafeRawBufferPointer {
        let n = Int(body.loadUnaligned(fromByteOffset: e.payload, as: UInt32.self).littleEndian)
        return UnsafeRawBufferPointer(rebasing: body[(e.payload + 4)..<(e.payload + 4 + n)])
    }

    /// The encoded body of a record.
    static func encode(folder: String, device: UInt64, tree: [UInt8], flat: [UInt8]?, entries: [WalkedEntry]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(64 + folder.utf8.count + entries.count * (24 + fileFields))
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        put(UInt32(folder.utf8.count)); out += folder.utf8
        put(device)
        out += tree
        out.append(flat == nil ? 0 : 1); out += flat ?? [UInt8](repeating: 0, count: 32)
        put(UInt32(entries.count))
        for e in entries {
            out.append(e.kind)
            put(UInt16(e.key.count)); out += e.key
            switch e.kind {
            case folderKind: out += e.value
            case linkKind: put(UInt32(e.value.count)); out += e.value
            default:
                put(e.stamp.inode); put(e.stamp.size); put(e.stamp.mtimeNanoseconds); put(e.stamp.ctimeNanoseconds); put(e.hashedAt)
                out += e.value
            }
        }
        return out
    }

    /// The offset of the flag before the flat digest in a body encoded for `folder`.
    static func flatOffset(folder: String) -> Int { 4 + folder.utf8.count + 8 + 32 }
}

/// One entry of a folder as a walk found it, ready to be recorded.
struct WalkedEntry {
    var kind: UInt8
    /// The name, with `/` appended for a folder.
    var key: [UInt8]
    var stamp: FileStamp
    var hashedAt: Int64
    /// A file's 32 digest bytes, a folder's tree digest, or a link's target.
    var value: [UInt8]
}
