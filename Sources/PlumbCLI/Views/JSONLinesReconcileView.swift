import Foundation
import PlumbCore
import PlumbEngine

/// The reconcile as JSON Lines: one object per event, each with its `type` and the schema version,
/// for CI to parse as the run goes. Progress ticks are left out (they say nothing a
/// `stage.started`/`stage.finished` pair does not).
struct JSONLinesReconcileView: ReconcileObserver {
    package static let schemaVersion = 1
    /// Receives each line, newline included; called from any thread, one line at a time.
    private let write: @Sendable (String) -> Void
    private let lock = Locked(())

    package init(write: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }) {
        self.write = write
    }

    package func observe(_ event: ReconcileEvent) {
        guard let object = Self.object(for: event) else { return }
        var fields = object.fields
        fields["type"] = .string(object.type)
        fields["schemaVersion"] = .int(Self.schemaVersion)
        let line = JSONValue.object(fields).canonical + "\n"
        lock.withLock { _ in write(line) }
    }

    /// The event's type and fields; nil for events this view leaves out.
    static func object(for event: ReconcileEvent) -> (type: String, fields: [String: JSONValue])? {
        switch event {
        case let .planned(plan):
            guard let encoded = try? RecordJSON.encode(plan), let value = try? JSONDecoder().decode(JSONValue.self, from: encoded) else { return nil }
            return ("plan", ["plan": value])
        case let .stageStarted(stage):
            return ("stage.started", ["stage": .string(stage)])
        case let .stageRetrying(stage, delay, attempt, attempts):
            return ("stage.retrying", ["stage": .string(stage), "delay": .double(delay), "attempt": .int(attempt), "attempts": .int(attempts)])
        case let .stageOutput(stage, line):
            return ("stage.output", ["stage": .string(stage), "line": .string(line)])
        case let .stageFinished(stage, end):
            var fields: [String: JSONValue] = ["stage": .string(stage)]
            switch end {
            case let .succeeded(duration):
                fields["status"] = .string("succeeded"); fields["duration"] = .double(duration)
            case let .failed(how, duration, interrupted):
                fields["status"] = .string(interrupted ? "interrupted" : "failed"); fields["duration"] = .double(duration)
                switch how {
                case let .exit(code): fields["exitCode"] = code.map { .int(Int($0)) } ?? .null
                case let .signal(signal): fields["signal"] = .int(Int(signal))
                case let .timedOut(after): fields["timedOutAfter"] = .double(after)
                }
            case let .rejected(message):
                fields["status"] = .string("failed"); fields["error"] = .string(message)
            case let .error(message):
                fields["status"] = .string("failed"); fields["error"] = .string(message)
            case let .blocked(upstream):
                fields["status"] = .string("blocked"); fields["blockedBy"] = .string(upstream)
            case let .restored(run):
                fields["status"] = .string("restored"); fields["run"] = run.map { .string($0) } ?? .null
            case .unchanged:
                fields["status"] = .string("unchanged")
            }
            return ("stage.finished", fields)
        case .progress:
            return nil
        case let .cacheObjectsCorrupt(digests):
            return ("cache.corrupt", ["digests": .array(digests.map(\.hex).sorted().map { .string($0) })])
        case let .recorded(run, commit):
            return ("recorded", ["run": .string(run), "commit": .string(commit.hex)])
        case let .watchCycle(cycle):
            var fields: [String: JSONValue] = ["did": .string(cycle.report.did), "failed": .bool(cycle.report.failed),
                                               "failures": .int(cycle.failures)]
            fields["nextIn"] = cycle.nextIn.map { .double($0) } ?? .null
            return ("watch.cycle", fields)
        case .watchStopped:
            return ("watch.stopped", [:])
        }
    }
}
