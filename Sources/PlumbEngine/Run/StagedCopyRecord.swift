import Foundation
import PlumbCore
import PlumbStore

/// What Plumb knows of a staged copy of an untracked data folder it keeps between runs (`KeptInputs`):
/// each regular file of the copy by its path relative to the folder, the stamp the copy's file had when
/// staged, and the SHA-256 of its content. A file whose stamp is still the recorded one still holds
/// that content (a write, a rename over, a chmod all change ctime), so re-staging copies only files
/// whose source content differs or whose copy was touched.
///
/// Local state in `.plumb/`, untrusted like the stat cache: written atomically (temporary file, fsync,
/// rename) and checksummed, so a crash leaves the old record or the new one; a record that fails its
/// checksum, does not parse, names another folder, or lists paths that are not normalised or not in
/// order is discarded, and the folder is copied in full.
struct StagedCopyRecord: Equatable {
    /// One regular file of the copy.
    struct File: Equatable {
        var path: String
        var executable: Bool
        var stamp: FileStamp
        var digest: Digest
    }

    /// The dep's path in the workspace (`data`).
    var path: String
    /// The manifest digest the copy held when recorded.
    var digest: Digest
    /// Sorted by path, in the byte order of UTF-8 (a manifest's order).
    var files: [File]

    static let magic = Array("PLUMBKC1".utf8)

    // "PLUMBKC1"; UInt32 path length, path; 64 hex digest bytes; UInt32 file count; per file: a kind byte
    // (`f`, or `x` executable), UInt32 path length, path, five Int64 stamp fields, 64 hex digest bytes; then
    // the SHA-256 of everything before it (32 bytes). Little endian.
    func encoded() -> Data {
        var out = Self.magic
        out.reserveCapacity(64 + files.count * 150)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func put(_ text: String) { put(UInt32(text.utf8.count)); out += text.utf8 }
        put(path)
        out += digest.hex.utf8
        put(UInt32(files.count))
        for f in files {
            out.append(f.executable ? UInt8(ascii: "x") : UInt8(ascii: "f"))
            put(f.path)
            for field in f.stamp.fields { put(field) }
            out += f.digest.hex.utf8
        }
        out += out.withUnsafeBytes { SHA256Hasher.digest($0) }
        return Data(out)
    }

    /// The record in `data` if it is a sound record of the copy of `path`; nil otherwise.
    init?(_ data: Data, path expected: String) {
        let bytes = [UInt8](data)
        guard bytes.count >= Self.magic.count + 32, bytes.starts(with: Self.magic) else { return nil }
        let end = bytes.count - 32
        guard bytes[..<end].withUnsafeBytes({ SHA256Hasher.digest($0) }).elementsEqual(bytes[end...]) else { return nil }
        var at = Self.magic.count
        func u32() -> Int? {
            guard at + 4 <= end else { return nil }
            defer { at += 4 }
            return Int(bytes[at..<(at + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }.littleEndian)
        }
        func i64() -> Int64? {
            guard at + 8 <= end else { return nil }
            defer { at += 8 }
            return bytes[at..<(at + 8)].withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }.littleEndian
        }
        func text() -> String? {
            guard let n = u32(), n <= end - at else { return nil }
            defer { at += n }
            return String(decoding: bytes[at..<(at + n)], as: UTF8.self)
        }
        func hexDigest() -> Digest? {
            guard at + 64 <= end else { return nil }
            defer { at += 64 }
            return Digest(hex: String(decoding: bytes[at..<(at + 64)], as: UTF8.self))
        }
        guard let path = text(), path == expected, let digest = hexDigest(), let count = u32(),
              count <= (end - at) / (1 + 4 + 40 + 64) else { return nil }
        var files: [File] = []
        files.reserveCapacity(count)
        for _ in 0..<count {
            guard at < end else { return nil }
            let kind = bytes[at]
            at += 1
            guard kind == UInt8(ascii: "f") || kind == UInt8(ascii: "x"), let file = text(),
                  RecordRules.normalisedProblem(file, allowAbsolute: false) == nil else { return nil }
            if let last = files.last, !last.path.utf8.lexicographicallyPrecedes(file.utf8) { return nil }
            var fields: [Int64] = []
            for _ in 0..<5 {
                guard let v = i64() else { return nil }
                fields.append(v)
            }
            guard let stamp = FileStamp(fields: fields), let d = hexDigest() else { return nil }
            files.append(File(path: file, executable: kind == UInt8(ascii: "x"), stamp: stamp, digest: d))
        }
        guard at == end else { return nil }
        self.path = path
        self.digest = digest
        self.files = files
    }

    init(path: String, digest: Digest, files: [File]) {
        self.path = path
        self.digest = digest
        self.files = files
    }
}
