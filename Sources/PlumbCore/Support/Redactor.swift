import Foundation

/// Replaces secret values with `***` in text that leaves Plumb: stage logs, the log tail kept in a
/// run record, probe output, error messages, anything printed (JSON included).
///
/// A secret is matched line by line: each line of a multi-line value (a PEM key) is a needle of its
/// own, trimmed of surrounding whitespace (a value read from a file often ends in a newline, which
/// a log line never contains), so a key printed line by line is masked line by line. Each needle is
/// also matched in its JSON-escaped spelling, so `--json` output of a value holding `"` or `\` is
/// masked too. Passwords inside URLs (`https://user:token@host/…`) are masked whatever their value.
package struct Redactor: Sendable {
    /// What a secret is replaced with.
    static let mask = "***"
    /// Values (and lines of a multi-line value) shorter than this are not masked: they cannot be
    /// secret in any useful sense, and masking them would garble every log (a variable `0` passed
    /// through as a secret would mask every zero) and break `--json` output, which is redacted too.
    static let shortestMasked = 4

    /// Needles in bytes, longest first, so a secret that contains another is replaced whole.
    private let needles: [[UInt8]]
    /// The first byte of every needle, to skip most positions at the cost of one lookup.
    private let firstBytes: Set<UInt8>

    /// A redactor for these secret values (values shorter than `shortestMasked` are ignored).
    package init<S: Sequence>(secrets: S) where S.Element == String {
        var found = Set<[UInt8]>()
        for value in secrets {
            let whole = value.trimmingCharacters(in: .whitespacesAndNewlines)
            guard whole.count >= Self.shortestMasked else { continue }
            var parts = [whole]
            let lines = whole.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            if lines.count > 1 { parts += lines.filter { $0.count >= Self.shortestMasked } }
            for part in parts {
                found.insert(Array(part.utf8))
                let escaped = String(JSONValue.quote(part).dropFirst().dropLast())
                if escaped != part { found.insert(Array(escaped.utf8)) }
            }
        }
        needles = found.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
        firstBytes = Set(needles.map { $0[0] })
    }

    /// A redactor that masks nothing but URL passwords.
    package static let none = Redactor(secrets: [])

    /// Whether there is no secret value to mask (URL passwords are masked still).
    package var isEmpty: Bool { needles.isEmpty }

    /// Masks the secrets of both.
    package func merging(_ other: Redactor) -> Redactor {
        Redactor(needles: Set(needles).union(other.needles))
    }

    private init(needles: Set<[UInt8]>) {
        self.needles = needles.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
        firstBytes = Set(self.needles.map { $0[0] })
    }

    /// `text` with every secret and every URL password masked.
    package func redact(_ text: String) -> String {
        var bytes = Array(text.utf8)
        if !needles.isEmpty { bytes = redact(bytes[...], final: true).output }
        let masked = String(decoding: bytes, as: UTF8.self)
        return Self.removingURLCredentials(masked)
    }

    /// One line of output (without its newline): secrets and URL passwords masked.
    package func redactLine(_ line: ArraySlice<UInt8>) -> [UInt8] {
        let bytes = needles.isEmpty ? Array(line) : redact(line, final: true).output
        guard Self.containsScheme(bytes) else { return bytes }
        return Array(Self.removingURLCredentials(String(decoding: bytes, as: UTF8.self)).utf8)
    }

    /// Masks what can be decided in `bytes`: with `final` false, a tail too short to rule out the
    /// start of a secret is left unconsumed, so a secret split across two reads is still found.
    /// Returns the masked bytes and how many input bytes they stand for.
    package func redact(_ bytes: ArraySlice<UInt8>, final: Bool) -> (output: [UInt8], consumed: Int) {
        guard let longest = needles.first?.count else { return (Array(bytes), bytes.count) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        let mask = Array(Self.mask.utf8)
        var i = bytes.startIndex
        let end = bytes.endIndex
        scanning: while i < end {
            if !final && end - i < longest { break }
            if firstBytes.contains(bytes[i]) {
                for needle in needles where end - i >= needle.count && bytes[i] == needle[0] {
                    if bytes[i..<(i + needle.count)].elementsEqual(needle) {
                        out += mask
                        i += needle.count
                        continue scanning
                    }
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return (out, i - bytes.startIndex)
    }

    /// Whether `bytes` contain `://` (found with memchr: every line of a stage's output is checked).
    private static func containsScheme(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return false }
            var p = UnsafeRawPointer(base)
            let end = p + buffer.count
            while end - p >= 3, let found = memchr(p, 58, end - p) {
                let colon = UnsafeRawPointer(found)
                if end - colon >= 3 && colon.load(fromByteOffset: 1, as: UInt8.self) == 47
                    && colon.load(fromByteOffset: 2, as: UInt8.self) == 47 { return true }
                p = colon + 1
            }
            return false
        }
    }

    /// `text` with the password of every URL masked (`https://user:***@host/…`). A user name alone
    /// is kept, except in http(s) URLs, where it is often the token itself (`https://<token>@host`).
    package static func removingURLCredentials(_ text: String) -> String {
        guard text.contains("://") else { return text }
        var result = ""
        var rest = text[...]
        while let separator = rest.range(of: "://") {
            let scheme = rest[..<separator.lowerBound].reversed().prefix { $0.isLetter || $0 == "+" || $0 == "-" || $0 == "." }
            result += rest[..<separator.upperBound]
            let after = rest[separator.upperBound...]
            let authorityEnd = after.firstIndex { "/?#\"'<>`".contains($0) || $0.isWhitespace } ?? after.endIndex
            let authority = after[..<authorityEnd]
            guard let at = authority.lastIndex(of: "@") else { rest = after; continue }
            let userinfo = authority[..<at]
            if let colon = userinfo.firstIndex(of: ":") {
                result += userinfo[..<colon] + ":" + mask
            } else if ["http", "https"].contains(String(scheme.reversed()).lowercased()) {
                result += mask
            } else {
                result += userinfo
            }
            result += "@"
            rest = after[authority.index(after: at)...]
        }
        return result + rest
    }

    // MARK: - This process

    private static let known = Locked<Redactor>(Redactor(secrets: PlumbCredentials.secretValues(in: ProcessInfo.processInfo.environment)))

    /// Masks Plumb's own credentials (from this process's environment) and every secret value this
    /// process has handed to a stage so far: what the command line applies to all it prints.
    package static var process: Redactor { known.withLock { $0 } }

    /// Adds secret values to `process` (done by `StageEnvironment` for each secret it passes on).
    package static func remember<S: Sequence>(_ values: S) where S.Element == String {
        let added = Redactor(secrets: values)
        guard !added.isEmpty else { return }
        known.withLock { current in
            if !Set(added.needles).isSubset(of: current.needles) { current = current.merging(added) }
        }
    }
}
