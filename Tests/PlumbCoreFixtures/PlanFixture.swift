import Foundation
import PlumbCore

/// A small pipeline and its plans, as values: the planner's tests and the plan golden files
/// (which render through the command line's view) start from the same ones.
package enum PlanFixture {
    package static let commit = ObjectID(hex: String(repeating: "a", count: 40))!
    package static let pipeline = Pipeline(stages: [
        Stage(name: "prepare", cmd: "prep", deps: ["data.csv"], outs: ["build/clean.csv"]),
        Stage(name: "train", cmd: "train", deps: ["build/clean.csv", "train.py"], outs: ["build/model"], params: ["train"]),
        Stage(name: "evaluate", cmd: "eval", deps: ["build/model/weights.bin"], metrics: ["build/metrics.json"]),
        Stage(name: "lint", cmd: "lint", deps: ["train.py"], after: ["prepare"]),
    ])
    package static let params: JSONValue = .object(["train": .object(["depth": .int(4), "rate": .double(0.1)]), "other": .int(1)])
    package static let sources = ["data.csv": "git:1111", "train.py": "git:2222"]

    /// Plans once with an empty record, pretends every stage succeeded with fixed outputs, and returns that state.
    package static func recordedAfterFirstRun(params: JSONValue = params) -> (RecordedState, Set<Digest>) {
        let input = PlanningInput(spec: Spec(pipeline: pipeline, params: params), environment: EnvironmentSpec(name: "dev"),
                                  commit: commit, recorded: nil, sourceDigests: sources)
        var state = RecordedState(environment: "dev")
        var present: Set<Digest> = []
        var produced: [String: Digest] = [:]
        for stage in Planner.plan(input, cache: .empty).stages {
            var inputs: [String: String] = [:]
            for (dep, source) in stage.deps {
                switch source {
                case let .known(id): inputs[dep] = id
                case let .output(_, path):
                    let (_, output) = StageGraph(pipeline).producer(of: path)!
                    inputs[dep] = ContentID.produced(path, output: output, digest: produced[output]!)
                }
            }
            let fingerprint = FingerprintInputs(command: stage.command, env: stage.env, params: stage.params, inputs: inputs).fingerprint
            var outputs: [String: Digest] = [:]
            for out in stage.outputs + stage.metricsFiles {
                let d = SHA256Hasher.digest("\(stage.name):\(out)")
                outputs[out] = d; produced[out] = d; present.insert(d)
            }
            state.stages[stage.name] = StageRecord(status: .succeeded, fingerprint: fingerprint, command: stage.command, env: stage.env,
                                                   params: stage.params, inputs: inputs, outputs: outputs, metrics: [:], run: "run-1")
        }
        return (state, present)
    }

    package static func plan(params: JSONValue = params, sources: [String: String] = sources, recorded: RecordedState?,
                     present: Set<Digest>, forced: Set<String> = [], outcomes: [Digest: CachedOutcome] = [:]) -> Plan {
        let input = PlanningInput(spec: Spec(pipeline: pipeline, params: params), environment: EnvironmentSpec(name: "dev"),
                                  commit: commit, recorded: recorded, sourceDigests: sources, forced: forced)
        return Planner.plan(input, cache: CacheView(contains: { present.contains($0) }, outcome: { outcomes[$0] }))
    }
}
