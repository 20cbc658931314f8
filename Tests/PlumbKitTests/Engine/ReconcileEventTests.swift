import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Collects every event the engine emits, from whichever thread emits it.
final class EventLog: ReconcileObserver {
    private let events = Locked<[ReconcileEvent]>([])
    var all: [ReconcileEvent] { events.withLock { $0 } }
    func observe(_ event: ReconcileEvent) { events.withLock { $0.append(event) } }

    /// One short line per event, for comparing sequences: `started train`, `finished train succeeded`.
    var lines: [String] {
        all.compactMap { event in
            switch event {
            case .planned: "planned"
            case let .stageStarted(stage): "started \(stage)"
            case let .stageRetrying(stage, _, attempt, attempts): "retrying \(stage) \(attempt)/\(attempts)"
            case let .stageOutput(stage, line): "output \(stage) \(line)"
            case let .stageWarning(stage, message): "warning \(stage) \(message)"
            case let .stageFinished(stage, end):
                switch end {
                case .succeeded: "finished \(stage) succeeded"
                case let .failed(.exit(code), _, _): "finished \(stage) exit \(code.map(String.init) ?? "?")"
                case .failed: "finished \(stage) failed"
                case .rejected: "finished \(stage) rejected"
                case .error: "finished \(stage) error"
                case let .blocked(by): "finished \(stage) blocked by \(by)"
                case .restored: "finished \(stage) restored"
                case .unchanged: "finished \(stage) unchanged"
                }
            case .progress, .uploading: nil
            case .uploaded: "uploaded"
            case .cacheObjectsCorrupt: "corrupt"
            case .recorded: "recorded"
            case .watchCycle: "cycle"
            case .watchStopped: "stopped"
            }
        }
    }
}

/// The engine tells what happens through typed events (no text, no terminal); the views turn them into output.
@Suite struct ReconcileEventTests {
    static let pipeline = """
    version: 1
    stages:
      prepare:
        cmd: echo preparing; mkdir -p build && echo data > build/data.txt
        outs: [build/data.txt]
      train:
        cmd: echo training; exit 3
        deps: [build/data.txt]
      report:
        cmd: echo reporting
        after: [train]
    """

    @Test func aReconcileEmitsThePlanEachStageInDependencyOrderAndTheRecord() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline)
        let log = EventLog()
        let outcome = try Reconciler(project: try h.project(), observer: log, feedback: Feedback(streamOutput: true))
            .reconcile(ref: nil, environment: nil, jobs: 1)
        #expect(log.lines == [
            "planned",
            "started prepare", "output prepare preparing", "finished prepare succeeded",
            "started train", "output train training", "finished train exit 3",
            "finished report blocked by train",
            "recorded",
        ])
        guard case let .planned(plan) = log.all.first else { Issue.record("no plan event first"); return }
        #expect(plan == outcome.plan)
        guard case let .recorded(run, commit) = log.all.last else { Issue.record("no record event last"); return }
        #expect(run == outcome.record?.run && commit == outcome.commit)
    }

    @Test func outputLinesAreEmittedOnlyWhenAskedFor() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline)
        let log = EventLog()
        _ = try Reconciler(project: try h.project(), observer: log).reconcile(ref: nil, environment: nil, jobs: 2)
        let streamed = log.lines.filter { $0.hasPrefix("output ") }
        #expect(streamed.isEmpty)
        let finished = log.lines.filter { $0 == "finished prepare succeeded" }
        #expect(finished.count == 1)
    }

    @Test func aSecondReconcileOfTheSameCommitPlansAndRecordsNothing() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          only:
            cmd: mkdir -p build && echo x > build/x
            outs: [build/x]
        """)
        try h.reconcile()
        let log = EventLog()
        _ = try Reconciler(project: try h.project(), observer: log).reconcile(ref: nil, environment: nil, jobs: 2)
        #expect(log.lines == ["planned"])
    }

    @Test func theJSONLinesViewWritesOneTypedObjectPerEvent() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline)
        let log = EventLog()
        _ = try Reconciler(project: try h.project(), observer: log, feedback: Feedback(streamOutput: true, progress: true))
            .reconcile(ref: nil, environment: nil, jobs: 1)
        let written = Locked<[String]>([])
        let view = JSONLinesReconcileView(streamsOutput: true) { line in written.withLock { $0.append(line) } }
        for event in log.all { view.observe(event) }
        let lines = written.withLock { $0 }
        #expect(lines.allSatisfy { !$0.contains("\n") })
        let objects = try lines.map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        let types = objects.compactMap { object -> String? in
            guard case let .object(fields) = object, case let .string(type)? = fields["type"], fields["schemaVersion"] == .int(1) else { return nil }
            return type
        }
        #expect(types == ["plan", "stage.started", "stage.output", "stage.finished", "stage.started", "stage.output",
                          "stage.finished", "stage.finished", "recorded"])
        guard case let .object(train) = objects[6] else { Issue.record("not an object"); return }
        #expect(train["stage"] == .string("train") && train["status"] == .string("failed") && train["exitCode"] == .int(3))
        guard case let .object(report) = objects[7] else { Issue.record("not an object"); return }
        #expect(report["status"] == .string("blocked") && report["blockedBy"] == .string("train"))
    }
}

