import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Every line of `text` parsed by Foundation's own JSON parser (not Plumb's), each an object.
func jsonLines(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
    try text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0).map { line in
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(line)", sourceLocation: sourceLocation)
    }
}

/// The documented line types of docs/json.md: type → (required keys, every key), read from the
/// tables under the heading that starts with `section`. `?` marks an optional key.
func documentedLineTypes(_ section: String) throws -> [String: (required: Set<String>, all: Set<String>)] {
    let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/json.md")
    let text = try String(contentsOf: docs, encoding: .utf8)
    let start = try #require(text.range(of: "\n## " + section))
    let body = text[start.upperBound...]
    let end = body.range(of: "\n## ")?.lowerBound ?? body.endIndex
    var types: [String: (required: Set<String>, all: Set<String>)] = [:]
    for row in body[..<end].split(separator: "\n") where row.hasPrefix("| `") {
        let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        guard cells.count >= 3 else { continue }
        let type = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
        // The table of line types: its second column names keys in backticks.
        let keys = cells[1].split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "` ")) }
        guard type.contains(where: \.isLetter), !keys.isEmpty, keys.allSatisfy({ !$0.isEmpty && !$0.contains(" ") }) else { continue }
        let all = Set(keys.map { $0.hasSuffix("?") ? String($0.dropLast()) : $0 })
        types[type] = (Set(keys.filter { !$0.hasSuffix("?") }), all)
    }
    return types
}

/// Checks every line against docs/json.md: a documented type, its required keys, no key the table
/// does not name, and the schema version.
func expectDocumented(_ lines: [[String: Any]], section: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let types = try documentedLineTypes(section)
    #expect(types.count >= 5, "docs/json.md's table of \(section) was not found", sourceLocation: sourceLocation)
    for line in lines {
        let type = line["type"] as? String ?? "<none>"
        guard let shape = types[type] else {
            Issue.record("line type '\(type)' is not in docs/json.md (\(section))", sourceLocation: sourceLocation)
            continue
        }
        let keys = Set(line.keys).subtracting(["type", "schemaVersion"])
        #expect(shape.required.isSubset(of: keys), "\(type) lacks \(shape.required.subtracting(keys).sorted())", sourceLocation: sourceLocation)
        #expect(keys.isSubset(of: shape.all), "\(type) has undocumented \(keys.subtracting(shape.all).sorted())", sourceLocation: sourceLocation)
        #expect(line["schemaVersion"] as? Int == JSONLinesReconcileView.schemaVersion, sourceLocation: sourceLocation)
    }
    // And against docs/json-lines.schema.json, the machine-readable form of the same tables.
    let validator = try JSONSchemaValidator(contentsOf: jsonLinesSchemaFile)
    let pointer = section.contains("promote") ? "#/$defs/promote" : "#/$defs/reconcile"
    for line in lines {
        let problems = validator.problems(line, against: pointer)
        #expect(problems.isEmpty, "\(line["type"] ?? "?") breaks \(pointer): \(problems)", sourceLocation: sourceLocation)
    }
}

let jsonLinesSchemaFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/json-lines.schema.json")

@Suite struct JSONLinesTests {
    static let pipeline = """
    version: 1
    stages:
      prepare:
        cmd: mkdir -p build && echo rows > build/data.txt
        outs: [build/data.txt]
      train:
        cmd: "cat build/data.txt > build/model.txt && echo '{\\"accuracy\\": 0.75}' > build/metrics.json"
        deps: [build/data.txt]
        outs: [build/model.txt]
        metrics: [build/metrics.json]
    """

    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/json/reconcile.jsonl")

