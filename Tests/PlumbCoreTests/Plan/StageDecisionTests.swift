import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures

/// `Planner.decide`, one rule per case: given a stage's record, its inputs now and the cache, the
/// decision, and the action and reasons a plan shows for it.
@Suite struct StageDecisionTests {
    static let stage = Stage(name: "train", cmd: "train", deps: ["data.csv"], outs: ["build/model"])
    static let deploy = Stage(name: "train", cmd: "train", deps: ["data.csv"], outs: ["build/model"], check: "probe")
    static let now = FingerprintInputs(command: "train", env: [:], params: [:], inputs: ["data.csv": "git:1111"])
    static let changedInputs = FingerprintInputs(command: "train", env: [:], params: [:], inputs: ["data.csv": "git:2222"])
    static let model = SHA256Hasher.digest("model")
    static let older = CachedOutcome(outputs: ["build/model": SHA256Hasher.digest("older")], metrics: [:], run: "run-0")
    static let pinned = PinnedStage(fingerprint: SHA256Hasher.digest("pinned"), outputs: ["build/model": model], metrics: [:])
    static let pin = Pin(source: "dev", commit: PlanFixture.commit, run: "run-7", stages: ["train": pinned], gates: [],
                         promotedBy: "ci", promotedAt: Date(timeIntervalSince1970: 0))

    static func record(_ status: StageRecord.Status = .succeeded, inputs: FingerprintInputs = now) -> StageRecord {
        StageRecord(status: status, fingerprint: inputs.fingerprint, command: inputs.command, env: inputs.env, params: inputs.params,
                    inputs: inputs.inputs, outputs: ["build/model": model], metrics: [:], run: "run-1")
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var stage: Stage = StageDecisionTests.stage
        var record: StageRecord?
        var inputs: FingerprintInputs = StageDecisionTests.now
        var unknownUpstream: Set<String> = []
        var present: Set<Digest> = [StageDecisionTests.model]
        var outcomes: [Digest: CachedOutcome] = [:]
        var forced: Set<String> = []
        var drifted: [String: String] = [:]
        var runs: [String]?
        var pin: Pin?
        var want: StageDecision
        var wantAction: StageAction
        var wantReasons: [String]
        var wantStale: Bool = true
        var testDescription: String { name }
    }

    static let dep = PlanReason(.dep, "data.csv", old: "git:1111", new: "git:2222")

    static let cases: [Case] = [
        Case(name: "new", want: .new, wantAction: .create, wantReasons: ["new stage"]),
        Case(name: "new, its fingerprint ran before", outcomes: [now.fingerprint: older],
             want: .newRestored(older), wantAction: .restore,
             wantReasons: ["new stage", "ran before with these inputs (run run-0); outputs restored from the cache"]),
        Case(name: "new deploying stage is never restored", stage: deploy, outcomes: [now.fingerprint: older],
             want: .new, wantAction: .create, wantReasons: ["new stage"]),
        Case(name: "unchanged", record: record(), want: .unchanged(record()), wantAction: .unchanged, wantReasons: [], wantStale: false),
        Case(name: "unchanged but outputs gone", record: record(), present: [],
             want: .outputsMissing(["build/model"], changes: []), wantAction: .run,
             wantReasons: ["output build/model missing from the cache"], wantStale: false),
        Case(name: "fingerprint changed", record: record(), inputs: changedInputs,
             want: .changed([dep]), wantAction: .run, wantReasons: ["dep data.csv changed: git:1111 → git:2222"]),
        Case(name: "fingerprint changed to one that ran before", record: record(), inputs: changedInputs,
             outcomes: [changedInputs.fingerprint: older], want: .restored(older, changes: [dep]), wantAction: .restore,
             wantReasons: ["dep data.csv changed: git:1111 → git:2222", "ran before with these inputs (run run-0); outputs restored from the cache"]),
        Case(name: "failed with the same fingerprint is not restored", record: record(.failed), outcomes: [now.fingerprint: older],
             want: .previousFailure(run: "run-1", changes: []), wantAction: .run, wantReasons: ["previous attempt failed (run run-1)"]),
        Case(name: "upstream runs", record: record(), unknownUpstream: ["prepare"],
             want: .upstreamRuns(["prepare"]), wantAction: .mayRun, wantReasons: ["runs if prepare's outputs change"]),
        Case(name: "upstream runs and own outputs gone", record: record(), unknownUpstream: ["prepare"], present: [],
             want: .outputsMissing(["build/model"], changes: []), wantAction: .run,
             wantReasons: ["output build/model missing from the cache"], wantStale: false),
        Case(name: "upstream runs after a failure", record: record(.failed), unknownUpstream: ["prepare"],
             want: .previousFailure(run: "run-1", changes: []), wantAction: .run, wantReasons: ["previous attempt failed (run run-1)"]),
        Case(name: "forced", record: record(), forced: ["train"], want: .forced(changes: []), wantAction: .run, wantReasons: ["forced"]),
        Case(name: "drifted", record: record(), drifted: ["train": "endpoint down"],
             want: .drifted("endpoint down", changes: []), wantAction: .run, wantReasons: ["drifted: endpoint down"]),
        Case(name: "pinned", record: record(), runs: [], pin: pin,
             want: .pinned(pinned, pin: pin, recorded: now.fingerprint), wantAction: .pinned,
             wantReasons: ["from promotion of dev run run-7", "promotion changed: \(now.fingerprint.short) → \(pinned.fingerprint.short)"],
             wantStale: false),
        Case(name: "taken from a pin that does not pin it", runs: [], want: .unpinned, wantAction: .run, wantReasons: []),
    ]

    @Test(arguments: cases) func decidesByItsNamedRule(_ c: Case) {
        var environment = EnvironmentSpec(name: "dev")
        environment.runs = c.runs
        var input = PlanningInput(spec: Spec(pipeline: Pipeline(stages: [c.stage]), params: .object([:])), environment: environment,
                                  commit: PlanFixture.commit, recorded: nil, pin: c.pin, sourceDigests: [:], forced: c.forced)
        input.drifted = c.drifted
        let cache = CacheView(contains: { c.present.contains($0) }, outcome: { c.outcomes[$0] })
        let fingerprint = c.unknownUpstream.isEmpty ? c.inputs.fingerprint : nil
        let decision = Planner.decide(c.stage, record: c.record, inputs: c.inputs, fingerprint: fingerprint,
                                      unknownUpstream: c.unknownUpstream, planning: input, cache: cache)
        #expect(decision == c.want)
        #expect(decision.action == c.wantAction)
        #expect(decision.reasons.map(\.description) == c.wantReasons)
        #expect(decision.makesRecordStale == c.wantStale)
    }
}
