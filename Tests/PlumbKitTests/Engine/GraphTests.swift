import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct GraphTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/graph")

    /// The four-stage pipeline reconciled once with train failing: lint and prepare succeeded,
    /// train failed, evaluate blocked.
    func failedTrainHarness() throws -> (PipelineHarness, String) {
        let h = try fourStageHarness()
        try h.edit("spec/train.sh", "echo broken >&2\nexit 3\n")
        let outcome = try h.reconcile(jobs: 1)
        let run = try #require(outcome.record?.run)
        return (h, run)
    }

    /// `plumb graph` output, byte for byte, with the run id (a time) as `<run>`.
    /// `PLUMB_RECORD_GOLDEN=1 swift test` re-records the files.
    func check(_ name: String, _ output: String, run: String) throws {
        let text = output.replacingOccurrences(of: run, with: "<run>")
        let file = Self.folder.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["PLUMB_RECORD_GOLDEN"] == "1" {
            try Data(text.utf8).write(to: file)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(text == expected, "graph output differs from \(file.path); re-record with PLUMB_RECORD_GOLDEN=1")
    }

    @Test func everyFormatShowsTheLastStatusesAndTheFilesBetweenStages() throws {
        let (h, run) = try failedTrainHarness()
        for (format, file) in [("text", "failed-train.txt"), ("mermaid", "failed-train.mmd"), ("dot", "failed-train.dot"),
                               ("json", "failed-train.json")] {
            let result = try runProcess(plumbExecutable(), ["graph", "--format", format], in: h.root)
            #expect(result.status == 0, "\(format): \(result.stderr)")
            try check(file, result.stdout, run: run)
        }
    }

    @Test func dotAndJSONFlagsAreAliasesOfTheirFormats() throws {
        let (h, _) = try failedTrainHarness()
        let dot = try runProcess(plumbExecutable(), ["graph", "--dot"], in: h.root)
        #expect(dot.stdout == (try runProcess(plumbExecutable(), ["graph", "--format", "dot"], in: h.root)).stdout)
        #expect(dot.stdout.contains("\"prepare\" -> \"train\" [label=\"build/clean.txt\"];"))
        let json = try runProcess(plumbExecutable(), ["graph", "--json"], in: h.root)
        #expect(json.stdout == (try runProcess(plumbExecutable(), ["graph", "--format=json"], in: h.root)).stdout)
        // Saying the same output twice is fine; two different ones, or an unknown one, is a usage error.
        #expect(try runProcess(plumbExecutable(), ["graph", "--dot", "--format", "dot"], in: h.root).status == 0)
        #expect(try runProcess(plumbExecutable(), ["graph", "--dot", "--json"], in: h.root).status == 64)
        #expect(try runProcess(plumbExecutable(), ["graph", "--format", "mermaid", "--json"], in: h.root).status == 64)
        let nonsense = try runProcess(plumbExecutable(), ["graph", "--format", "nonsense"], in: h.root)
        #expect(nonsense.status == 64)
        #expect(nonsense.stderr.contains("--format expects text, mermaid, dot, json, not 'nonsense'"))
    }

    @Test func envPicksWhoseStatusesAndAnEnvironmentSaysPinnedForWhatItTakesFromItsPin() throws {
        let h = try fourStageHarness()
        try h.scratch.write("environments/dev.yaml", "params: {}\n")
        try h.scratch.write("environments/prod.yaml", "from: dev\nruns: [evaluate]\n")
        try h.edit("spec/train.sh", "exit 3\n")
        try h.reconcile(environment: "dev", jobs: 1)
        func statuses(_ env: String) throws -> [String: String] {
            let r = try runProcess(plumbExecutable(), ["graph", "--env", env, "--json"], in: h.root)
            #expect(r.status == 0, "\(r.stderr)")
            let graph = try JSONDecoder().decode(PipelineGraph.self, from: Data(r.stdout.utf8))
            #expect(graph.environment == env)
            return Dictionary(uniqueKeysWithValues: graph.stages.map { ($0.name, $0.status.rawValue) })
        }
        #expect(try statuses("dev") == ["lint": "succeeded", "prepare": "succeeded", "train": "failed", "evaluate": "blocked"])
        #expect(try statuses("prod") == ["lint": "pinned", "prepare": "pinned", "train": "pinned", "evaluate": "never-run"])
        let text = try runProcess(plumbExecutable(), ["graph", "--env", "prod"], in: h.root)
        #expect(text.stdout.contains("  ^ train     pinned     <- prepare: build/clean.txt\n"), "\(text.stdout)")
        #expect(try runProcess(plumbExecutable(), ["graph", "--env", "nope"], in: h.root).status == 64)
    }

    @Test func textOnATerminalUsesUnicodeGlyphsAndMarksAfterEdges() {
        let graph = PipelineGraph(environment: "dev", stages: [
            PipelineGraph.Stage(name: "a", status: .restored),
            PipelineGraph.Stage(name: "b", status: .unchanged, layer: 1),
        ], edges: [PipelineGraph.Edge(from: "a", to: "b", files: [])])
        #expect(GraphRenderer.text(graph, unicode: true) == ["environment dev", "layer 1", "  ↺ a  restored", "layer 2", "  = b  unchanged  ← a: (after)"])
    }

    @Test func aNeverReconciledPipelineSaysNeverRun() throws {
        let h = try fourStageHarness()
        let text = try runProcess(plumbExecutable(), ["graph"], in: h.root)
        #expect(text.status == 0)
        #expect(text.stdout.split(separator: "\n").map(String.init) == [
            "environment default", "layer 1", "  o lint      never run", "  o prepare   never run",
            "layer 2", "  o train     never run  <- prepare: build/clean.txt",
            "layer 3", "  o evaluate  never run  <- train: build/model.txt",
        ])
    }

    /// Statuses from the spec and records alone, no git: table-driven.
    @Test func statusComesFromTheLastRunThenTheStateAndPinnedWinsForStagesTakenFromThePin() {
        let pipeline = Pipeline(stages: [
            Stage(name: "prepare", cmd: "x", deps: ["spec/data.txt"], outs: ["build/clean.txt"]),
            Stage(name: "train", cmd: "x", deps: ["build/clean.txt"], outs: ["build/model.txt"]),
            Stage(name: "evaluate", cmd: "x", deps: ["build/model.txt"]),
            Stage(name: "lint", cmd: "x", deps: ["spec/data.txt"]),
        ])
        let digest = Digest(hex: String(repeating: "a", count: 64))!
        func record(_ status: StageRecord.Status, run: String) -> StageRecord {
            StageRecord(status: status, fingerprint: digest, command: "", env: [:], params: [:], inputs: [:], outputs: [:], metrics: [:], run: run)
        }
        let state = RecordedState(environment: "default", stages: ["prepare": record(.succeeded, run: "r1"), "train": record(.failed, run: "r1")],
                                  lastRun: "r2")
        var last = RunRecord(run: "r2", environment: "default", commit: ObjectID(hex: String(repeating: "b", count: 40))!, branch: nil,
                             startedAt: Date(timeIntervalSince1970: 0), finishedAt: Date(timeIntervalSince1970: 1), status: .succeeded,
                             summary: "", dropped: [], stages: ["prepare": StageOutcome(action: .run, reasons: [], status: .restored)], metrics: [:])
        last.stages["prepare"]?.placement = Placement(runner: "slurm", job: "7")
        var staging = EnvironmentSpec(name: "default")
        let cases: [(name: String, environment: EnvironmentSpec, want: [String: PipelineGraph.Status])] = [
            ("runs everything", staging, ["prepare": .restored, "train": .failed, "evaluate": .neverRun, "lint": .neverRun]),
        ]
        staging.runs = ["evaluate", "lint"]
        for c in cases + [("takes prepare and train from its pin", staging,
                           ["prepare": .pinned, "train": .pinned, "evaluate": .neverRun, "lint": .neverRun])] {
            let graph = PipelineGraph(pipeline: pipeline, environment: c.environment, recorded: state, lastRun: last)
            #expect(Dictionary(uniqueKeysWithValues: graph.stages.map { ($0.name, $0.status) }) == c.want, "\(c.name)")
        }
        let graph = PipelineGraph(pipeline: pipeline, environment: EnvironmentSpec(name: "default"), recorded: state, lastRun: last)
        #expect(graph.stages.first { $0.name == "prepare" }.map { [$0.run, $0.executor] } == ["r2", "slurm"])
        #expect(graph.stages.first { $0.name == "train" }?.run == "r1")
        #expect(graph.layers.map { $0.map(\.name) } == [["lint", "prepare"], ["train"], ["evaluate"]])
    }

    @Test func longFileListsAreShortened() {
        #expect(PipelineGraph.listed([]) == "")
        #expect(PipelineGraph.listed(["a", "b", "c"]) == "a, b, c")
        #expect(PipelineGraph.listed(["a", "b", "c", "d", "e"]) == "a, b and 3 more")
    }

    /// A path may hold quotes, brackets, `<`, `&` and `#`: none may end a label or add a node,
    /// a click handler or markup.
    @Test func aHostilePathCannotBreakOutOfAMermaidOrDOTLabel() {
        let hostile = "data/a\"]; click s_x \"javascript:alert(1)\" <b>&amp;#`|x"
        let graph = PipelineGraph(environment: "dev", stages: [
            PipelineGraph.Stage(name: "pre-pare", status: .succeeded),
            PipelineGraph.Stage(name: "pre_pare", status: .failed, layer: 1),
            PipelineGraph.Stage(name: "end", status: .neverRun, layer: 2),
        ], edges: [
            PipelineGraph.Edge(from: "pre-pare", to: "pre_pare", files: [hostile]),
            PipelineGraph.Edge(from: "pre_pare", to: "end", files: []),
        ])
        let mermaid = GraphRenderer.mermaid(graph)
        #expect(mermaid.contains(
            "  s_pre_hpare -->|\"data/a#quot;]; click s_x #quot;javascript:alert(1)#quot; #lt;b#gt;#amp;amp;#35;#96;#124;x\"| s_pre__pare"))
        #expect(!mermaid.contains("<b>") && !mermaid.contains("\"]; click"))
        // Distinct ids for names that differ only in `-` and `_`; `end` is not Mermaid's keyword.
        #expect(mermaid.contains("  s_pre_hpare[\"✔ pre-pare<br/>succeeded\"]"))
        #expect(mermaid.contains("  s_end[\"○ end<br/>never run\"]"))
        #expect(mermaid.contains("  s_pre__pare -.-> s_end"))
        #expect(mermaid.contains("  class s_pre__pare failed"))
        let dot = GraphRenderer.dot(graph)
        #expect(dot.contains("  \"pre-pare\" -> \"pre_pare\" [label=\"data/a\\\"]; click s_x \\\"javascript:alert(1)\\\" <b>&amp;#`|x\"];"))
        #expect(dot.contains("  \"pre_pare\" -> \"end\" [style=dashed];"))
    }
}
