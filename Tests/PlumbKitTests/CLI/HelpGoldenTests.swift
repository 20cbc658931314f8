import Foundation
import Testing
@testable import PlumbCLI

/// `--help` of every command, and `plumb --help`, compared with Fixtures/help/ (issue 13's "Must
/// show"): a change of wording, a lost option or a broken layout shows up in review as a diff.
/// Re-record after an intended change with `PLUMB_RECORD_GOLDEN=1 swift test --filter HelpGolden`.
@Suite struct HelpGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/help")
    static var recording: Bool { ProcessInfo.processInfo.environment["PLUMB_RECORD_GOLDEN"] == "1" }

    static let commands: [String] = ["plumb"] + PlumbCommands.all.map(\.name)

    @Test(arguments: commands) func helpMatchesItsGoldenFile(_ command: String) throws {
        let folder = try temporaryFolder()
        let arguments = command == "plumb" ? ["--help"] : [command, "--help"]
        let run = try runProcess(plumbExecutable(), arguments, in: folder, environment: ["COLUMNS": "100"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        let file = Self.fixtures.appendingPathComponent("\(command).txt")
        if Self.recording {
            try FileManager.default.createDirectory(at: Self.fixtures, withIntermediateDirectories: true)
            try Data(run.stdout.utf8).write(to: file)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(run.stdout == expected, "\(command) --help differs from Fixtures/help/\(command).txt (PLUMB_RECORD_GOLDEN=1 re-records)")
        // Piped: nothing a terminal would take for a control sequence.
        #expect(!run.stdout.unicodeScalars.contains { $0.value == 0x1B })
    }
}
