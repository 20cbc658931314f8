import Foundation
import PlumbCore
import PlumbEngine
import PlumbStore

/// The reconcile as JSON Lines (docs/json.md): one object per event, each with its `type` and the
/// schema version, for CI to parse as the run goes. Progress ticks are left out (they say nothing a
/// `stage.started`/`stage.finished` pair does not); `stage.output` comes only when output is streamed
/// (`--verbose`). The command adds the last line, `summary` (or `error`), once the engine returns.
struct JSONLinesReconcileView: ReconcileObserver {
    /// The `schemaVersion` of every line. It changes only when a field changes meaning or goes away.
    package static let schemaVersion = 1
    /// Receives each line, newline excluded; called from any thread, one line at a time.
    private let write: @Sendable (String) -> Void
    private let lock = Locked(())
    /// Whether stage output lines are asked for (and written as `stage.output`).
    let streamsOutput: Bool

    /// Lines go to `write`; by default to stdout through a `Terminal`, so they are redacted as every
    /// line Plumb prints is.
    package init(streamsOutput: Bool = false, write: (@Sendable (String) -> Void)? = nil) {
        self.streamsOutput = streamsOutput
        if let write {
            self.write = write
        } else {
            let terminal = Terminal(noColour: true)
            self.write = { terminal.printJSONLine($0) }
        }
    }

    /// What to ask the engine for: output lines only when they are shown.
    package var feedback: Feedback { Feedback(streamOutput: streamsOutput) }

    package func observe(_ event: ReconcileEvent) {
        guard let object = Self.object(for: event) else { return }
        if object.type == "stage.output" && !streamsOutput { return }
        emit(object.type, object.fields)
    }

    /// Writes one line of `type` with `fields`; the command's own lines (`summary`, `error`) come through here too.
    func emit(_ type: String, _ fields: [String: JSONValue]) {
        let line = Self.line(type, fields)
        lock.withLock { _ in write(line) }
    }

    /// One line: the fields with `type` and `schemaVersion`, canonical (sorted keys, no spaces), and
    /// with every character a terminal could act on (C1 controls, bidirectional overrides) written as
    /// a `\u` escape, so the line is valid JSON and passes the terminal escaping unchanged.
    static func line(_ type: String, _ fields: [String: JSONValue]) -> String {
        var fields = fields
        fields["type"] = .string(type)
        fields["schemaVersion"] = .int(schemaVersion)
        var out = String.UnicodeScalarView()
        for scalar in JSONValue.object(fields).canonical.unicodeScalars {
            switch scalar.value {
            case 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
                out.append(contentsOf: String(format: "\\u%04x", scalar.value).unicodeScalars)
            default:
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// An `Encodable` value (a plan, a pin) as a JSON value, in the encoding every `--json` output shares.
    static func value<T: Encodable>(_ encodable: T) -> JSONValue {
        guard let data = try? RecordJSON.encode(encodable), let value = try? JSONDecoder().decode(JSONValue.self, from: data) else { return .null }
        return value
    }

    static func digests(_ outputs: [String: Digest]) -> JSONValue {
        .object(outputs.mapValues { .string($0.hex) })
    }

    /// The event's type and fields; nil for events this view leaves out.
    static func object(for event: ReconcileEvent) -> (type: String, fields: [String: JSONValue])? {
        switch event {
        case let .planned(plan):
            return ("plan", ["plan": value(plan)])
        case let .stageStarted(stage):
            return ("stage.started", ["stage": .string(stage)])
        case let .stageRetrying(stage, delay, attempt, attempts):
            return ("stage.retrying", ["stage": .string(stage), "delay": .double(delay), "attempt": .int(attempt), "attempts": .int(attempts)])
        case let .stageOutput(stage, line):
            return ("stage.output", ["stage": .string(stage), "line": .string(line)])
        case let .stageWarning(stage, message):
            return ("stage.warning", ["stage": .string(stage), "message": .string(message)])
        case let .stageFinished(stage, end):
            var fields: [String: JSONValue] = ["stage": .string(stage)]
            switch end {
            case let .succeeded(duration, outputs):
                fields["status"] = .string("succeeded"); fields["duration"] = .double(duration)
                fields["outputs"] = digests(outputs)
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
        case .progress, .uploading:
            return nil
        case let .uploaded(store, report):
            return ("store.uploaded", ["store": .string(store), "uploaded": .int(report.uploaded),
                                       "alreadyThere": .int(report.alreadyThere), "bytes": .int(Int(report.bytes))])
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

    /// The last line of `reconcile --json`: what the run came to, with every stage's status and
    /// outputs (those restored or unchanged included), the metrics and the exit code.
    static func summary(plan: Plan, record: RunRecord?, commit: ObjectID?, pushed: Bool, exitCode: Int32,
                        transfers: TransferTally.Totals = TransferTally.Totals()) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "environment": .string(plan.environment),
            "specCommit": .string(plan.commit.hex),
            "status": .string(record?.status.rawValue ?? (plan.hasChanges ? "failed" : "nothing-to-do")),
            "run": record.map { .string($0.run) } ?? .null,
            "commit": commit.map { .string($0.hex) } ?? .null,
            "pushed": .bool(pushed),
            "exitCode": .int(Int(exitCode)),
        ]
        if let record {
            fields["stages"] = .object(record.stages.mapValues { stage in
                var s: [String: JSONValue] = ["status": .string(stage.status.rawValue), "outputs": digests(stage.outputs)]
                s["duration"] = stage.duration.map { .double($0) } ?? .null
                return .object(s)
            })
            fields["metrics"] = .object(record.metrics.mapValues { .double($0) })
        } else {
            fields["stages"] = .object([:])
            fields["metrics"] = .object([:])
        }
        func counts(_ byWay: [String: TransferTally.Count]) -> JSONValue {
            .object(byWay.mapValues { .object(["files": .int($0.files), "bytes": .int(Int($0.bytes))]) })
        }
        fields["cache"] = .object(["stored": counts(transfers.stored), "materialized": counts(transfers.materialized)])
        return fields
    }

    /// The last line when the command fails: the message and hint people see on stderr, and the exit code.
    static func error(_ error: Error, exitCode: Int32) -> [String: JSONValue] {
        var fields: [String: JSONValue] = ["exitCode": .int(Int(exitCode))]
        if let e = error as? PlumbError {
            fields["message"] = .string((e.file.map { "\($0): " } ?? "") + e.message)
            fields["hint"] = e.hint.map { .string($0) } ?? .null
        } else if let e = error as? DiagnosticsError {
            fields["message"] = .string(e.diagnostics.sortedForDisplay().map(\.description).joined(separator: "\n"))
            fields["hint"] = .null
        } else if let e = error as? UsageError {
            fields["message"] = .string(e.message)
            fields["hint"] = .null
        } else {
            fields["message"] = .string(PlumbError.readable(error))
            fields["hint"] = .null
        }
        return fields
    }
}

/// Hands every event to each of several views (`reconcile --json`: the JSON Lines on stdout and
/// the text people read on stderr).
struct ReconcileViews: ReconcileObserver {
    let views: [ReconcileObserver]
    /// The union of what the views ask for.
    let feedback: Feedback

    package func observe(_ event: ReconcileEvent) {
        for view in views { view.observe(event) }
    }
}