    /// What differs from one run of the same pipeline to the next: commits (their dates), run ids,
    /// durations. The plan's own shape has its golden files and docs/plan-json.md; here it is
    /// shortened to its stages and actions.
    static func normalized(_ line: [String: Any]) throws -> String {
        var line = line
        if let plan = line["plan"] as? [String: Any], let stages = plan["stages"] as? [[String: Any]] {
            line["plan"] = stages.map { "\($0["name"] ?? "?") \($0["action"] ?? "?")" }
        }
        for key in ["duration"] where line[key] != nil { line[key] = "<seconds>" }
        // How bytes went in and out depends on the machine (root, reflinks): only the totals are stable.
        // Read key by key: a nested cast of JSONSerialization's values fails when a level is empty.
        if let cache = line["cache"] as? [String: Any] {
            line["cache"] = cache.mapValues { value -> [String: Int] in
                let ways = (value as? [String: Any] ?? [:]).values.compactMap { $0 as? [String: Any] }
                func total(_ key: String) -> Int { ways.map { ($0[key] as? NSNumber)?.intValue ?? 0 }.reduce(0, +) }
                return ["files": total("files"), "bytes": total("bytes")]
            }
        }
        if var stages = line["stages"] as? [String: [String: Any]] {
            for (name, var stage) in stages { stage["duration"] = "<seconds>"; stages[name] = stage }
            line["stages"] = stages
        }
        var text = String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
        text = text.replacingOccurrences(of: #"\b[0-9]{8}-[0-9]{6}-[0-9a-f]{6}\b"#, with: "<run>", options: .regularExpression)
        text = text.replacingOccurrences(of: #"\b[0-9a-f]{40}\b"#, with: "<commit>", options: .regularExpression)
        return text
    }

    /// The stream of a first run and of a second run with nothing to do, through the built binary:
    /// every stdout line parses as JSON with a type documented in docs/json.md, the stream matches
    /// its golden file, and no text for people reaches stdout. `PLUMB_RECORD_GOLDEN=1` re-records.
    @Test func reconcileStreamIsGoldenAndDocumented() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline)
        let first = try runProcess(plumbExecutable(), ["reconcile", "--json", "--jobs", "1"], in: h.root)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try runProcess(plumbExecutable(), ["reconcile", "--json"], in: h.root)
        #expect(second.status == 0, "\(second.stderr)")
        let lines = try jsonLines(first.stdout) + jsonLines(second.stdout)
        #expect(lines.allSatisfy { $0["type"] is String })
        try expectDocumented(lines, section: "`plumb reconcile --json`")

        // The human text went to stderr.
        #expect(first.stderr.contains("✔ train done in") && first.stderr.contains("Recorded"), "\(first.stderr)")
        #expect(!first.stdout.contains("✔") && !first.stdout.contains("Recorded"))

        // The outputs' digests are those recorded, and the summary names the run recorded.
        let state = try #require(try h.state())
        let trainFinished = try #require(lines.first { $0["type"] as? String == "stage.finished" && $0["stage"] as? String == "train" })
        #expect(trainFinished["outputs"] as? [String: String] == state.stages["train"]?.outputs.mapValues(\.hex))
        let summary = try #require(try jsonLines(first.stdout).last)
        let head = try h.scratch.head.hex
        #expect(summary["run"] as? String == state.lastRun && summary["commit"] as? String == head)

        let text = try lines.map(Self.normalized).joined(separator: "\n") + "\n"
        if ProcessInfo.processInfo.environment["PLUMB_RECORD_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: Self.golden.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: Self.golden)
            return
        }
        let expected = try String(contentsOf: Self.golden, encoding: .utf8)
        #expect(text == expected, "the JSON Lines stream differs from \(Self.golden.path); re-record with PLUMB_RECORD_GOLDEN=1")
    }

