import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One immutable record per reconcile: `history/<env>/runs/<run-id>.json`.
package struct RunRecord: Sendable, Hashable, Codable {
    package static let formatVersion = 1

    /// How a run ended.
    package enum Status: String, Sendable, Codable { case succeeded, failed, interrupted }

    package var formatVersion: Int
    package var run: String
    package var environment: String
    /// The commit whose spec was reconciled.
    package var commit: ObjectID
    package var branch: String?
    package var startedAt: Date
    package var finishedAt: Date
    package var status: Status
    /// The plan's summary line, as printed.
    package var summary: String
    /// Stages that left the spec and were dropped from the recorded state.
    package var dropped: [String]
    package var stages: [String: StageOutcome]
    /// All metrics the environment has after this run, keyed `stage.key`.
    package var metrics: [String: Double]
    /// The pin this run deployed from, if the environment takes artifacts from a promotion.
    package var pin: PinReference?

    package init(run: String, environment: String, commit: ObjectID, branch: String?, startedAt: Date, finishedAt: Date,
                status: Status, summary: String, dropped: [String], stages: [String: StageOutcome],
                metrics: [String: Double], pin: PinReference? = nil) {
        formatVersion = Self.formatVersion
        self.run = run; self.environment = environment; self.commit = commit; self.branch = branch
        self.startedAt = startedAt; self.finishedAt = finishedAt; self.status = status; self.summary = summary
        self.dropped = dropped; self.stages = stages; self.metrics = metrics; self.pin = pin
    }

    package static func path(for environment: String, run: String) -> String { "\(SpecPaths.history(environment))/runs/\(run).json" }

    /// Decodes a run record; its digests, paths, names and run ids are checked (RecordValidation.swift).
    package static func decode(_ data: Data, path: String) throws -> RunRecord {
        do { return try RecordJSON.decode(RunRecord.self, from: data) } catch {
            throw RecordRules.refusal(error, file: path, kind: "run record",
                                      hint: "run records are written by plumb; see who changed it with `git log -p -- \(path)` and restore it from git history")
        }
    }
}

/// What happened to one stage in a run.
package struct StageOutcome: Sendable, Hashable, Codable {
    /// The final status of a stage in a run.
    package enum Status: String, Sendable, Codable {
        /// Ran and succeeded.
        case succeeded
        /// Ran and failed (exit code, signal or timeout).
        case failed
        /// Not run because a stage it depends on failed.
        case blocked
        /// Outputs taken from the cache: this exact fingerprint ran before.
        case restored
        /// Nothing to do: planned unchanged, or its inputs came out byte-identical (early cutoff).
        case unchanged
        /// Outputs taken from a promotion's pin.
        case pinned
        /// Stopped by a signal to plumb.
        case interrupted
    }

    package var action: StageAction
    package var reasons: [String]
    package var status: Status
    package var exitCode: Int32?
    package var duration: Double?
    package var attempts: Int?
    /// The captured log, in the cache.
    package var log: Digest?
    /// The log's last lines, kept in the record when the stage failed.
    package var logTail: String?
    package var fingerprint: Digest?
    /// Each dep's content identity in this run (`git:…` or `sha256:…`).
    package var inputs: [String: String]
    package var outputs: [String: Digest]
    package var metrics: [String: Double]
    /// Where its command ran (absent for a stage that did not run, and in records before issue 15).
    package var placement: Placement?
    /// The numbers of its plot files, by path, when it ran in this run and wrote them.
    package var plots: [String: PlotData]?
    /// For a stage that declares plots and kept or took its outputs (unchanged, restored,
    /// pinned): the run whose record holds their numbers, which this one does not repeat.
    package var plotsRun: String?

    package init(action: StageAction, reasons: [String], status: Status, exitCode: Int32? = nil, duration: Double? = nil,
                attempts: Int? = nil, log: Digest? = nil, logTail: String? = nil, fingerprint: Digest? = nil,
                inputs: [String: String] = [:], outputs: [String: Digest] = [:], metrics: [String: Double] = [:]) {
        self.action = action; self.reasons = reasons; self.status = status; self.exitCode = exitCode
        self.duration = duration; self.attempts = attempts; self.log = log; self.logTail = logTail
        self.fingerprint = fingerprint; self.inputs = inputs; self.outputs = outputs; self.metrics = metrics
    }
}

/// Where a stage's command ran: the runner, and for a batch job its id, node and times.
package struct Placement: Sendable, Hashable, Codable {
    /// `local` or `slurm`.
    package var runner: String
    /// The scheduler's job id (`4312`); nil for a local process.
    package var job: String?
    /// The node (host) it ran on.
    package var node: String?
    /// Seconds the job waited in the queue before it started.
    package var queued: Double?
    /// Seconds it ran, as the scheduler counts.
    package var ran: Double?
    /// The scheduler's final state (`COMPLETED`, `TIMEOUT`, `OUT_OF_MEMORY`…).
    package var state: String?

    package init(runner: String, job: String? = nil, node: String? = nil, queued: Double? = nil, ran: Double? = nil, state: String? = nil) {
        self.runner = runner; self.job = job; self.node = node; self.queued = queued; self.ran = ran; self.state = state
    }
}

/// What a run id says: `20261125-091502-3fa9c1` starts at 2026-11-25 09:15:02 UTC.
package enum RunID {
    /// The random suffix, what follows the last `-` (`3fa9c1`): a name every command that takes a
    /// run accepts, the short form narrow tables print. An id of another shape is itself.
    package static func suffix(of id: String) -> String {
        guard let dash = id.lastIndex(of: "-"), id.index(after: dash) < id.endIndex else { return id }
        return String(id[id.index(after: dash)...])
    }

    /// When the run started, from its id; nil for an id of another shape.
    ///
    /// Read digit by digit and turned into a date by `timegm`: the planner asks this of every stage's
    /// record, and a `DateFormatter` (ICU) for each of a thousand stages was a tenth of a no-op plan.
    package static func date(of id: String) -> Date? {
        let bytes = Array(id.utf8.prefix(15))
        guard bytes.count == 15, bytes[8] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for b in bytes[range] {
                guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int32(b - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
        var fields = tm()
        fields.tm_year = year - 1900; fields.tm_mon = month - 1; fields.tm_mday = day
        fields.tm_hour = hour; fields.tm_min = minute; fields.tm_sec = second
        var seconds = timegm(&fields)
        // timegm carries a day past the month's end into the next (31 April is 1 May): refuse those.
        var back = tm()
        guard gmtime_r(&seconds, &back) != nil, back.tm_mday == day, back.tm_mon == month - 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}
