import Foundation
import Testing
@testable import PlumbCore

/// Plot files become the columns a run records; a broken one is an error with its line, never a crash.
@Suite struct PlotFileTests {
    static func read(_ text: String, _ format: PlotFormat) throws -> PlotFile.Reading {
        try PlotFile.read(Data(text.utf8), format: format)
    }

    static func values(_ reading: PlotFile.Reading) -> [String: [Double?]] {
        Dictionary(uniqueKeysWithValues: reading.data.columns.map { ($0.name, $0.values) })
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var format: PlotFormat
        var text: String
        var testDescription: String { name }
    }

    /// The same three rows of step, loss and a text column, in every format people write.
    static let sameRows: [Case] = [
        .init(name: "csv", format: .csv, text: "step,loss,note\n0,1.5,start\n1,0.75,\n2,0.5,\"end, at last\"\n"),
        .init(name: "csv with CRLF, spaces and a byte order mark", format: .csv, text: "\u{FEFF}step, loss ,note\r\n0, 1.5,start\r\n1,0.75,\r\n\r\n2,0.5,x\r\n"),
        .init(name: "csv with quoted numbers and newlines in text", format: .csv, text: "\"step\",\"loss\",note\n\"0\",\"1.5\",\"two\nlines\"\n1,.75,\"say \"\"hi\"\"\"\n2,5e-1,x"),
        .init(name: "tsv", format: .tsv, text: "step\tloss\tnote\n0\t1.5\ta\n1\t0.75\tb\n2\t0.5\tc\n"),
        .init(name: "json list", format: .json, text: #"[{"step": 0, "loss": 1.5, "note": "a"}, {"step": 1, "loss": 0.75}, {"step": 2, "loss": 0.5, "note": null}]"#),
        .init(name: "json object holding a list", format: .json, text: #"{"train": [{"step": 0, "loss": 1.5}, {"step": 1, "loss": 0.75}, {"step": 2, "loss": 5E-1}], "meta": "x"}"#),
        .init(name: "yaml", format: .yaml, text: "- {step: 0, loss: 1.5, note: a}\n- step: 1\n  loss: 0.75\n- {step: 2, loss: 0.5}\n"),
    ]

    @Test(arguments: sameRows)
    func everyFormatGivesTheSameColumns(_ c: Case) throws {
        let reading = try Self.read(c.text, c.format)
        #expect(reading.data.rows == 3)
        #expect(reading.data.kept == nil)
        #expect(reading.data.columns.map(\.name) == ["step", "loss"], "the text column holds no number and is not recorded")
        #expect(Self.values(reading) == ["step": [0, 1, 2], "loss": [1.5, 0.75, 0.5]])
        #expect(reading.notes == [])
    }

    @Test func cellsThatAreNoNumberAreNotedAndMissingOnesAreNot() throws {
        let reading = try Self.read("step,loss,acc\n0,1,\n1,high,0.5\n2,NaN,0.6\n3,inf,0.7\n4,,0.8\n", .csv)
        #expect(Self.values(reading) == ["step": [0, 1, 2, 3, 4], "loss": [1, nil, nil, nil, nil], "acc": [nil, 0.5, 0.6, 0.7, 0.8]])
        #expect(reading.notes == ["2 values in column 'loss' are not a number (line 3 is the first)"])
    }

    @Test func anUnnamedColumnIsNotRecorded() throws {
        // pandas' to_csv writes its index as a column with no name.
        let reading = try Self.read(",loss\n0,0.9\n1,0.8\n", .csv)
        #expect(Self.values(reading) == ["loss": [0.9, 0.8]])
    }

    @Test func jsonRowsMayBringNewColumns() throws {
        let reading = try Self.read(#"[{"a": 1}, {"a": 2, "b": 3}, {"b": 4}]"#, .json)
        #expect(reading.data.columns.map(\.name) == ["a", "b"])
        #expect(Self.values(reading) == ["a": [1, 2, nil], "b": [nil, 3, 4]])
    }

    @Test func aKeyGivenTwiceInARowHoldsItsLastValue() throws {
        // Found by the fuzzer: a row's second "tpr" made the column one value longer than the rows.
        let reading = try Self.read(#"{"train": [{"fpr": 0, "tpr": 1}, {"fppr": 0}, {"fpr": 0.5, "tpr": 8, "tpr": 1}]}"#, .json)
        #expect(Self.values(reading) == ["fpr": [0, nil, 0.5], "tpr": [1, nil, 1], "fppr": [nil, 0, nil]])
        #expect(reading.data.problem() == nil)
    }

    @Test func aLongFileKeepsEvenlySpreadRowsWithTheFirstAndTheLast() throws {
        let rows = (0..<5000).map { "\($0),\(Double($0) / 10)" }.joined(separator: "\n")
        let reading = try Self.read("step,loss\n" + rows + "\n", .csv)
        #expect(reading.data.rows == 5000)
        let kept = try #require(reading.data.kept)
        #expect(kept.count == PlotData.maximumRows)
        #expect(kept.first == 0 && kept.last == 4999)
        #expect(zip(kept, kept.dropFirst()).allSatisfy { $1 - $0 >= 4 && $1 - $0 <= 6 }, "evenly spread")
        #expect(reading.data.column("step")?.values == kept.map { Double($0) })
        #expect(reading.data.column("loss")?.values == kept.map { Double($0) / 10 })
        #expect(reading.data.problem() == nil)
    }

    @Test(arguments: [(10, 10, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), (11, 3, [0, 5, 10]), (4, 3, [0, 2, 3]), (0, 3, []), (2, 1, [0])])
    func rowsKept(count: Int, maximum: Int, kept: [Int]) {
        #expect(PlotData.rowsKept(of: count, maximum: maximum) == kept)
    }

    @Test func onlyTheFirstColumnsAreRecorded() throws {
        let names = (0..<40).map { "c\($0)" }
        let reading = try Self.read(names.joined(separator: ",") + "\n" + names.indices.map(String.init).joined(separator: ",") + "\n", .csv)
        #expect(reading.data.columns.count == PlotData.maximumColumns)
        #expect(reading.notes == ["only the first 32 columns of numbers are recorded; not 'c32', 'c33', 'c34' and 5 more"])
    }

    struct Broken: Sendable, CustomTestStringConvertible {
        var format: PlotFormat
        var text: String
        var line: Int?
        var reason: String
        var testDescription: String { "\(format): \(reason)" }
    }

    static let broken: [Broken] = [
        .init(format: .csv, text: "", line: 1, reason: "is empty; a plot file starts with a header row naming its columns"),
        .init(format: .csv, text: "a,b\n1,2\n3\n", line: 3, reason: "has 1 field on this line; the header has 2"),
        .init(format: .csv, text: "a,b\n1,\"2\n3,4\n", line: 2, reason: "has a quoted field that is never closed"),
        .init(format: .csv, text: "a,b\n1,\"2\"x\n", line: 2, reason: "has text after a closing quote"),
        .init(format: .csv, text: "a,a\n1,2\n", line: 1, reason: "names the column 'a' twice"),
        .init(format: .tsv, text: "a\tb\n1\t2\t3\n", line: 2, reason: "has 3 fields on this line; the header has 2"),
        .init(format: .json, text: "[{\"a\": 1},\n {\"a\": 2,}]", line: 2, reason: "is not JSON: expected a key in quotes"),
        .init(format: .json, text: "[1, 2]", line: 1, reason: "has a number as row 1; each row is an object of column values"),
        .init(format: .json, text: "\"rows\"", line: 1, reason: "holds a string; expected a list of rows (objects of column values)"),
        .init(format: .json, text: #"{"train": [], "test": []}"#, line: 1, reason: "holds an object with 2 lists ('train', 'test'); a plot file holds one list of rows"),
        .init(format: .json, text: #"{"a": 1}"#, line: 1, reason: "holds an object with no list of rows"),
        .init(format: .json, text: "[{\"a\": 1e999}]", line: 1, reason: "is not JSON: the number 1e999 is too large"),
        .init(format: .json, text: String(repeating: "[", count: 100), line: 1, reason: "is not JSON: nests deeper than 64 levels"),
        .init(format: .json, text: "[{\"a\": 1}] x", line: 1, reason: "is not JSON: text follows the JSON value"),
        .init(format: .json, text: "[{\"a\": \"\\ud800\"}]", line: 1, reason: "is not JSON: a string holds half a surrogate pair"),
        .init(format: .yaml, text: "- a: 1\n- [b\n", line: 3, reason: "is not YAML"),
        .init(format: .yaml, text: "a: b\n", line: 1, reason: "holds an object with no list of rows"),
    ]

    @Test(arguments: broken)
    func aBrokenFileIsAnErrorWithItsLine(_ c: Broken) {
        #expect {
            try PlotFile.read(Data(c.text.utf8), format: c.format)
        } throws: { error in
            guard let e = error as? PlotFileError else { return false }
            return e.line == c.line && e.reason.hasPrefix(c.reason)
        }
    }

    @Test func aFileOverTheLimitIsNotRead() {
        let big = Data(count: PlotFile.maximumBytes + 1)
        #expect(throws: PlotFileError.self) { try PlotFile.read(big, format: .csv) }
    }
}

/// What a plot's options draw from recorded columns.
@Suite struct PlotSeriesTests {
    static let data = PlotData(rows: 4, columns: [
        PlotColumn(name: "epoch", values: [1, 2, 3, 4]),
        PlotColumn(name: "loss", values: [0.9, nil, 0.5, 0.4]),
        PlotColumn(name: "val_loss", values: [1.0, 0.8, 0.7, nil]),
    ])

    @Test func theDefaultsAreTheRowNumberAndTheLastColumn() {
        let (x, series, problems) = Self.data.series(for: Plot(path: "p.csv"))
        #expect(x == "row")
        #expect(series == [PlotSeries(column: "val_loss", x: [0, 1, 2], y: [1.0, 0.8, 0.7])])
        #expect(problems.isEmpty)
    }

    @Test func aStepColumnIsTheDefaultX() {
        let data = PlotData(rows: 2, kept: nil, columns: [PlotColumn(name: "loss", values: [3, 2]), PlotColumn(name: "step", values: [10, 20])])
        let (x, series, _) = data.series(for: Plot(path: "p.csv"))
        #expect(x == "step")
        #expect(series.map(\.column) == ["loss"], "the last column that is not x")
        #expect(series.first?.x == [10, 20])
    }

    @Test func namedColumnsAreDrawnAndMissingOnesAreSaid() {
        let (x, series, problems) = Self.data.series(for: Plot(path: "p.csv", x: "epoch", y: ["loss", "acc", "val_loss"]), source: "dev")
        #expect(x == "epoch")
        #expect(series == [PlotSeries(column: "loss", source: "dev", x: [1, 3, 4], y: [0.9, 0.5, 0.4]),
                           PlotSeries(column: "val_loss", source: "dev", x: [1, 2, 3], y: [1.0, 0.8, 0.7])])
        #expect(problems == ["p.csv has no column 'acc' of numbers (columns: epoch, loss, val_loss)"])
        #expect(series[0].label == "dev: loss")
    }

    @Test func aMissingXDrawsNothing() {
        let (_, series, problems) = Self.data.series(for: Plot(path: "p.csv", x: "step"))
        #expect(series.isEmpty)
        #expect(problems == ["p.csv has no column 'step' of numbers for x (columns: epoch, loss, val_loss)"])
    }

    @Test func downsampledRowsKeepTheirRowNumbers() {
        let data = PlotData(rows: 100, kept: [0, 50, 99], columns: [PlotColumn(name: "loss", values: [3, 2, 1])])
        #expect(data.series(for: Plot(path: "p.csv")).series.first?.x == [0, 50, 99])
    }
}

/// A run record's plots are checked where the record is decoded.
@Suite struct PlotRecordValidationTests {
    static func record(_ plot: PlotData, path: String = "build/loss.csv", plotsRun: String? = nil) -> RunRecord {
        var outcome = StageOutcome(action: .run, reasons: [], status: .succeeded)
        outcome.plots = [path: plot]
        outcome.plotsRun = plotsRun
        return RunRecord(run: "20261125-091502-3fa9c1", environment: "dev", commit: ObjectID(hex: String(repeating: "a", count: 40))!,
                         branch: "main", startedAt: Date(timeIntervalSince1970: 0), finishedAt: Date(timeIntervalSince1970: 1),
                         status: .succeeded, summary: "", dropped: [], stages: ["train": outcome], metrics: [:])
    }

    static func decodes(_ record: RunRecord) throws -> RunRecord {
        try RunRecord.decode(try RecordJSON.encode(record), path: "history/dev/runs/x.json")
    }

    @Test func aRecordedPlotRoundTrips() throws {
        let record = Self.record(PlotData(rows: 3, kept: nil, columns: [PlotColumn(name: "loss", values: [1, nil, 0.25])]))
        #expect(try Self.decodes(record) == record)
    }

    @Test(arguments: [
        ("out of order", PlotData(rows: 5, kept: [0, 3, 2], columns: [PlotColumn(name: "a", values: [1, 2, 3])])),
        ("beyond the rows", PlotData(rows: 2, kept: [0, 5], columns: [PlotColumn(name: "a", values: [1, 2])])),
        ("too many values", PlotData(rows: 2, kept: nil, columns: [PlotColumn(name: "a", values: [1, 2, 3])])),
        ("a control character", PlotData(rows: 1, kept: nil, columns: [PlotColumn(name: "a\u{1b}[2J", values: [1])])),
        ("twice", PlotData(rows: 1, kept: nil, columns: [PlotColumn(name: "a", values: [1]), PlotColumn(name: "a", values: [1])])),
        ("too many rows", PlotData(rows: 2000, kept: nil, columns: [])),
    ])
    func aPlotNoRunCouldRecordIsRefused(_ name: String, _ plot: PlotData) {
        #expect(throws: PlumbError.self) { try Self.decodes(Self.record(plot)) }
    }

    @Test func aPlotPathOrRunThatCouldEscapeIsRefused() {
        let plot = PlotData(rows: 0, kept: nil, columns: [])
        #expect(throws: PlumbError.self) { try Self.decodes(Self.record(plot, path: "../x.csv")) }
        #expect(throws: PlumbError.self) { try Self.decodes(Self.record(plot, plotsRun: "../../etc")) }
    }
}
