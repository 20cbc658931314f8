import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Golden tests of `plumb import dvc`: each folder under Fixtures/import is a DVC project (dvc.yaml
/// and the files it names); `expected.pipeline.yaml` is the spec the import writes and
/// `expected.report.txt` the report it prints, line by line. A folder holding a file `invalid`
/// is one whose import Plumb's validator refuses; every other import must be a valid spec.
///
/// Re-record with `PLUMB_RECORD_GOLDEN=1 swift test --filter ImportGoldenTests` and review the diff.
@Suite struct ImportGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/import").path

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? []).sorted()
    }

    static func report(_ result: DVCImportResult) -> String {
        (result.notes.map { $0.description + "\n" } + result.diagnostics.filter { $0.location == nil }.map { $0.description + "\n" }).joined()
    }

    @Test func thereAreCases() { #expect(Self.cases.count >= 12) }

    @Test(arguments: cases)
    func importWritesTheExpectedSpecAndReport(_ name: String) throws {
        let root = Self.fixtures + "/" + name
        let result = DVCImport.run(WorkingTreeSpecSource(root: root))
        let pipeline = try #require(result.pipeline, "\(name): \(result.diagnostics)")
        let report = Self.report(result)
        if SpecGoldenTests.recording {
            try Data(pipeline.utf8).write(to: URL(fileURLWithPath: root + "/expected.pipeline.yaml"))
            try Data(report.utf8).write(to: URL(fileURLWithPath: root + "/expected.report.txt"))
            return
        }
        #expect(pipeline == (try String(contentsOfFile: root + "/expected.pipeline.yaml", encoding: .utf8)), "\(name): the spec differs from expected.pipeline.yaml")
        #expect(report == (try String(contentsOfFile: root + "/expected.report.txt", encoding: .utf8)), "\(name): the report differs from expected.report.txt")
        let expectInvalid = FileManager.default.fileExists(atPath: root + "/invalid")
        #expect(result.isValid == !expectInvalid, "\(name): \(result.diagnostics.map(\.description).joined(separator: "\n"))")
        // The same project gives the same bytes.
        #expect(DVCImport.run(WorkingTreeSpecSource(root: root)).pipeline == pipeline)
    }

    /// Stages keep their commands: every command of dvc.yaml that holds no `${…}` reads back from the
    /// written spec as exactly the same string (quoting, block scalars and lists included).
    @Test(arguments: cases)
    func commandsReadBackUnchanged(_ name: String) throws {
        let root = Self.fixtures + "/" + name
        let dvc = try #require(try YAMLReader.parse(try String(contentsOfFile: root + "/dvc.yaml", encoding: .utf8), file: "dvc.yaml"))
        let written = try #require(DVCImport.run(WorkingTreeSpecSource(root: root)).pipeline)
        let spec = try #require(try YAMLReader.parse(written, file: SpecPaths.pipeline))
        let wanted = Self.commands(in: dvc).filter { !$0.contains("${") }
        let have = Set(Self.commands(in: spec))
        for command in wanted { #expect(have.contains(command), "\(name): \(command.debugDescription) is not a command of the written spec") }
    }

    /// Every string under a `cmd` key, at any depth (foreach's `do` included).
    static func commands(in node: YAMLNode) -> [String] {
        switch node.kind {
        case .scalar: return []
        case let .sequence(items): return items.flatMap(commands)
        case let .mapping(pairs):
            return pairs.flatMap { pair -> [String] in
                guard pair.key.scalar == "cmd" else { return commands(in: pair.value) }
                switch pair.value.kind {
                case let .scalar(text, _): return [text]
                case let .sequence(items): return items.compactMap(\.scalar)
                case .mapping: return []
                }
            }
        }
    }

    /// Strings that YAML would not read back as themselves when written plain are quoted.
    @Test(arguments: ["plain", "true", "1.5", "null", "", "- dash", "a: b", "x #y", "{brace", "${item}", "tab\there", "quote\"d", "line\nbreak", "ends:"])
    func scalarsReadBackAsWritten(_ text: String) throws {
        let yaml = "key: \(SpecText.scalar(text))\nflow: [\(SpecText.scalar(text, flow: true))]\n"
        let root = try #require(try YAMLReader.parse(yaml, file: "t.yaml"))
        guard case let .mapping(pairs) = root.kind, case let .sequence(items) = pairs[1].value.kind else { Issue.record("not a mapping"); return }
        #expect(pairs[0].value.scalar == text)
        #expect(ScalarResolver.resolve(pairs[0].value) == .string(text))
        #expect(items.first?.scalar == text)
    }
}
