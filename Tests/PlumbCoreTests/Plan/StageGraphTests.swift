import Foundation
import Testing
@testable import PlumbCore

/// The one graph the validator and the planner share: its order, edges, problems and cycles.
@Suite struct StageGraphTests {
    typealias Node = StageGraph.Node

    @Test func ordersByDataAndAfterWithTiesByName() {
        let graph = StageGraph([
            Node(name: "train", deps: ["build/clean.csv"], after: [], outputs: ["build/model.pkl"]),
            Node(name: "prepare", deps: ["data.csv"], after: [], outputs: ["build/clean.csv"]),
            Node(name: "lint", deps: [], after: [], outputs: []),
            Node(name: "deploy", deps: ["build/model.pkl"], after: ["lint"], outputs: []),
        ])
        #expect(graph.order == ["lint", "prepare", "train", "deploy"])
        #expect(graph.upstream["deploy"] == ["lint", "train"])
        #expect(graph.problems == [.unproduced(stage: 1, dep: 0)])
        #expect(graph.cycles.isEmpty && graph.cycle == nil)
        #expect(graph.producer(of: "build/model.pkl")?.stage == "train")
    }

    /// A dep on a folder that holds another stage's output waits for that stage (the validator
    /// always accepted such a dep; the planner's order must honour it too).
    @Test func aFolderDepWaitsForTheOutputsInsideIt() {
        let graph = StageGraph([
            Node(name: "report", deps: ["build"], after: [], outputs: ["report.html"]),
            Node(name: "fit", deps: [], after: [], outputs: ["build/model.pkl"]),
        ])
        #expect(graph.order == ["fit", "report"])
        #expect(graph.upstream["report"] == ["fit"])
        #expect(graph.problems.isEmpty)
    }

    @Test func reportsWhatItCannotConnect() {
        let graph = StageGraph([
            Node(name: "a", deps: ["out/a/part"], after: ["a", "nope"], outputs: ["out/a"]),
        ])
        #expect(graph.problems == [.readsOwnOutput(stage: 0, dep: 0), .afterItself(stage: 0, after: 0), .unknownAfter(stage: 0, after: 1)])
        #expect(graph.upstream["a"] == [], "a stage never waits for itself")
    }

    @Test func oneCyclePerComponentFollowingTheData() {
        let graph = StageGraph([
            Node(name: "prepare", deps: ["m"], after: [], outputs: ["p"]),
            Node(name: "train", deps: ["p"], after: [], outputs: ["m"]),
            Node(name: "x", deps: [], after: ["y"], outputs: []),
            Node(name: "y", deps: [], after: ["x"], outputs: []),
            Node(name: "free", deps: [], after: [], outputs: []),
        ])
        #expect(graph.cycles == [[0, 1], [2, 3]])
        #expect(graph.cycle == ["prepare", "train", "prepare"])
        #expect(graph.order.first == "free", "stages off the cycles come first")
        #expect(Set(graph.order) == ["prepare", "train", "x", "y", "free"])
    }

    /// Plan errors carry the location of the stage or environment they concern.
    @Test func planErrorsAreLocated() {
        let at = SourceLocation(file: "spec/pipeline.yaml", line: 7, column: 3)
        let pipeline = Pipeline(stages: [Stage(name: "fit", cmd: "true", deps: ["missing.csv"], params: ["nope"], location: at)])
        let input = PlanningInput(spec: Spec(pipeline: pipeline, params: .object([:])), environment: EnvironmentSpec(name: "dev"),
                                  commit: ObjectID(hex: String(repeating: "a", count: 40))!, recorded: nil, sourceDigests: [:])
        let plan = Planner.plan(input, cache: .empty)
        #expect(plan.diagnostics.map(\.location) == [at, at])
        #expect(plan.errors == plan.diagnostics.map(\.message))
        #expect(plan.errors.first == "stage 'fit' uses param 'nope', which spec/params.yaml does not define")
    }

    /// Targets: what they need, and with `downstream` what depends on them and what that needs.
    @Test func aSelectionIsTheTargetsWithWhatTheyNeed() {
        let graph = StageGraph([
            Node(name: "prepare", deps: ["data.csv"], after: [], outputs: ["build/clean.csv"]),
            Node(name: "train", deps: ["build/clean.csv"], after: [], outputs: ["build/model.pkl"]),
            Node(name: "features", deps: ["data.csv"], after: [], outputs: ["build/features.csv"]),
            Node(name: "evaluate", deps: ["build/model.pkl", "build/features.csv"], after: [], outputs: ["build/metrics.json"]),
            Node(name: "lint", deps: [], after: [], outputs: []),
        ])
        #expect(graph.selection(targets: ["train"], downstream: false) == ["prepare", "train"])
        #expect(graph.selection(targets: ["evaluate"], downstream: false) == ["prepare", "train", "features", "evaluate"])
        // evaluate depends on train, and needs features too.
        #expect(graph.selection(targets: ["train"], downstream: true) == ["prepare", "train", "features", "evaluate"])
        #expect(graph.selection(targets: ["lint"], downstream: true) == ["lint"])
    }
}