    /// A failing stage and a failing command: the stream still parses, ends with `summary` (exit 1)
    /// or `error`, and the exit code in the last line is the process's.
    @Test func failuresEndTheStreamWithTheirExitCode() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          broken:
            cmd: echo "going down" && exit 3
            outs: [never.txt]
        """)
        let failed = try runProcess(plumbExecutable(), ["reconcile", "--json", "--verbose"], in: h.root)
        #expect(failed.status == 1)
        let lines = try jsonLines(failed.stdout)
        try expectDocumented(lines, section: "`plumb reconcile --json`")
        let finished = try #require(lines.first { $0["type"] as? String == "stage.finished" })
        #expect(finished["status"] as? String == "failed" && finished["exitCode"] as? Int == 3)
        #expect(lines.contains { $0["type"] as? String == "stage.output" && $0["line"] as? String == "going down" }, "--verbose streams output as lines")
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary" && summary["exitCode"] as? Int == 1)
        #expect(summary["status"] as? String == "failed")

        let unknown = try runProcess(plumbExecutable(), ["reconcile", "--json", "--env", "nowhere"], in: h.root)
        #expect(unknown.status != 0)
        let errorLines = try jsonLines(unknown.stdout)
        try expectDocumented(errorLines, section: "`plumb reconcile --json`")
        let last = try #require(errorLines.last)
        #expect(last["type"] as? String == "error" && last["exitCode"] as? Int == Int(unknown.status))
        #expect(unknown.stderr.contains("error:"), "people still read the error on stderr")
    }

    /// Characters a terminal acts on are `\u` escapes inside the JSON, so the line stays valid JSON
    /// after the terminal escaping every printed line passes through.
    @Test func linesEscapeTerminalControls() throws {
        let line = JSONLinesReconcileView.line("stage.output", ["line": .string("a\u{202E}b\u{1B}[31mc\u{85}")])
        #expect(Escape.terminal(line, keeping: .layout) == line)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["line"] as? String == "a\u{202E}b\u{1B}[31mc\u{85}")
    }

    /// A promotion that passes: gate lines, the pin, the commit, the summary; JSON only on stdout.
    @Test func promoteStream() throws {
        let world = try PromotionWorld()
        #expect(try world.plumb("reconcile", "--env", "dev").status == 0)
        let promote = try world.plumb("promote", "dev", "staging", "--json")
        #expect(promote.status == 0, "\(promote.stderr)")
        let lines = try jsonLines(promote.stdout)
        try expectDocumented(lines, section: "`plumb promote --json`")
        #expect(lines.map { $0["type"] as? String ?? "" } == ["gate", "gate", "pin", "recorded", "summary"])
        let head = try world.ci.repository.head().commit!.hex
        #expect(lines[3]["commit"] as? String == head && lines[4]["result"] as? String == "promoted")
        #expect(promote.stderr.contains("Promoted dev run"), "\(promote.stderr)")
    }

    /// The first column of the `| type | keys | when |` table under `section` in docs/json.md.
    static func lineTypeTable(_ section: String) throws -> [String] {
        let docs = jsonLinesSchemaFile.deletingLastPathComponent().appendingPathComponent("json.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let start = try #require(text.range(of: "\n## " + section))
        let table = try #require(text[start.upperBound...].range(of: "| type | keys | when |"))
        return text[table.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2)
            .prefix { $0.hasPrefix("| `") }
            .map { $0.split(separator: "|")[0].trimmingCharacters(in: CharacterSet(charactersIn: "` ")) }
    }

    /// The schema names exactly the line types docs/json.md documents, for reconcile and for
    /// promote, and the validator rejects what the schema forbids (so the checks above can fail).
    @Test func theSchemaCoversEveryDocumentedTypeAndRejectsBadLines() throws {
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: jsonLinesSchemaFile)) as? [String: Any])
        let defs = try #require(schema["$defs"] as? [String: Any])
        for (section, name) in [("`plumb reconcile --json`", "reconcile"), ("`plumb promote --json`", "promote")] {
            let events = try #require((defs[name] as? [String: Any])?["oneOf"] as? [[String: Any]])
            let types = events.compactMap { (($0["properties"] as? [String: Any])?["type"] as? [String: Any])?["const"] as? String }
            #expect(Set(types) == Set(try Self.lineTypeTable(section)), "\(name): \(types.sorted())")
            #expect(types.count == Set(types).count)
        }
        let validator = try JSONSchemaValidator(contentsOf: jsonLinesSchemaFile)
        let good: [String: Any] = ["type": "stage.started", "schemaVersion": 1, "stage": "train"]
        #expect(validator.problems(good, against: "#/$defs/reconcile").isEmpty)
        for bad: [String: Any] in [
            ["type": "stage.started", "schemaVersion": 1],
            ["type": "stage.started", "schemaVersion": 2, "stage": "train"],
            ["type": "stage.started", "schemaVersion": 1, "stage": "train", "extra": true],
            ["type": "stage.finished", "schemaVersion": 1, "stage": "train", "status": "exploded"],
            ["type": "recorded", "schemaVersion": 1, "run": "not-a-run", "commit": String(repeating: "a", count: 40)],
            ["type": "summary", "schemaVersion": 1, "from": "dev"],
        ] {
            #expect(!validator.problems(bad, against: "#/$defs/reconcile").isEmpty, "accepted \(bad)")
        }
        #expect(!validator.problems(["type": "gate", "schemaVersion": 1, "passed": "yes"], against: "#/$defs/promote").isEmpty)
    }
}
