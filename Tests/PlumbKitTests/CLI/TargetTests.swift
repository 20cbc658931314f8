import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbEngine

/// `plumb reconcile STAGE…` and `plumb plan STAGE…` (issue 13, item 4), through the built binary.
@Suite struct TargetTests {
    static let pipeline = """
    version: 1
    stages:
      prepare:
        cmd: echo prepare >> $SIDE && mkdir -p build && cp spec/data.txt build/p.txt
        deps: [spec/data.txt]
        outs: [build/p.txt]
      train:
        cmd: echo train >> $SIDE && mkdir -p build && cp build/p.txt build/m.txt
        deps: [build/p.txt]
        outs: [build/m.txt]
      report:
        cmd: echo report >> $SIDE && mkdir -p build && cp build/m.txt build/r.txt
        deps: [build/m.txt]
        outs: [build/r.txt]
      lint:
        cmd: echo lint >> $SIDE && mkdir -p build && cp spec/data.txt build/l.txt
        deps: [spec/data.txt]
        outs: [build/l.txt]
    """

    @Test func aTargetRunsWhatItNeedsAndTheOthersKeepTheirRecords() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline, files: ["spec/data.txt": "a\n"])
        let plan = try runProcess(plumbExecutable(), ["plan", "train", "--json"], in: h.root)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        #expect((json["stages"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["prepare", "train"])
        #expect(json["untargeted"] as? [String] == ["lint", "report"])

        let first = try runProcess(plumbExecutable(), ["reconcile", "train"], in: h.root)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("not targeted, kept as recorded: lint, report"), "\(first.stdout)")
        #expect(try h.ran() == ["prepare", "train"])
        #expect(Set(try #require(try h.state()).stages.keys) == ["prepare", "train"])

        // The rest runs when the whole pipeline is reconciled.
        #expect(try runProcess(plumbExecutable(), ["reconcile"], in: h.root).status == 0)
        #expect(Set(try h.ran()) == ["lint", "report"])

        // New data, one target: lint runs; prepare keeps its record (and so still plans to run).
        try h.edit("spec/data.txt", "b\n")
        let prepareBefore = try #require(try h.state()?.stages["prepare"])
        #expect(try runProcess(plumbExecutable(), ["reconcile", "lint"], in: h.root).status == 0)
        #expect(try h.ran() == ["lint"])
        #expect(try h.state()?.stages["prepare"] == prepareBefore, "an untargeted stage keeps its record")
        #expect(try h.plan().stage("prepare")?.action == .run)

        // --downstream: the target and everything that depends on it.
        let down = try runProcess(plumbExecutable(), ["reconcile", "prepare", "--downstream"], in: h.root)
        #expect(down.status == 0, "\(down.stderr)")
        #expect(try h.ran() == ["prepare", "train", "report"])
    }

    @Test func targetsAreCheckedAndNeedNoWatch() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline, files: ["spec/data.txt": "a\n"])
        let typo = try runProcess(plumbExecutable(), ["reconcile", "trian"], in: h.root)
        #expect(typo.status == 64 && typo.stderr.contains("no stage 'trian'") && typo.stderr.contains("did you mean 'train'?"), "\(typo.stderr)")
        let alone = try runProcess(plumbExecutable(), ["plan", "--downstream"], in: h.root)
        #expect(alone.status == 64, "\(alone.stderr)")
        let watch = try runProcess(plumbExecutable(), ["reconcile", "--watch", "train"], in: h.root)
        #expect(watch.status == 64, "\(watch.stderr)")
        // A forced stage is a target too.
        let forced = try runProcess(plumbExecutable(), ["plan", "train", "--force", "lint", "--json"], in: h.root)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(forced.stdout.utf8)) as? [String: Any])
        #expect(json["untargeted"] as? [String] == ["report"], "\(forced.stdout)")
        #expect(try h.ran().isEmpty)
    }

    /// A fan-out stage's name targets all its instances (issue 17's leftover), in plan, reconcile
    /// and --force; an instance is still a target alone, and a misspelt template gets a suggestion.
    @Test func aFanOutStagesNameTargetsEveryInstance() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          featurize:
            foreach: [a, b]
            do:
              cmd: echo featurize-${item} >> $SIDE && mkdir -p build && echo ${item} > build/f-${item}.txt
              outs: ["build/f-${item}.txt"]
          lint:
            cmd: echo lint >> $SIDE && mkdir -p build && echo ok > build/lint.txt
            outs: [build/lint.txt]
        """)
        let plan = try runProcess(plumbExecutable(), ["plan", "featurize", "--json"], in: h.root)
        #expect(plan.status == 0, "\(plan.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        #expect((json["stages"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["featurize-a", "featurize-b"])
        #expect(json["untargeted"] as? [String] == ["lint"])

        let run = try runProcess(plumbExecutable(), ["reconcile", "featurize"], in: h.root)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try h.ran().sorted() == ["featurize-a", "featurize-b"])
        #expect(try h.state()?.stages["lint"] == nil, "lint was not targeted")

        // Without targets --force runs the rest as planned: here lint, new.
        let forced = try runProcess(plumbExecutable(), ["reconcile", "--force", "featurize"], in: h.root)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("featurize-a   forced") && forced.stdout.contains("featurize-b   forced"), "\(forced.stdout)")
        #expect(try h.ran().sorted() == ["featurize-a", "featurize-b", "lint"])
        let one = try runProcess(plumbExecutable(), ["reconcile", "--force", "featurize-b"], in: h.root)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(try h.ran() == ["featurize-b"])

        let typo = try runProcess(plumbExecutable(), ["plan", "featurise"], in: h.root)
        #expect(typo.status == 64 && typo.stderr.contains("no stage 'featurise'") && typo.stderr.contains("did you mean 'featurize'?"), "\(typo.stderr)")
    }
}
