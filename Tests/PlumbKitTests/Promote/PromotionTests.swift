import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Gate evaluation and the pin format: pure, no git and no disk.
@Suite struct PromotionTests {
    struct GateCase: CustomTestStringConvertible, Sendable {
        var name: String
        var gate: Gate
        var source: [String: Double]
        var baseline: [String: Double]?
        var want: [Bool]
        var message: String?
        var testDescription: String { name }
    }

    static let cases: [GateCase] = [
        GateCase(name: "min met", gate: Gate(metric: "evaluate.accuracy", min: 0.78), source: ["evaluate.accuracy": 0.8], want: [true]),
        GateCase(name: "min met exactly", gate: Gate(metric: "evaluate.accuracy", min: 0.78), source: ["evaluate.accuracy": 0.78], want: [true]),
        GateCase(name: "min missed", gate: Gate(metric: "evaluate.accuracy", min: 0.78), source: ["evaluate.accuracy": 0.7799],
                 want: [false], message: "0.7799 is below the minimum 0.78"),
        GateCase(name: "max met", gate: Gate(metric: "train.seconds", max: 60), source: ["train.seconds": 59], want: [true]),
        GateCase(name: "max exceeded", gate: Gate(metric: "train.seconds", max: 60), source: ["train.seconds": 61],
                 want: [false], message: "61 is above the maximum 60"),
        GateCase(name: "min and max in one gate", gate: Gate(metric: "m", min: 1, max: 2), source: ["m": 3], want: [true, false]),
        GateCase(name: "drop within the limit", gate: Gate(metric: "a", maxDrop: 0.02), source: ["a": 0.84], baseline: ["a": 0.85], want: [true]),
        GateCase(name: "drop exactly at the limit despite binary floats", gate: Gate(metric: "a", maxDrop: 0.01),
                 source: ["a": 0.79], baseline: ["a": 0.8], want: [true]),
        GateCase(name: "drop too large", gate: Gate(metric: "a", maxDrop: 0.02), source: ["a": 0.82], baseline: ["a": 0.85],
                 want: [false], message: "falls 0.03 from 0.85, more than 0.02"),
        GateCase(name: "a rise always passes max_drop", gate: Gate(metric: "a", maxDrop: 0), source: ["a": 0.9], baseline: ["a": 0.5], want: [true]),
        GateCase(name: "no baseline: the target runs nothing yet", gate: Gate(metric: "a", maxDrop: 0.01), source: ["a": 0.1], baseline: nil,
                 want: [true], message: "no baseline: the target runs no model with this metric yet"),
        GateCase(name: "metric missing in the source fails every condition", gate: Gate(metric: "evaluate.acuracy", min: 0.5, maxDrop: 0.1),
                 source: ["evaluate.accuracy": 0.9], baseline: ["evaluate.accuracy": 0.9], want: [false, false],
                 message: "the source has no metric evaluate.acuracy; check the stage's metrics file and the gate's name"),
    ]

