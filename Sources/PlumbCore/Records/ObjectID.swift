import Foundation

/// A git object id (SHA-1 hex), copied out of libgit2 so no C pointer escapes.
///
/// It holds exactly 40 lowercase hex characters: ids are read from records (`lastCommit`, a pin's
/// `commit`) that anyone with push access can write, so text of another shape is refused there.
package struct ObjectID: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    package let hex: String
    /// The id written as `hex`, or nil unless `hex` is 40 lowercase hex characters.
    package init?(hex: String) {
        guard Self.isValid(hex) else { return nil }
        self.hex = hex
    }
    /// An id the caller formatted itself (libgit2's, or the zero id): checked only in debug builds.
    package init(validHex hex: String) {
        assert(Self.isValid(hex))
        self.hex = hex
    }
    /// The all-zero id, git's "no object" (a pin promoted from an environment that never recorded a commit).
    package static let zero = ObjectID(validHex: String(repeating: "0", count: 40))
    package var short: String { String(hex.prefix(10)) }
    package var description: String { hex }
    package static func < (a: ObjectID, b: ObjectID) -> Bool { a.hex < b.hex }

    /// Whether `text` has the shape of a SHA-1 object id.
    package static func isValid(_ text: String) -> Bool { isLowercaseHex(text, count: 40) }

    package init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = ObjectID(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected a git object id (40 lowercase hex characters), found \(RecordRules.quoted(text))")
        }
        self = id
    }
    package func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(hex) }
}
