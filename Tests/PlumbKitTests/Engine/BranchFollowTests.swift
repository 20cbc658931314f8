import Foundation
import Testing
import PlumbCoreFixtures
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbEngine
@testable import PlumbCLI

/// An environment belongs to a branch: a feature branch plans but never reconciles a shared
/// environment, so what it deploys and records stays what its branch reviewed.
@Suite struct BranchFollowTests {
    /// train writes the param into a model; deploy copies the model to a target outside the repository.
    static let pipeline = """
    version: 1
    stages:
      train:
        cmd: echo train >> $SIDE && mkdir -p build && cat spec/params.yaml > build/model.txt
        deps: [spec/params.yaml]
        outs: [build/model.txt]
      deploy:
        cmd: echo deploy >> $SIDE && cp build/model.txt "$TARGET/model.txt"
        deps: [build/model.txt]
        outs: []
    """

    func world(branch: String? = nil) throws -> (PipelineHarness, target: String) {
        let harness = try PipelineHarness(pipeline: Self.pipeline, params: "rate: 1\n")
        let target = harness.sideDirectory + "/target"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let follows = branch.map { "branch: '\($0)'\n" } ?? ""
        try harness.edit("environments/dev.yaml", follows + "stages:\n  deploy:\n    env:\n      TARGET: \(target)\n")
        return (harness, target)
    }

