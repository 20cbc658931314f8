import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbCLI

/// `status`, `history` and `show` as a person reads them (issue 13, item 7), through the built
/// binary: 80 columns when piped (COLUMNS=80), everything with --wide, compared with
/// Fixtures/readable/. `PLUMB_RECORD_GOLDEN=1` re-records.
@Suite struct ReadableOutputTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/readable")

    /// Declared out of run order, so that name order and run order differ.
    static let pipeline = """
    version: 1
    stages:
      train:
        cmd: mkdir -p build && cat build/rows.txt > build/model.txt
        deps: [build/rows.txt]
        outs: [build/model.txt]
      prepare:
        cmd: mkdir -p build && echo rows > build/rows.txt
        outs: [build/rows.txt]
      deploy:
        cmd: mkdir -p build && cp build/model.txt build/deployed.txt
        deps: [build/model.txt]
        outs: [build/deployed.txt]
    """

    /// dev reconciled, promoted into an environment with a long name, which is then reconciled.
    static func world() throws -> PipelineHarness {
        let h = try PipelineHarness(pipeline: pipeline, files: [
            "environments/dev.yaml": "params: {}\n",
            "environments/staging-eu-west-1-canary.yaml": "from: dev\nruns: [deploy]\n",
        ])
        try h.edit("spec/params.yaml", "{}\n# the rows are cleaned now\n", commit: "Train on the cleaned rows")
        for arguments in [["reconcile", "--env", "dev"], ["promote", "dev", "staging-eu-west-1-canary"],
                          ["reconcile", "--env", "staging-eu-west-1-canary"]] {
            let run = try runProcess(plumbExecutable(), arguments, in: h.root)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
        }
        return h
    }

    /// Run ids, commits, digests and times replaced by placeholders of the same length, numbered in
    /// order of appearance, so the golden keeps the layout's widths and loses only what changes.
    static func normalized(_ text: String) -> String {
        var seen: [String: String] = [:]
        func replace(_ text: String, _ pattern: String, _ token: (Int, Int) -> String) -> String {
            let regex = try! NSRegularExpression(pattern: pattern)
            var out = text, count = 0
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let value = String(text[Range(match.range, in: text)!])
                if seen[value] == nil { count += 1; seen[value] = token(count, value.count) }
            }
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).reversed() {
                let value = String(text[Range(match.range, in: text)!])
                out.replaceSubrange(Range(match.range, in: out)!, with: seen[value]!)
            }
            return out
        }
        func numbered(_ n: Int, _ length: Int, _ letter: String) -> String {
            let digits = String(n)
            return letter + String(repeating: "0", count: max(length - 1 - digits.count, 0)) + digits
        }
        var out = replace(text, #"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"#) { _, _ in "YYYY-MM-DDThh:mm:ssZ" }
        // Whole run ids first, then the suffixes narrow tables print (their own numbering is fine).
        out = replace(out, #"\b[0-9]{8}-[0-9]{6}-[0-9a-f]{6}\b"#) { n, _ in "RUN-" + numbered(n, 18, "r") }
        out = replace(out, #"\b[0-9a-f]{6,40}\b"#) { n, length in numbered(n, length, "h") }
        return out
    }

    func expectGolden(_ text: String, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let file = Self.fixtures.appendingPathComponent(name)
        let text = Self.normalized(text)
        if ProcessInfo.processInfo.environment["PLUMB_RECORD_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: Self.fixtures, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(text == expected, "differs from Fixtures/readable/\(name) (PLUMB_RECORD_GOLDEN=1 re-records)", sourceLocation: sourceLocation)
    }

    @Test func statusAndHistoryFitEightyColumnsAndWideShowsAll() throws {
        let h = try Self.world()
        for command in ["status", "history"] {
            let narrow = try runProcess(plumbExecutable(), [command], in: h.root, environment: ["COLUMNS": "80"])
            #expect(narrow.status == 0, "\(narrow.stderr)")
            let long = narrow.stdout.split(separator: "\n").filter { $0.count > 80 }
            #expect(long.isEmpty, "\(command) at 80 columns: \(long)")
            #expect(narrow.stdout.contains("…"), "the long environment name gives way: \(narrow.stdout)")
            try expectGolden(narrow.stdout, "\(command)-80.txt")

            let wide = try runProcess(plumbExecutable(), [command, "--wide"], in: h.root, environment: ["COLUMNS": "80"])
            #expect(wide.status == 0, "\(wide.stderr)")
            #expect(wide.stdout.contains("staging-eu-west-1-canary") && !wide.stdout.contains("…"), "\(wide.stdout)")
            #expect(wide.stdout.split(separator: "\n").contains { $0.count > 80 })
            try expectGolden(wide.stdout, "\(command)-wide.txt")
        }
        // A wider terminal needs no cut.
        let roomy = try runProcess(plumbExecutable(), ["status"], in: h.root, environment: ["COLUMNS": "200"])
        #expect(roomy.stdout.contains("staging-eu-west-1-canary"))
    }

    /// A run's entry says the subject of the spec commit it reconciled and what ran, not the plan line.
    @Test func historySaysTheSubjectAndWhatRan() throws {
        let h = try Self.world()
        let history = try runProcess(plumbExecutable(), ["history", "--env", "dev", "--wide"], in: h.root)
        #expect(history.stdout.contains("Train on the cleaned rows: ran prepare, train, deploy"), "in the order they ran: \(history.stdout)")
        #expect(!history.stdout.contains("Plan:"), "\(history.stdout)")
        // A change to deploy's command runs deploy alone.
        try h.edit("spec/pipeline.yaml", Self.pipeline.replacingOccurrences(of: "cp build/model.txt", with: "cat build/model.txt >"),
                   commit: "Deploy by cat")
        let run = try runProcess(plumbExecutable(), ["reconcile", "--env", "dev"], in: h.root)
        #expect(run.status == 0, "\(run.stderr)")
        let again = try runProcess(plumbExecutable(), ["history", "--env", "dev", "--json"], in: h.root)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [[String: Any]])
        #expect(entries.first?["subject"] as? String == "Deploy by cat")
        #expect(entries.first?["ran"] as? String == "ran deploy")
    }

    /// `show` lists the stages in the order they ran: prepare, train, deploy (not by name).
    @Test func showListsStagesInRunOrder() throws {
        let h = try Self.world()
        let show = try runProcess(plumbExecutable(), ["show", "latest", "--env", "dev"], in: h.root)
        #expect(show.status == 0, "\(show.stderr)")
        let stages = show.stdout.split(separator: "\n").compactMap { line -> String? in
            let word = line.split(separator: " ").first.map(String.init)
            return ["prepare", "train", "deploy"].contains(word ?? "") ? word : nil
        }
        #expect(stages == ["prepare", "train", "deploy"], "\(show.stdout)")
    }
}

/// The README's command table names every command of the command table (`PlumbCommands.all`):
/// a new command is not done until a reader of the README can find it.
@Suite struct ReadmeCommandTableTests {
    @Test func everyCommandIsInTheReadmesTable() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let table = try #require(text.range(of: "| command | what it does |"))
        let rows = text[table.upperBound...].split(separator: "\n").dropFirst().prefix { $0.hasPrefix("|") }
        // Each code span of a row's first cell names a command: `plumb history`, `show RUN`.
        var named = Set<String>()
        for row in rows {
            let cell = row.split(separator: "|", omittingEmptySubsequences: true).first.map(String.init) ?? ""
            for (i, span) in cell.split(separator: "`", omittingEmptySubsequences: false).enumerated() where i % 2 == 1 {
                let words = span.split(separator: " ").map(String.init)
                if let word = words.first == "plumb" ? words.dropFirst().first : words.first { named.insert(word) }
            }
        }
        #expect(rows.count >= 10, "the README's command table was not found")
        let missing = PlumbCommands.all.map(\.name).filter { !named.contains($0) }
        #expect(missing.isEmpty, "README.md's command table lacks \(missing)")
    }
}
