import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures

/// Every on-disk and machine-readable format decodes to what was encoded, byte-stably.
@Suite struct FormatRoundTripTests {
    static let digest = SHA256Hasher.digest("x")
    static let commit = ObjectID(hex: String(repeating: "b", count: 40))!

    func roundTrip<T: Codable & Equatable>(_ value: T) throws {
        let data = try RecordJSON.encode(value)
        let back = try RecordJSON.decode(T.self, from: data)
        #expect(back == value)
        #expect(try RecordJSON.encode(back) == data)
    }

    @Test func recordedState() throws {
        let record = StageRecord(status: .failed, fingerprint: Self.digest, command: "echo \"hi\" > out", env: ["A": "1"],
                                 params: ["train": .object(["depth": .int(4), "rate": .double(0.25), "name": .string("x"), "on": .bool(true)])],
                                 inputs: ["a.txt": "git:" + String(repeating: "a", count: 40)], outputs: ["out": Self.digest], metrics: ["train.acc": 0.8125], run: "r1")
        try roundTrip(RecordedState(environment: "dev", stages: ["train": record], lastRun: "r1", lastCommit: Self.commit))
    }

    @Test func runRecord() throws {
        let outcome = StageOutcome(action: .mayRun, reasons: ["runs if a's outputs change"], status: .failed, exitCode: 2, duration: 1.5,
                                   attempts: 2, log: Self.digest, logTail: "line\nlast", fingerprint: Self.digest,
                                   inputs: ["x": "sha256:" + String(repeating: "0", count: 64)], outputs: [:], metrics: ["b.m": 1])
        try roundTrip(RunRecord(run: "r1", environment: "dev", commit: Self.commit, branch: "main",
                                startedAt: Date(timeIntervalSince1970: 1_700_000_000), finishedAt: Date(timeIntervalSince1970: 1_700_000_100),
                                status: .failed, summary: "Plan: …", dropped: ["old"], stages: ["b": outcome], metrics: ["b.m": 1],
                                pin: PinReference(source: "dev", commit: Self.commit, run: "r0")))
    }

    @Test func pin() throws {
        try roundTrip(Pin(source: "dev", commit: Self.commit, run: "r1",
                          stages: ["train": PinnedStage(fingerprint: Self.digest, outputs: ["m": Self.digest], metrics: ["train.a": 0.5])],
                          gates: [GateResult(metric: "evaluate.accuracy", condition: "min 0.78", value: 0.8, baseline: nil, passed: true, message: "ok")],
                          promotedBy: "ci", promotedAt: Date(timeIntervalSince1970: 1_700_000_000)))
    }

    @Test func plan() throws {
        let (state, present) = PlanFixture.recordedAfterFirstRun()
        try roundTrip(PlanFixture.plan(recorded: state, present: present))
        try roundTrip(PlanFixture.plan(recorded: nil, present: []))
    }

    @Test func aHandEditedStateFileGivesAnErrorNamingTheFile() {
        let broken = Data(#"{"formatVersion": 1, "environment": "dev", "stages": {"train": {"status": "exploded"}}}"#.utf8)
        #expect {
            try RecordedState.decode(broken, path: "history/dev/state.json")
        } throws: { error in
            let text = "\(error)"
            return text.contains("history/dev/state.json: not a valid state file") && text.contains("hint:")
        }
    }
}
