import Foundation

/// One line of an import's report: what became of something another tool's file declares,
/// at the line that declares it (`dvc.yaml:12:7: approximated: …`).
package struct ImportNote: Sendable, Hashable, Codable, CustomStringConvertible {
    /// How faithfully a declaration was carried over.
    package enum Kind: String, Sendable, Codable, CaseIterable {
        /// Plumb does the same thing.
        case mapped
        /// Plumb does something close; the message says what differs.
        case approximated
        /// Left out; the hint says what to do instead.
        case unsupported
    }

    package var kind: Kind
    package var location: SourceLocation
    package var message: String
    package var hint: String?

    package init(_ kind: Kind, at location: SourceLocation, _ message: String, hint: String? = nil) {
        self.kind = kind
        self.location = location
        self.message = message
        self.hint = hint
    }

    /// `dvc.yaml:12:7: mapped: …`, and the hint on the next line as diagnostics print it. The
    /// message quotes the imported file's values, so it is escaped like a diagnostic's.
    package var description: String {
        var text = "\(Escape.terminal(location.file)):\(location.line):\(location.column): \(kind.rawValue): \(Escape.terminal(message))"
        if let hint { text += "\n  hint: \(Escape.terminal(hint))" }
        return text
    }
}

extension Array where Element == ImportNote {
    /// In file order, then by kind and message: the order a person reads the file in.
    package func sortedForDisplay() -> [ImportNote] {
        sorted { a, b in
            if a.location != b.location { return a.location < b.location }
            if a.kind != b.kind { return Kind.order(a.kind) < Kind.order(b.kind) }
            return a.message < b.message
        }
    }

    /// How many notes of each kind, for the summary line.
    package func count(_ kind: ImportNote.Kind) -> Int { filter { $0.kind == kind }.count }

    private typealias Kind = ImportNote.Kind
}

extension ImportNote.Kind {
    fileprivate static func order(_ kind: Self) -> Int { allCases.firstIndex(of: kind) ?? 0 }
}
