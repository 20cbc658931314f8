import CCrypto
import Foundation

/// A SHA-256 digest in lowercase hex, the identity of content in the cache and in records.
///
/// It can hold nothing but 64 lowercase hex characters: digests are read from records that anyone
/// with push access can write, and the cache builds file paths from them, so a value such as
/// `../../home/u/notes.txt` must be refused where it is read, not wherever it is used.
package struct Digest: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// 64 lowercase hex characters.
    package let hex: String
    /// The digest written as `hex`, or nil unless `hex` is 64 lowercase hex characters.
    package init?(hex: String) {
        guard Self.isValid(hex) else { return nil }
        self.hex = hex
    }
    /// The digest whose 32 raw bytes are `bytes` (always valid: it is formatted here).
    package init<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        precondition(bytes.count == 32, "a SHA-256 digest has 32 bytes")
        hex = SHA256Hasher.hex(bytes)
    }
    package var description: String { hex }
    /// The first 12 characters, for people.
    package var short: String { String(hex.prefix(12)) }
    package static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }

    package init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = Digest(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected a SHA-256 digest (64 lowercase hex characters), found \(RecordRules.quoted(text))")
        }
        self = digest
    }
    package func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }

    /// Whether `text` has the shape of a SHA-256 hex digest.
    package static func isValid(_ text: String) -> Bool { isLowercaseHex(text, count: 64) }
}

/// Whether `text` is exactly `count` characters of 0-9 and a-f: the one shape check of the ids
/// records carry (SHA-256 digests, git object ids).
func isLowercaseHex(_ text: String, count: Int) -> Bool {
    text.utf8.count == count && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
}

/// Incremental SHA-256 over OpenSSL's EVP interface (which uses the CPU's SHA instructions).
package final class SHA256Hasher {
    private let context: OpaquePointer

    /// A hasher with nothing added yet.
    package init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }
    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes to the digest.
    package func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }
    /// Adds bytes to the digest.
    package func update(_ data: Data) { data.withUnsafeBytes { update($0) } }
    /// Adds a string's UTF-8 bytes to the digest.
    package func update(_ text: String) { update(Data(text.utf8)) }

    /// The digest of everything added; call once.
    package func finish() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return Digest(bytes: out)
    }

    static func hex<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        // Written in place: thousands of digests are formatted when the stat cache loads.
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var i = 0
            for b in bytes {
                out[i] = hexDigit(b >> 4); out[i + 1] = hexDigit(b & 15)
                i += 2
            }
            return i
        }
    }

    /// `hex(bytes)` appended to `out` as UTF-8, for encoders that write bytes (a streamed manifest).
    package static func appendHex(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        for b in bytes { out.append(hexDigit(b >> 4)); out.append(hexDigit(b & 15)) }
    }

    @inline(__always) private static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 87 + v }

    /// The digest of bytes in memory.
    package static func digest(_ data: Data) -> Digest {
        let h = SHA256Hasher(); h.update(data); return h.finish()
    }

    /// The 32 raw digest bytes of bytes in memory.
    package static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let context = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(context) }
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
        if let base = bytes.baseAddress, bytes.count > 0 { EVP_DigestUpdate(context, base, bytes.count) }
        EVP_DigestFinal_ex(context, &out, &length)
        return out
    }
    /// The digest of a string's UTF-8 bytes.
    package static func digest(_ text: String) -> Digest { digest(Data(text.utf8)) }

    /// The digest of a file's content, read in large chunks with plain read(2).
    package static func digest(fileAt path: String) throws -> Digest {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PlumbError("cannot read \(path): \(errnoText())") }
        defer { close(fd) }
        return try digest(descriptor: fd, path: path)
    }

    /// The digest of what remains to be read from an open file descriptor, read in 1 MiB chunks.
    /// `eachChunk` sees every chunk once it is hashed (so a copy can be hashed as it is made);
    /// `path` names the file in errors.
    package static func digest(
        descriptor fd: Int32, path: String,
        eachChunk: (UnsafeRawBufferPointer) throws -> Void = { _ in }
    ) throws -> Digest {
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        let h = SHA256Hasher()
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n: Int
            do { n = try FileDescriptor.retryingInterrupts { read(fd, buffer, size) } } catch {
                throw PlumbError("cannot read \(path): \(error)")
            }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(start: buffer, count: n)
            h.update(chunk)
            try eachChunk(chunk)
        }
        return h.finish()
    }
}
