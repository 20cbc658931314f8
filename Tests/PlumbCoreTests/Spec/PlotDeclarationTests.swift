import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures

/// `plots:` entries decode to `Plot`s; plot files are outputs unless a declared folder holds them.
@Suite struct PlotDeclarationTests {
    static func load(_ stages: String) -> SpecLoadResult {
        SpecLoader.load(from: MemorySpecSource(["spec/pipeline.yaml": "version: 1\nstages:\n" + stages]))
    }

    @Test func aPathOrAPathWithOptionsDecodes() throws {
        let result = Self.load("""
          train:
            cmd: python3 train.py
            outs: [dvclive]
            plots:
              - dvclive/plots/metrics/loss.tsv: {x: step, y: [loss, val_loss], title: Training loss}
              - ./build//acc.csv
              - build/roc.json:
              - build/pr.yaml: {y: precision}

        """)
        #expect(result.diagnostics.map(\.description) == [])
        let train = try #require(result.spec?.pipeline.stage("train"))
        #expect(train.plots == [
            Plot(path: "dvclive/plots/metrics/loss.tsv", x: "step", y: ["loss", "val_loss"], title: "Training loss"),
            Plot(path: "build/acc.csv"),
            Plot(path: "build/roc.json"),
            Plot(path: "build/pr.yaml", y: ["precision"]),
        ])
        #expect(train.plots.map(\.format) == [.tsv, .csv, .json, .yaml])
        // The file inside `dvclive` is that folder's; the others are outputs of their own.
        #expect(train.plotOutputs == ["build/acc.csv", "build/roc.json", "build/pr.yaml"])
        #expect(train.allOutputs == ["dvclive", "build/acc.csv", "build/roc.json", "build/pr.yaml"])
    }

    @Test func aSinglePathStandsForAListOfOne() throws {
        let result = Self.load("  train:\n    cmd: 'true'\n    plots: build/loss.csv\n")
        #expect(result.diagnostics.isEmpty)
        #expect(result.spec?.pipeline.stage("train")?.plots == [Plot(path: "build/loss.csv")])
    }

    @Test func aStageReadingAnotherStagesPlotRunsAfterIt() throws {
        let result = Self.load("""
          train:
            cmd: 'true'
            plots: [build/loss.csv]
          report:
            cmd: 'true'
            deps: [build/loss.csv]

        """)
        #expect(result.diagnostics.isEmpty)
        let spec = try #require(result.spec)
        #expect(StageGraph(spec.pipeline).upstream["report"] == ["train"])
    }

    @Test func thePlannerStoresPlotFilesAsOutputsAndHandsTheExecutorThePlots() throws {
        var train = Stage(name: "train", cmd: "true", outs: ["dvclive"])
        train.plots = [Plot(path: "dvclive/loss.tsv"), Plot(path: "build/acc.csv", y: ["acc"])]
        let other = Stage(name: "other", cmd: "true", outs: ["build/other.txt"])
        let input = PlanningInput(spec: Spec(pipeline: Pipeline(stages: [train, other])), environment: EnvironmentSpec(name: "dev"),
                                  commit: PlanFixture.commit, recorded: nil, sourceDigests: [:])
        let plan = Planner.plan(input, cache: .empty)
        let planned = try #require(plan.stage("train"))
        #expect(planned.outputs == ["dvclive", "build/acc.csv"])
        #expect(planned.plots == train.plots)
        #expect(plan.stage("other")?.plots == nil, "a stage without plots has none in its plan (and plan JSON is as before)")
    }
}
