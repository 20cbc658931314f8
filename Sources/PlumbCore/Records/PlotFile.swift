import Foundation

/// A plot file a stage wrote, read into the `PlotData` a run records: rows of named values in
/// CSV (RFC 4180 quoting), TSV (tab-separated, unquoted), JSON or YAML (a list of objects, or an
/// object holding one such list, as DVC accepts). The file is untrusted: every problem is a
/// `PlotFileError` with the line it is on, never a crash, and the bytes read are bounded.
package enum PlotFile {
    /// The largest plot file read, in bytes; a larger one is not recorded.
    package static let maximumBytes = 16 * 1024 * 1024

    package struct Reading: Sendable, Equatable {
        package var data: PlotData
        /// What was read but not recorded, for a warning: cells that are not numbers, columns past the limit.
        package var notes: [String]
    }

    /// Reads `data`, the content of a file in `format`.
    package static func read(_ data: Data, format: PlotFormat) throws(PlotFileError) -> Reading {
        guard data.count <= maximumBytes else {
            throw PlotFileError(line: nil, "is larger than \(formatBytes(Int64(maximumBytes))), the most Plumb reads of a plot")
        }
        let bytes = [UInt8](data)
        var table = Table()
        switch format {
        case .csv: try readDelimited(bytes, separator: UInt8(ascii: ","), quoting: true, into: &table)
        case .tsv: try readDelimited(bytes, separator: 0x09, quoting: false, into: &table)
        case .json:
            let root: OrderedJSON.Value
            do { root = try OrderedJSON.parse(bytes) } catch { throw PlotFileError(line: error.line, "is not JSON: \(error.reason)") }
            try readRows(root, into: &table)
        case .yaml:
            try readYAML(bytes, into: &table)
        }
        return table.reading()
    }

    // MARK: - CSV and TSV

    /// Records of `separator`-separated fields, the first the header; with `quoting`, a field in
    /// double quotes may hold separators, newlines and `""` for a quote.
    private static func readDelimited(_ bytes: [UInt8], separator: UInt8, quoting: Bool, into table: inout Table) throws(PlotFileError) {
        var offset = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var header: [String]?
        while offset < bytes.count {
            let start = line
            var fields: [String] = []
            var field: [UInt8] = []
            var quoted = false
            var endOfRecord = false
            while offset < bytes.count && !endOfRecord {
                let c = bytes[offset]
                if quoting && field.isEmpty && !quoted && c == UInt8(ascii: "\"") {
                    // A quoted field: up to the closing quote, then a separator or the end of the line.
                    quoted = true
                    offset += 1
                    var closed = false
                    while offset < bytes.count {
                        let q = bytes[offset]
                        offset += 1
                        if q == UInt8(ascii: "\"") {
                            if offset < bytes.count && bytes[offset] == UInt8(ascii: "\"") { field.append(q); offset += 1; continue }
                            closed = true
                            break
                        }
                        if q == 0x0A { line += 1 }
                        field.append(q)
                    }
                    guard closed else { throw PlotFileError(line: start, "has a quoted field that is never closed") }
                    if offset < bytes.count, bytes[offset] == 0x0D { offset += 1 }
                    guard offset == bytes.count || bytes[offset] == separator || bytes[offset] == 0x0A else {
                        throw PlotFileError(line: line, "has text after a closing quote")
                    }
                    continue
                }
                offset += 1
                switch c {
                case separator:
                    fields.append(text(field))
                    field = []
                    quoted = false
                case 0x0A:
                    line += 1
                    endOfRecord = true
                case 0x0D where offset < bytes.count && bytes[offset] == 0x0A:
                    continue
                default:
                    field.append(c)
                }
            }
            fields.append(text(field))
            // Blank lines (a trailing newline, a gap) hold no row.
            if fields.count == 1 && fields[0].isEmpty && !quoted { continue }
            guard let names = header else {
                header = fields.map { $0.trimmingCharacters(in: .whitespaces) }
                try table.setHeader(header!, line: start)
                continue
            }
            guard fields.count == names.count else {
                throw PlotFileError(line: start, "has \(fields.count) field\(fields.count == 1 ? "" : "s") on this line; the header has \(names.count)")
            }
            table.addRow(fields.enumerated().map { (names[$0.offset], Cell(text: $0.element)) }, line: start)
        }
        guard header != nil else { throw PlotFileError(line: 1, "is empty; a plot file starts with a header row naming its columns") }
    }

    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: - JSON and YAML

    /// The rows of a JSON document: a list of objects, or an object with one member that is one.
    private static func readRows(_ root: OrderedJSON.Value, into table: inout Table) throws(PlotFileError) {
        var list = root
        if case let .object(members) = root.kind {
            let lists = members.filter { if case .array = $0.value.kind { return true }; return false }
            guard lists.count == 1 else {
                throw PlotFileError(line: root.line, lists.isEmpty ? "holds an object with no list of rows"
                                    : "holds an object with \(lists.count) lists (\(lists.prefix(4).map { "'\($0.key)'" }.joined(separator: ", "))); a plot file holds one list of rows")
            }
            list = lists[0].value
        }
        guard case let .array(rows) = list.kind else {
            throw PlotFileError(line: list.line, "holds \(describe(list.kind)); expected a list of rows (objects of column values)")
        }
        for (index, row) in rows.enumerated() {
            guard case let .object(members) = row.kind else {
                throw PlotFileError(line: row.line, "has \(describe(row.kind)) as row \(index + 1); each row is an object of column values")
            }
            table.addRow(members.map { member in
                switch member.value.kind {
                case let .number(n): return (member.key, .number(n))
                case .null: return (member.key, .empty)
                default: return (member.key, .text)
                }
            }, line: row.line)
        }
    }

    private static func describe(_ kind: OrderedJSON.Kind) -> String {
        switch kind {
        case .number: return "a number"
        case .string: return "a string"
        case .bool: return "a boolean"
        case .null: return "null"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    /// YAML of the same shapes as JSON, numbers by YAML 1.2's core schema.
    private static func readYAML(_ bytes: [UInt8], into table: inout Table) throws(PlotFileError) {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw PlotFileError(line: nil, "is not UTF-8 text") }
        let root: YAMLNode?
        do { root = try YAMLReader.parse(text, file: "plot") } catch {
            let first = error.diagnostics.first
            throw PlotFileError(line: first?.location?.line, "is not YAML: \(first?.message ?? "it cannot be parsed")")
        }
        guard let root else { throw PlotFileError(line: 1, "is empty") }
        try readRows(converted(root, depth: 0), into: &table)
    }

    /// A YAML node as the JSON reader gives values, so both shapes are read by one function.
    private static func converted(_ node: YAMLNode, depth: Int) throws(PlotFileError) -> OrderedJSON.Value {
        guard depth < OrderedJSON.maximumDepth else { throw PlotFileError(line: node.location.line, "nests deeper than \(OrderedJSON.maximumDepth) levels") }
        let line = node.location.line
        switch node.kind {
        case .scalar:
            switch ScalarResolver.resolve(node) {
            case let .int(i)?: return .init(kind: .number(Double(i)), line: line)
            case let .float(d)? where d.isFinite: return .init(kind: .number(d), line: line)
            case .null?: return .init(kind: .null, line: line)
            case let .bool(b)?: return .init(kind: .bool(b), line: line)
            default: return .init(kind: .string(node.scalar ?? ""), line: line)
            }
        case let .sequence(items):
            var out: [OrderedJSON.Value] = []
            for item in items { out.append(try converted(item, depth: depth + 1)) }
            return .init(kind: .array(out), line: line)
        case let .mapping(pairs):
            var out: [(key: String, value: OrderedJSON.Value)] = []
            for pair in pairs {
                guard let key = pair.key.scalar else { throw PlotFileError(line: pair.key.location.line, "has a key that is not text") }
                out.append((key, try converted(pair.value, depth: depth + 1)))
            }
            return .init(kind: .object(out), line: line)
        }
    }

    // MARK: - Columns

    /// A cell as read: a number, nothing (empty, null, NaN), or text that is no number.
    enum Cell {
        case number(Double)
        case empty
        case text

        init(text raw: String) {
            let text = raw.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || ["nan", "null", "none", "na"].contains(text.lowercased()) { self = .empty; return }
            // Swift's parser also takes `inf`, `nan` and hex floats; a recorded number is finite.
            if let value = Double(text), value.isFinite { self = .number(value) } else { self = .text }
        }
    }

    /// Columns in the order they first appear, filled as rows arrive.
    struct Table {
        var names: [String] = []
        var index: [String: Int] = [:]
        var values: [[Double?]] = []
        /// Per column: cells that held text, and the line of the first.
        var text: [(count: Int, line: Int)] = []
        var rows = 0
        var notes: [String] = []

        /// The columns a CSV or TSV header names; an unnamed one (a written index, `,loss`) is not recorded.
        mutating func setHeader(_ header: [String], line: Int) throws(PlotFileError) {
            for name in header where !name.isEmpty {
                guard PlotColumn.isName(name) else {
                    throw PlotFileError(line: line, "names a column \(RecordRules.quoted(name)); a column name is at most \(PlotData.maximumNameBytes) bytes of printable text")
                }
                guard index[name] == nil else { throw PlotFileError(line: line, "names the column '\(name)' twice") }
                column(name)
            }
        }

        @discardableResult
        mutating func column(_ name: String) -> Int {
            if let i = index[name] { return i }
            names.append(name)
            values.append(Array(repeating: nil, count: rows))
            text.append((0, 0))
            index[name] = names.count - 1
            return names.count - 1
        }

        mutating func addRow(_ cells: [(String, Cell)], line: Int) {
            for (name, cell) in cells {
                let i: Int
                if let known = index[name] {
                    i = known
                } else {
                    // A JSON row may bring a column the earlier rows lacked; an unnamed one is not recorded.
                    guard PlotColumn.isName(name) else { continue }
                    i = column(name)
                }
                // A key given twice in one row (JSON allows it) holds its last value, as most readers take it.
                if values[i].count > rows { values[i].removeLast() }
                switch cell {
                case let .number(n): values[i].append(n)
                case .empty: values[i].append(nil)
                case .text:
                    values[i].append(nil)
                    if text[i].count == 0 { text[i].line = line }
                    text[i].count += 1
                }
            }
            rows += 1
            // A row that lacks a column (a JSON row without the key) holds nothing there.
            for i in values.indices where values[i].count < rows { values[i].append(nil) }
        }

        /// The recorded columns: those with a number, the first `maximumColumns` of them, each cut to the kept rows.
        func reading() -> Reading {
            var notes = self.notes
            let numeric = names.indices.filter { values[$0].contains { $0 != nil } }
            for i in numeric where text[i].count > 0 {
                notes.append("\(text[i].count) value\(text[i].count == 1 ? "" : "s") in column '\(names[i])' \(text[i].count == 1 ? "is" : "are") not a number (line \(text[i].line)\(text[i].count > 1 ? " is the first" : ""))")
            }
            if numeric.count > PlotData.maximumColumns {
                let dropped = numeric.dropFirst(PlotData.maximumColumns).map { names[$0] }
                notes.append("only the first \(PlotData.maximumColumns) columns of numbers are recorded; not \(dropped.prefix(3).map { "'\($0)'" }.joined(separator: ", "))\(dropped.count > 3 ? " and \(dropped.count - 3) more" : "")")
            }
            let kept = PlotData.rowsKept(of: rows)
            let columns = numeric.prefix(PlotData.maximumColumns).map { i in
                PlotColumn(name: names[i], values: kept.count == rows ? values[i] : kept.map { values[i][$0] })
            }
            return Reading(data: PlotData(rows: rows, kept: kept.count == rows ? nil : kept, columns: Array(columns)), notes: notes)
        }
    }
}

/// Why a plot file could not be read: what is wrong, and the line it is on when there is one.
package struct PlotFileError: Error, Sendable, Equatable {
    package var line: Int?
    package var reason: String
    init(line: Int?, _ reason: String) { self.line = line; self.reason = reason }
}