    @Test(arguments: cases) func gate(_ c: GateCase) {
        let results = Promotion.evaluate(gates: [c.gate], source: c.source, baseline: c.baseline)
        #expect(results.map(\.passed) == c.want)
        if let message = c.message { #expect(results.contains { $0.message == message }, "\(results.map(\.message))") }
        #expect(Promotion.passed(results) == c.want.allSatisfy { $0 })
    }

    @Test func conditionsAreReportedInDeclarationOrderWithValueAndBaseline() {
        let results = Promotion.evaluate(
            gates: [Gate(metric: "evaluate.accuracy", min: 0.78), Gate(metric: "evaluate.accuracy", maxDrop: 0.02)],
            source: ["evaluate.accuracy": 0.81], baseline: ["evaluate.accuracy": 0.8])
        #expect(results.map(\.condition) == ["min 0.78", "max_drop 0.02"])
        #expect(results.allSatisfy { $0.value == 0.81 && $0.baseline == 0.8 })
        #expect(Promotion.evaluate(gates: [], source: [:], baseline: nil).isEmpty)
    }

    @Test func theBaselineIsWhatTheTargetRunsNowElseItsPin() {
        let digest = Digest(hex: String(repeating: "a", count: 64))!
        let record = StageRecord(status: .succeeded, fingerprint: digest, command: "x", env: [:], params: [:], inputs: [:],
                                 outputs: [:], metrics: ["evaluate.accuracy": 0.8], run: "r1")
        let recorded = RecordedState(environment: "staging", stages: ["evaluate": record])
        let pin = Self.samplePin()
        #expect(Promotion.baseline(recorded: recorded, pin: pin) == ["evaluate.accuracy": 0.8])
        #expect(Promotion.baseline(recorded: nil, pin: pin) == ["evaluate.accuracy": 0.85])
        #expect(Promotion.baseline(recorded: nil, pin: nil) == nil)
    }

    static func samplePin() -> Pin {
        let d = { (c: Character) in Digest(hex: String(repeating: c, count: 64))! }
        return Pin(source: "dev", commit: ObjectID(hex: String(repeating: "1", count: 40))!, run: "20261125-091502-3fa9c1",
                   stages: ["train": PinnedStage(fingerprint: d("a"), outputs: ["build/model.pkl": d("b")], metrics: [:]),
                            "evaluate": PinnedStage(fingerprint: d("c"), outputs: ["build/metrics.json": d("e")],
                                                    metrics: ["evaluate.accuracy": 0.85])],
                   gates: [GateResult(metric: "evaluate.accuracy", condition: "min 0.78", value: 0.85, baseline: nil, passed: true,
                                      message: "0.85 ≥ 0.78")],
                   promotedBy: "ci", promotedAt: Date(timeIntervalSince1970: 1_795_000_000))
    }

    @Test func thePinFormatRoundTripsByteForByte() throws {
        let pin = Self.samplePin()
        let data = try RecordJSON.encode(pin)
        let decoded = try Pin.decode(data, path: "environments/staging.pin.json")
        #expect(decoded == pin)
        #expect(try RecordJSON.encode(decoded) == data)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"promotedAt\": \"2026-11-18T11:06:40Z\""))
        #expect(text.contains("\"formatVersion\": 1"))
        // Keys sorted: the same pin always gives the same bytes, so git diffs show only real changes.
        #expect(text.range(of: "\"evaluate\"")!.lowerBound < text.range(of: "\"train\"")!.lowerBound)
    }

    @Test func aPinStampedWithFractionalSecondsStillRoundTrips() throws {
        let digest = Digest(hex: String(repeating: "a", count: 64))!
        let record = StageRecord(status: .succeeded, fingerprint: digest, command: "x", env: [:], params: [:], inputs: [:],
                                 outputs: ["build/model.pkl": digest], metrics: [:], run: "r1")
        let state = RecordedState(environment: "dev", stages: ["train": record, "broken": { var r = record; r.status = .failed; return r }()],
                                  lastRun: "r1", lastCommit: ObjectID(hex: String(repeating: "2", count: 40))!)
        let pin = Promotion.pin(source: "dev", state: state, gates: [], promotedBy: "me", at: Date(timeIntervalSince1970: 1_795_000_000.75))
        #expect(Array(pin.stages.keys) == ["train"])
        #expect(try Pin.decode(try RecordJSON.encode(pin), path: "p") == pin)
    }

    @Test func aBrokenPinFileSaysWhatToDo() {
        #expect(throws: PlumbError.self) { try Pin.decode(Data("{\"source\": 1}".utf8), path: "environments/prod.pin.json") }
        do { _ = try Pin.decode(Data("{}".utf8), path: "environments/prod.pin.json") } catch let e as PlumbError {
            #expect(e.file == "environments/prod.pin.json" && e.message.hasPrefix("not a valid pin"))
            #expect(e.hint?.contains("revert the commit") == true)
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func sameArtifactsIgnoresWhoPromotedAndWhen() {
        var a = Self.samplePin()
        var b = a
        b.promotedBy = "someone else"; b.promotedAt = Date(); b.gates = []
        #expect(Promotion.sameArtifacts(a, b))
        a.run = "other"
        #expect(!Promotion.sameArtifacts(a, b))
    }
}
