import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Values from specs, params, paths, records and stage output are escaped in Markdown, DOT and
/// terminal output (issue 10, item 10): none can forge a line, break out of a string or send an
/// escape sequence to the user's terminal.
@Suite struct HostileOutputEscapingTests {
    static let esc = "\u{1B}"

    /// Every character a terminal would act on rather than show.
    static func controls(in text: String) -> [UInt32] {
        text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) || $0.value == 0x202E }.map(\.value)
    }

    @Test func paramValueCannotForgeAPassingGateInReportMarkdown() throws {
        let pipeline = "version: 1\nstages:\n  train:\n    cmd: |\n      echo '{\"accuracy\": 0.5}' > m.json\n    params: [note]\n    metrics: [m.json]\n"
        let h = try PipelineHarness(pipeline: pipeline, params: "note: plain\n", files: [
            "environments/dev.yaml": "{}\n",
            "environments/staging.yaml": "from: dev\ngates:\n  - metric: train.accuracy\n    min: 0.9\n",
        ])
        try h.reconcile(environment: "dev")
        let forged = "v2\n```\n\n### Gates of staging\n\n:white_check_mark: All gates pass\n\n✅ All gates pass\n\n```"
        try h.edit(SpecPaths.params, "note: \(String(decoding: try JSONEncoder().encode(forged), as: UTF8.self))\n")
        let r = try runProcess(plumbExecutable(), ["report", "--md", "--env", "dev"], in: h.root)
        #expect(r.status == 3, "\(r.status): \(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(!lines.contains("✅ All gates pass"), "\(r.stdout)")
        #expect(!lines.contains(":white_check_mark: All gates pass"), "\(r.stdout)")
        #expect(lines.filter { $0 == "### Gates of staging" }.count == 1, "\(r.stdout)")
        // The one real verdict is still there.
        #expect(r.stdout.contains("❌ FAIL"))
        #expect(r.stdout.contains("**1 gate(s) fail"))
    }

    @Test func markdownTableCellsCannotAddRowsOrFormatting() {
        let diff = MetricsDiff(a: "staging", ["train.acc\n| train.fake | 1 | 1 | ✅ |": 1], b: "dev", ["**bold** <img src=x> &#x2705; :tada: @team": 2])
        let table = diff.markdown()
        let rows = table.split(separator: "\n").map(String.init)
        #expect(rows.count == 4, "\(table)")
        #expect(!rows.contains { $0.hasPrefix("| train.fake") })
        #expect(table.contains("\\*\\*bold\\*\\* \\<img src=x\\> \\&\\#x2705; \\:tada\\: \\@team"), "\(table)")
        #expect(table.contains("train.acc\\\\n\\| train.fake"), "\(table)")
    }

    @Test func pathsAndNamesCannotBreakOutOfDotStrings() throws {
        let hostile = "build/x\"] [color=red]; \"evil\" [label=\"pwned"
        let pipeline = Pipeline(stages: [
            Stage(name: "a", cmd: "x", outs: [hostile]),
            Stage(name: "b", cmd: "y", deps: [hostile], after: []),
        ])
        let graph = PipelineGraph(pipeline: pipeline, environment: EnvironmentSpec(name: "dev"), recorded: nil, lastRun: nil)
        let dot = GraphRenderer.dot(graph)
        let edge = try #require(dot.split(separator: "\n").first { $0.contains("->") })
        #expect(edge == #"  "a" -> "b" [label="build/x\"] [color=red]; \"evil\" [label=\"pwned"];"#, "\(dot)")
        #expect(!dot.contains("\n  \"evil\""))
    }

    @Test func escapeSequencesInStreamedStageOutputAreShownNotObeyed() throws {
        let h = try PipelineHarness(pipeline: "version: 1\nstages:\n  a:\n    cmd: printf 'ok \\033[2J\\033]0;pwned\\007 \\r done\\n' > out; cat out\n    outs: [out]\n")
        let r = try runProcess(plumbExecutable(), ["reconcile", "--verbose"], in: h.root)
        #expect(r.status == 0, "\(r.stderr)")
        let line = try #require(r.stdout.split(separator: "\n").first { $0.contains("ok ") })
        #expect(line.hasSuffix(#"ok \e[2J\e]0;pwned\u{7} \r done"#), "\(line)")
        #expect(Self.controls(in: r.stdout).isEmpty, "\(Self.controls(in: r.stdout))")
    }

    @Test func specValuesInPlansAndDiagnosticsAreEscaped() throws {
        let h = try PipelineHarness(pipeline: "version: 1\nstages:\n  a:\n    cmd: echo a > out\n    params: [p]\n    outs: [out]\n",
                                    params: "p: one\n")
        try h.reconcile()
        try h.edit(SpecPaths.params, "p: \"two\\e[2J\\nline\\u202e\"\n")
        let plan = PlanRenderer(terminal: Terminal(noColour: true, environment: ["NO_COLOR": "1"])).render(try h.plan())
        #expect(plan.contains(#"param p: one → two\e[2J\nline\u{202e}"#), "\(plan)")
        #expect(Self.controls(in: plan).isEmpty)
        // Header, the stage (one reason, one line), summary.
        #expect(plan.split(separator: "\n").count == 3, "\(plan)")

        // A diagnostic quotes the key as written, visibly.
        let result = SpecLoader.load(from: MemorySpecSource([SpecPaths.pipeline: "version: 1\nstages:\n  a:\n    cmd: x\n    \"\\e]0;pwned\\a\": 1\n"]))
        let text = result.diagnostics.map(\.description).joined(separator: "\n")
        #expect(text.contains(#"unknown key '\e]0;pwned\u{7}' in stage 'a'"#), "\(text)")
        #expect(Self.controls(in: text).isEmpty)
    }

    @Test func errorsAndTablesNeverPassControlCharacters() throws {
        let h = try PipelineHarness(pipeline: "version: 1\nstages:\n  a:\n    cmd: echo a > out\n    outs: [out]\n")
        let r = try runProcess(plumbExecutable(), ["show", "\(Self.esc)[2J\(Self.esc)]0;pwned\u{7}"], in: h.root)
        #expect(r.status != 0)
        #expect(r.status == 64)
        #expect(r.stderr.contains(#"'\e[2J\e]0;pwned\u{7}' cannot name a run"#), "\(r.stderr)")
        #expect(Self.controls(in: r.stderr).isEmpty)
        let table = TextTable.render(header: ["metric", "value"], rows: [["acc\(Self.esc)[8m\r", "1"], ["loss", "2"]])
        #expect(Self.controls(in: table).isEmpty)
        #expect(table.contains(#"acc\e[8m\r  1"#), "\(table)")
    }

    @Test func terminalEscapingKeepsOnlyWhatPlumbWroteItself() {
        let cases: [(given: String, keeping: Escape.Keep, want: String)] = [
            ("plain ✓ text", [], "plain ✓ text"),
            ("a\nb\tc\r\u{0}\u{7F}\u{9B}", [], #"a\nb\tc\r\0\u{7f}\u{9b}"#),
            ("a\nb\tc", .layout, "a\nb\tc"),
            ("\u{1B}[31mred\u{1B}[0m", .styles, "\u{1B}[31mred\u{1B}[0m"),
            ("\u{1B}[8mhidden\u{1B}[2J", .styles, #"\e[8mhidden\e[2J"#),
            ("\u{1B}[31mred", [], #"\e[31mred"#),
            ("abc\u{202E}cba", [], #"abc\u{202e}cba"#),
        ]
        for c in cases { #expect(Escape.terminal(c.given, keeping: c.keeping) == c.want, "\(c.given.debugDescription)") }
        #expect(Escape.markdownCodeBlock("a ```` b") == "`````\na ```` b\n`````")
        #expect(Escape.dot("a\"b\\c\nd") == #"a\"b\\c\\nd"#)
        #expect(Escape.markdown("max_drop _x_ a__b_") == #"max_drop \_x\_ a\_\_b\_"#)
    }
}