    func git(_ arguments: [String], in root: String) throws {
        let result = try runProcess("/usr/bin/git", arguments, in: root)
        #expect(result.status == 0, "git \(arguments.joined(separator: " ")): \(result.stderr)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/git")))
    func aFeatureBranchPlansButNeverReconcilesTheSharedEnvironment() throws {
        let (harness, target) = try world()
        try harness.reconcile(environment: "dev")
        #expect(try harness.ran() == ["train", "deploy"])
        let deployed = FileManager.default.contents(atPath: target + "/model.txt")
        let recorded = try harness.state("dev")

        try git(["checkout", "-q", "-b", "exp"], in: harness.root)
        try harness.edit("spec/params.yaml", "rate: 2\n", commit: "try a faster rate")
        let plan = try harness.plan(environment: "dev")
        let main = try #require(harness.repository.defaultBranch())
        #expect(plan.follows == main && plan.offBranch)
        #expect(plan.stage("train")?.action == .run, "the plan still says what the branch would change")
        #expect(PlanRenderer(terminal: Terminal(noColour: true)).render(plan).contains("dev follows \(main): this plan from exp is for reading"))

        #expect { try harness.reconcile(environment: "dev") } throws: { error in
            "\(error)".contains("dev follows \(main), not exp") && "\(error)".contains("nothing was run")
        }
        #expect(try harness.ran() == [], "nothing ran")
        #expect(FileManager.default.contents(atPath: target + "/model.txt") == deployed, "dev's target is byte-identical")
        #expect(try harness.state("dev") == recorded, "dev's record on the branch is untouched")

        // Back on the branch dev follows, dev is in sync: nothing the branch did needs undoing.
        try git(["checkout", "-q", main], in: harness.root)
        let back = try harness.plan(environment: "dev")
        #expect(!back.offBranch && !back.hasChanges)
        try harness.reconcile(environment: "dev")
        #expect(try harness.ran() == [])
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/git")))
    func anEnvironmentForBranchesReconcilesOnEach() throws {
        let (harness, target) = try world(branch: "exp*")
        try git(["checkout", "-q", "-b", "exp/lr"], in: harness.root)
        try harness.edit("spec/params.yaml", "rate: 3\n")
        let outcome = try harness.reconcile(environment: "dev")
        #expect(outcome.record?.branch == "exp/lr")
        #expect(try harness.ran() == ["train", "deploy"])
        #expect(try String(contentsOfFile: target + "/model.txt", encoding: .utf8) == "rate: 3\n")
        // A glob that leaves the default branch out refuses it.
        try git(["checkout", "-q", "-b", "other"], in: harness.root)
        #expect(try harness.plan(environment: "dev").offBranch)
    }

    @Test func aBranchThatGitCannotNameIsReportedWhereItIsWritten() throws {
        for (written, message) in [("refs/heads/main", "is a full reference name"), ("a..b", "git refuses '..'"),
                                   ("feat ure", "contains ' '")] {
            let files = ["spec/pipeline.yaml": "version: 1\nstages:\n  a:\n    cmd: 'true'\n",
                         "environments/dev.yaml": "branch: '\(written)'\n"]
            let loaded = SpecLoader.load(from: MemorySpecSource(files))
            let diagnostic = try #require(loaded.diagnostics.first { $0.message.contains("branch '\(written)'") }, "\(loaded.diagnostics)")
            #expect(diagnostic.message.contains(message))
            #expect(diagnostic.location?.file == "environments/dev.yaml" && diagnostic.location?.line == 1 && diagnostic.location?.column == 9)
        }
    }
}

/// A metrics file's non-numbers are said to be ignored at the end of the stage; a file that is no
/// JSON object fails the stage naming the file.
@Suite struct MetricsFileReportTests {
    @Test func ignoredValuesAreReportedAndNotRecorded() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          s:
            cmd: >-
              mkdir -p build && echo '{"acc": 0.5, "model": "forest", "ok": true}' > build/m.json
            metrics: [build/m.json]
          t:
            cmd: mkdir -p build && echo '[0.5]' > build/t.json
            metrics: [build/t.json]
        """)
        let result = try runProcess(plumbExecutable(), ["reconcile"], in: h.root)
        #expect(result.stdout.contains("warning: stage 's' build/m.json: ignored s.model (a string), s.ok (a boolean: write 1 or 0): metrics are numbers"),
                "\(result.stdout)\(result.stderr)")
        #expect(result.status == 1, "t failed")
        let state = try #require(try h.state())
        #expect(state.metrics == ["s.acc": 0.5])
        #expect((result.stdout + result.stderr).contains("wrote its metrics file build/t.json, which holds a list, not a JSON object of numbers"),
                "\(result.stdout)\(result.stderr)")
    }
}

/// Params from another tracked YAML/JSON file, per key: the key's value is in the fingerprint
/// (other keys of the file are not), and in PLUMB_PARAMS under the file's path.
@Suite struct ParamFileTests {
    @Test func aKeyOfAnotherFileRerunsTheStageThatReadsItAlone() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          train:
            cmd: echo train >> $SIDE && mkdir -p build && cat "$PLUMB_PARAMS" > build/params.json
            params: ['config/model.yaml:model.width']
            outs: [build/params.json]
        """, files: ["config/model.yaml": "model:\n  width: 4\n  depth: 2\n"])
        try h.reconcile()
        #expect(try h.ran() == ["train"])
        try h.edit("config/model.yaml", "model:\n  width: 4\n  depth: 3\n")
        #expect(try !h.plan().hasChanges, "a key the stage does not read")
        try h.edit("config/model.yaml", "model:\n  width: 8\n  depth: 3\n")
        let plan = try h.plan()
        #expect(plan.stage("train")?.reasons.map(\.description) == ["param config/model.yaml:model.width: 4 → 8"])
        try h.reconcile()
        #expect(try h.ran() == ["train"])
        let digest = try #require(try h.state()?.stages["train"]?.outputs["build/params.json"])
        let document = String(decoding: try h.project().store.data(digest), as: UTF8.self)
        #expect(document.contains(#""config/model.yaml":{"model":{"width":8}}"#), "\(document)")
    }

    @Test func aMissingFileOrKeyIsReportedAtTheEntry() throws {
        let pipeline = "version: 1\nstages:\n  train:\n    cmd: 'true'\n    params: ['config/m.yaml:model.widht', 'nope.yaml:a', '../x.yaml:a', 'config/m.txt:a']\n"
        let loaded = SpecLoader.load(from: MemorySpecSource(["spec/pipeline.yaml": pipeline, "config/m.yaml": "model: {width: 4}\n"]))
        let messages = loaded.diagnostics.map(\.description)
        #expect(messages.contains { $0.contains("reads param 'model.widht' of config/m.yaml, which config/m.yaml does not declare") && $0.contains("did you mean 'model.width'?") }, "\(messages)")
        #expect(messages.contains { $0.contains("reads params from nope.yaml, which is not in memory") }, "\(messages)")
        #expect(messages.filter { $0.contains("which is not a relative path to a .yaml, .yml or .json file") }.count == 2, "\(messages)")
        #expect(loaded.diagnostics.allSatisfy { $0.location?.line == 5 }, "\(messages)")
    }
}
