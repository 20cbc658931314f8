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
    let path: String
    /// The manifest digest the copy held when recorded.
    let digest: Digest
    /// The record as encoded, and where each file's entry starts in it: read in place, with no String per
    /// file (a million files' record is over 100 MB).
    private let bytes: [UInt8]
    private let starts: [Int]

    static let magic = Array("PLUMBKC1".utf8)

    /// How many files it lists.
    var count: Int { starts.count }

    /// Its files, sorted by path in the byte order of UTF-8 (a manifest's order).
    var files: [File] {
        (0..<count).map { i in
            withFile(i) { path, executable, stamp, hex in
                File(path: String(decoding: path, as: UTF8.self), executable: executable, stamp: stamp,
                     digest: Digest(hex: String(decoding: hex, as: UTF8.self))!)
            }
        }
    }

    static func == (a: Self, b: Self) -> Bool { a.path == b.path && a.digest == b.digest && a.files == b.files }

    /// The `i`th file's path bytes, execute bit, stamp and hex digest bytes.
    func withFile<T>(_ i: Int, _ body: (UnsafeRawBufferPointer, Bool, FileStamp, UnsafeRawBufferPointer) -> T) -> T {
        bytes.withUnsafeBytes { raw in
            let at = starts[i]
            let n = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 1, as: UInt32.self)))
            let fields = at + 5 + n
            func field(_ k: Int) -> Int64 { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: fields + 8 * k, as: Int64.self)) }
            let stamp = FileStamp(device: UInt64(bitPattern: field(0)), inode: UInt64(bitPattern: field(1)), size: field(2),
                                  mtimeNanoseconds: field(3), ctimeNanoseconds: field(4))
            return body(UnsafeRawBufferPointer(rebasing: raw[(at + 5)..<fields]), raw[at] == UInt8(ascii: "x"), stamp,
                        UnsafeRawBufferPointer(rebasing: raw[(fields + 40)..<(fields + 104)]))
        }
    }

    // "PLUMBKC1"; UInt32 path length, path; 64 hex digest bytes; UInt32 file count; per file: a kind byte
    // (`f`, or `x` executable), UInt32 path length, path, five Int64 stamp fields, 64 hex digest bytes; then
    // the SHA-256 of everything before it (32 bytes). Little endian.
    static func encode(path: String, digest: Digest, files: some Collection<File>) -> Data {
        // Into the Data itself: a million files' record is not built twice.
        var out = Data(capacity: 128 + path.utf8.count + files.count * 140)
        out.append(contentsOf: magic)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func put(_ text: String) {
            var text = text
            put(UInt32(text.utf8.count))
            text.withUTF8 { out.append($0) }
        }
        func putHex(_ d: Digest) { var hex = d.hex; hex.withUTF8 { out.append($0) } }
        put(path)
        putHex(digest)
        put(UInt32(files.count))
        for f in files {
            out.append(f.executable ? UInt8(ascii: "x") : UInt8(ascii: "f"))
            put(f.path)
            for field in f.stamp.fields { put(field) }
            putHex(f.digest)
        }
        let sum = out.withUnsafeBytes { SHA256Hasher.digest($0) }
        out.append(contentsOf: sum)
        return out
    }

    func encoded() -> Data { Data(bytes) }

    /// The record in `data` if it is a sound record of the copy of `path`; nil otherwise.
    init?(_ data: Data, path expected: String) {
        let bytes = [UInt8](data)
        let parsed = bytes.withUnsafeBytes { raw -> (String, Digest, [Int])? in
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
            func hex() -> UnsafeRawBufferPointer? {
                guard at + 64 <= end else { return nil }
                defer { at += 64 }
                return UnsafeRawBufferPointer(rebasing: body[at..<(at + 64)])
            }
            guard let n = u32(), n <= end - at else { return nil }
            let path = String(decoding: UnsafeRawBufferPointer(rebasing: body[at..<(at + n)]), as: UTF8.self)
            at += n
            guard path == expected, let d = hex(), let digest = Digest(hex: String(decoding: d, as: UTF8.self)), let count = u32(),
                  count <= (end - at) / (1 + 4 + 40 + 64) else { return nil }
            var starts: [Int] = []
            starts.reserveCapacity(count)
            var last: UnsafeRawBufferPointer?
            for _ in 0..<count {
                guard at < end else { return nil }
                let start = at
                let kind = body[at]
                at += 1
                guard kind == UInt8(ascii: "f") || kind == UInt8(ascii: "x"), let n = u32(), n > 0, n <= end - at else { return nil }
                let name = UnsafeRawBufferPointer(rebasing: body[at..<(at + n)])
                at += n
                // A path is only ever compared with the source's (never written through), but a record that
                // could not have been written is not one: relative, normalised, in order, no NUL.
                guard Self.isNormalised(name), last.map({ bytesPrecede($0, name) }) ?? true, at + 40 <= end else { return nil }
                last = name
                at += 40
                guard let h = hex(), h.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
                starts.append(start)
            }
            return at == end ? (path, digest, starts) : nil
        }
        guard let (path, digest, starts) = parsed else { return nil }
        self.path = path
        self.digest = digest
        self.bytes = bytes
        self.starts = starts
    }

    /// A relative path of non-empty parts, none `.` or `..`, with no NUL (`RecordRules.normalisedProblem`, on bytes).
    private static func isNormalised(_ name: UnsafeRawBufferPointer) -> Bool {
        var partStart = 0
        for i in 0...name.count {
            if i < name.count, name[i] == 0 { return false }
            guard i == name.count || name[i] == UInt8(ascii: "/") else { continue }
            let n = i - partStart
            if n == 0 { return false }
            if name[partStart] == UInt8(ascii: "."), n == 1 || (n == 2 && name[partStart + 1] == UInt8(ascii: ".")) { return false }
            partStart = i + 1
        }
        return true
    }
}
