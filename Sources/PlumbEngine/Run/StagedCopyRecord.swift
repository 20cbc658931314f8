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
        // Read in place (a million files' record is over 100 MB): no copy, no per-field slices.
        let parsed = data.withUnsafeBytes { raw -> (String, Digest, [File])? in
            guard raw.count >= Self.magic.count + 32, raw.prefix(Self.magic.count).elementsEqual(Self.magic) else { return nil }
            let end = raw.count - 32
            let body = UnsafeRawBufferPointer(rebasing: raw[0..<end])
            guard SHA256Hasher.digest(body).elementsEqual(raw[end...]) else { return nil }
            var at = Self.magic.count
            func u32() -> Int? {
                guard at + 4 <= end else { return nil }
                defer { at += 4 }
                return Int(UInt32(littleEndian: body.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            }
            func i64() -> Int64? {
                guard at + 8 <= end else { return nil }
                defer { at += 8 }
                return Int64(littleEndian: body.loadUnaligned(fromByteOffset: at, as: Int64.self))
            }
            func text() -> String? {
                guard let n = u32(), n <= end - at else { return nil }
                defer { at += n }
                return String(decoding: UnsafeRawBufferPointer(rebasing: body[at..<(at + n)]), as: UTF8.self)
            }
            func hexDigest() -> Digest? {
                guard at + 64 <= end else { return nil }
                defer { at += 64 }
                return Digest(hex: String(decoding: UnsafeRawBufferPointer(rebasing: body[at..<(at + 64)]), as: UTF8.self))
            }
            guard let path = text(), path == expected, let digest = hexDigest(), let count = u32(),
                  count <= (end - at) / (1 + 4 + 40 + 64) else { return nil }
            var files: [File] = []
            files.reserveCapacity(count)
            for _ in 0..<count {
                guard at < end else { return nil }
                let kind = body[at]
                at += 1
                guard kind == UInt8(ascii: "f") || kind == UInt8(ascii: "x"), let file = text(),
                      RecordRules.normalisedProblem(file, allowAbsolute: false) == nil else { return nil }
                if let last = files.last, !StagedCopy.precedes(last.path, file) { return nil }
                guard let device = i64(), let inode = i64(), let size = i64(), let mtime = i64(), let ctime = i64(),
                      let d = hexDigest() else { return nil }
                let stamp = FileStamp(device: UInt64(bitPattern: device), inode: UInt64(bitPattern: inode), size: size,
                                      mtimeNanoseconds: mtime, ctimeNanoseconds: ctime)
                files.append(File(path: file, executable: kind == UInt8(ascii: "x"), stamp: stamp, digest: d))
            }
            return at == end ? (path, digest, files) : nil
        }
        guard let (path, digest, files) = parsed else { return nil }
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
