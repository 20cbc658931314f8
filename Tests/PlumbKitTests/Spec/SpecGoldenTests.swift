import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Golden tests: each folder under Fixtures/broken-specs is a repository whose spec is broken
/// in one way; `expected.txt` holds exactly what `plumb validate` prints for it.
///
/// Re-record after an intended change of wording with `PLUMB_RECORD_GOLDEN=1 swift test --filter Golden`,
/// then review the diff of the expected files like any other change.
@Suite struct SpecGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/broken-specs").path

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? []).sorted()
    }

    static var recording: Bool { ProcessInfo.processInfo.environment["PLUMB_RECORD_GOLDEN"] == "1" }

    /// The text a user sees for a load result, one diagnostic (and its hint) per line.
    static func render(_ result: SpecLoadResult) -> String {
        result.diagnostics.map { $0.description + "\n" }.joined()
    }

    @Test func thereAreEnoughCases() {
        #expect(Self.cases.count >= 18)
    }

    @Test(arguments: cases)
    func brokenSpecReportsExactlyTheExpectedDiagnostics(_ name: String) throws {
        let root = Self.fixtures + "/" + name
        let result = SpecLoader.load(from: WorkingTreeSpecSource(root: root))
        let actual = Self.render(result)
        let expectedPath = root + "/expected.txt"
        if Self.recording {
            try Data(actual.utf8).write(to: URL(fileURLWithPath: expectedPath))
            return
        }
        let expected = try String(contentsOfFile: expectedPath, encoding: .utf8)
        #expect(actual == expected, "\(name): diagnostics differ from expected.txt (PLUMB_RECORD_GOLDEN=1 re-records)")
        #expect(result.spec == nil, "\(name) should be invalid")
        #expect(result.diagnostics.hasErrors)
        // The same spec, read twice, gives byte-identical output.
        #expect(Self.render(SpecLoader.load(from: WorkingTreeSpecSource(root: root))) == actual)
    }
}
