import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures

/// The planner is pure: these tests give it values and read the plan, with no git and no disk.
@Suite struct PlannerTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var params: JSONValue = PlanFixture.params
        var sources: [String: String] = PlanFixture.sources
        var dropFromCache: Bool = false
        var forced: Set<String> = []
        var want: [String: StageAction]
        var wantReasons: [String: [String]] = [:]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "nothing changed", want: ["prepare": .unchanged, "train": .unchanged, "evaluate": .unchanged, "lint": .unchanged]),
        Case(name: "param of train changed",
             params: .object(["train": .object(["depth": .int(6), "rate": .double(0.1)]), "other": .int(1)]),
             want: ["prepare": .unchanged, "train": .run, "evaluate": .mayRun, "lint": .unchanged],
             wantReasons: ["train": ["param train.depth: 4 → 6"], "evaluate": ["runs if train's outputs change"]]),
        Case(name: "unrelated param changed",
             params: .object(["train": .object(["depth": .int(4), "rate": .double(0.1)]), "other": .int(2)]),
             want: ["prepare": .unchanged, "train": .unchanged, "evaluate": .unchanged, "lint": .unchanged]),
        Case(name: "data changed", sources: ["data.csv": "git:9999", "train.py": "git:2222"],
             want: ["prepare": .run, "train": .mayRun, "evaluate": .mayRun, "lint": .unchanged],
             wantReasons: ["prepare": ["dep data.csv changed: git:1111 → git:9999"]]),
        Case(name: "code shared by two stages changed", sources: ["data.csv": "git:1111", "train.py": "git:3333"],
             want: ["prepare": .unchanged, "train": .run, "evaluate": .mayRun, "lint": .run]),
        Case(name: "outputs gone from the cache", dropFromCache: true,
             want: ["prepare": .run, "train": .run, "evaluate": .run, "lint": .unchanged],
             wantReasons: ["prepare": ["output build/clean.csv missing from the cache"]]),
        Case(name: "forced", forced: ["lint"],
             want: ["prepare": .unchanged, "train": .unchanged, "evaluate": .unchanged, "lint": .run],
             wantReasons: ["lint": ["forced"]]),
    ]

    @Test func aRunIDSaysWhenItStartedAndOtherShapesSayNothing() throws {
        let date = try #require(RunID.date(of: "20261125-091502-3fa9c1"))
        #expect(date.timeIntervalSince1970 == 1_795_598_102)
        #expect(RunID.date(of: "20240229-235959-000000")?.timeIntervalSince1970 == 1_709_251_199, "a leap day")
        for bad in ["20230229-120000-x", "20261131-120000-x", "20261301-120000-x", "20261125-241502-x", "20261125-096002-x",
                    "2026112a-091502-x", "20261125_091502-x", "20261125-0915", "", "latest~1", "3fa9c1"] {
            #expect(RunID.date(of: bad) == nil, "\(bad)")
        }
    }

    @Test(arguments: cases) func plansTheExpectedActions(_ c: Case) {
        let (state, present) = PlanFixture.recordedAfterFirstRun()
        let plan = PlanFixture.plan(params: c.params, sources: c.sources, recorded: state, present: c.dropFromCache ? [] : present, forced: c.forced)
        #expect(plan.errors.isEmpty)
        #expect(Dictionary(uniqueKeysWithValues: plan.stages.map { ($0.name, $0.action) }) == c.want)
        for (stage, reasons) in c.wantReasons {
            #expect(plan.stage(stage)?.reasons.map(\.description) == reasons)
        }
    }

    /// `always_run` and `stale_after`: triggers from outside the inputs, stated in the plan, and
    /// measured against the input's `now` (the planner reads no clock).
    @Test func alwaysRunAndStaleAfterTriggerAStageWhoseInputsAreUnchanged() throws {
        var (state, objects) = PlanFixture.recordedAfterFirstRun()
        let present = objects
        state.stages["prepare"]?.run = "20261101-120000-aaaaaa"
        state.stages["lint"]?.run = "20261101-120000-aaaaaa"
        var pipeline = PlanFixture.pipeline
        pipeline.stages[0].staleAfter = 30 * 86_400
        pipeline.stages[3].alwaysRun = true
        var input = PlanningInput(spec: Spec(pipeline: pipeline, params: PlanFixture.params), environment: EnvironmentSpec(name: "dev"),
                                  commit: PlanFixture.commit, recorded: state, sourceDigests: PlanFixture.sources)
        let cache = CacheView(contains: { present.contains($0) }, outcome: { _ in nil })
        input.now = try #require(RunID.date(of: "20261215-120000-000000"))
        var plan = Planner.plan(input, cache: cache)
        #expect(plan.stage("lint")?.action == .run)
        #expect(plan.stage("lint")?.reasons.map(\.description) == ["always runs (always_run)"])
        input.now = try #require(RunID.date(of: "20261120-120000-000000"))
        plan = Planner.plan(input, cache: cache)
        #expect(plan.stage("prepare")?.action == .unchanged, "19 days old, stale after 30")
        input.now = try #require(RunID.date(of: "20261215-120000-000000"))
        plan = Planner.plan(input, cache: cache)
        #expect(plan.stage("prepare")?.action == .run)
        #expect(plan.stage("prepare")?.reasons.map(\.description) == ["last ran 44d 0h ago (run 20261101-120000-aaaaaa), stale after 30d 0h"])
        #expect(plan.stage("train")?.action == .mayRun, "what depends on it runs only if its outputs change")
        // Neither makes the record stale for a promotion.
        let decisions = Planner.decidedPlan(input, cache: cache).decisions
        #expect(decisions["prepare"]?.makesRecordStale == false && decisions["lint"]?.makesRecordStale == false)
    }

    @Test func aWholeNumberWrittenAsAFloatIsTheSameParam() {
        // A record stores 1.0 as 1; reading it back must not look like a change.
        let asFloat: JSONValue = .object(["train": .object(["depth": .double(4.0), "rate": .double(0.1)]), "other": .int(1)])
        let (state, present) = PlanFixture.recordedAfterFirstRun()
        let plan = PlanFixture.plan(params: asFloat, recorded: state, present: present)
        #expect(plan.stage("train")?.action == .unchanged)
        #expect(Planner.differences(record: state.stages["train"]!, now: FingerprintInputs(
            command: "train", env: [:], params: ["train": asFloat.value(at: "train")!], inputs: state.stages["train"]!.inputs)).isEmpty)
    }

    @Test func aChangedDepNamesOldAndNewIdentity() {
        let (state, present) = PlanFixture.recordedAfterFirstRun()
        let plan = PlanFixture.plan(sources: ["data.csv": "git:99998888", "train.py": "git:2222"], recorded: state, present: present)
        #expect(plan.stage("prepare")?.reasons.map(\.description) == ["dep data.csv changed: git:1111 → git:99998888"])
    }

    @Test func aFirstPlanCreatesEverythingInTopologicalOrder() {
        let plan = PlanFixture.plan(recorded: nil, present: [])
        #expect(plan.stages.map(\.name) == ["prepare", "lint", "train", "evaluate"])
        #expect(plan.stages.allSatisfy { $0.action == .create })
        #expect(plan.summary == "Plan: 4 to run, 0 may run, 0 unchanged, 0 restored from cache.")
        #expect(plan.stage("lint")?.upstream == ["prepare"])
        #expect(plan.stage("evaluate")?.deps["build/model/weights.bin"] == .output(stage: "train", path: "build/model/weights.bin"))
    }

    @Test func aFingerprintThatRanBeforeIsRestored() {
        let (state, present) = PlanFixture.recordedAfterFirstRun()
        let changed: JSONValue = .object(["train": .object(["depth": .int(6), "rate": .double(0.1)]), "other": .int(1)])
        // What train's fingerprint would be with depth 6:
        let probe = PlanFixture.plan(params: changed, recorded: state, present: present)
        let fingerprint = try! #require(probe.stage("train")?.fingerprint)
        let outcome = CachedOutcome(outputs: ["build/model": SHA256Hasher.digest("older model")], metrics: [:], run: "run-0")
        let plan = PlanFixture.plan(params: changed, recorded: state, present: present, outcomes: [fingerprint: outcome])
        #expect(plan.stage("train")?.action == .restore)
        #expect(plan.stage("train")?.cachedOutputs == outcome.outputs)
        // The restored model differs from the recorded one, so evaluate knows its input now and must run.
        #expect(plan.stage("evaluate")?.action == .run)
    }

    @Test func stagesThatLeftTheSpecAreDropped() {
        var (state, present) = PlanFixture.recordedAfterFirstRun()
        state.stages["retired"] = state.stages["lint"]
        let plan = PlanFixture.plan(recorded: state, present: present)
        #expect(plan.dropped == ["retired"])
        #expect(plan.hasChanges)
    }

    @Test func aMissingDepOrParamIsAPlanError() {
        let plan = PlanFixture.plan(params: .object([:]), sources: ["train.py": "git:2222"], recorded: nil, present: [])
        #expect(plan.errors.contains("stage 'prepare' depends on 'data.csv', which no stage produces, git does not track, and is not on disk"))
        #expect(plan.errors.contains("stage 'train' uses param 'train', which spec/params.yaml does not define"))
    }

    @Test func thePlanIsDeterministic() throws {
        let (state, present) = PlanFixture.recordedAfterFirstRun()
        let a = try RecordJSON.encode(PlanFixture.plan(recorded: state, present: present))
        let b = try RecordJSON.encode(PlanFixture.plan(recorded: state, present: present))
        #expect(a == b)
    }
}
