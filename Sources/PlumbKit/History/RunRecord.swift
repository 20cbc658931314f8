import Foundation

/// One immutable record per reconcile: `history/<env>/runs/<run-id>.json`.
public struct RunRecord: Sendable, Hashable, Codable {
    public static let formatVersion = 1

    /// How a run ended.
    public enum Status: String, Sendable, Codable { case succeeded, failed, interrupted }

    public var formatVersion: Int
    public var run: String
    public var environment: String
    /// The commit whose spec was reconciled.
    public var commit: ObjectID
    public var branch: String?
    public var startedAt: Date
    public var finishedAt: Date
    public var status: Status
    /// The plan's summary line, as printed.
    public var summary: String
    /// Stages that left the spec and were dropped from the recorded state.
    public var dropped: [String]
    public var stages: [String: StageOutcome]
    /// All metrics the environment has after this run, keyed `stage.key`.
    public var metrics: [String: Double]
    /// The pin this run deployed from, if the environment takes artifacts from a promotion.
    public var pin: PinReference?

    public init(run: String, environment: String, commit: ObjectID, branch: String?, startedAt: Date, finishedAt: Date,
                status: Status, summary: String, dropped: [String], stages: [String: StageOutcome],
                metrics: [String: Double], pin: PinReference? = nil) {
        formatVersion = Self.formatVersion
        self.run = run; self.environment = environment; self.commit = commit; self.branch = branch
        self.startedAt = startedAt; self.finishedAt = finishedAt; self.status = status; self.summary = summary
        self.dropped = dropped; self.stages = stages; self.metrics = metrics; self.pin = pin
    }

    public static func path(for environment: String, run: String) -> String { "\(SpecPaths.history(environment))/runs/\(run).json" }

    /// The record of `run` in `environment` at `commit`, or nil when that commit holds none.
    public static func read(_ run: String, environment: String, at commit: ObjectID, in repository: Repository) throws -> RunRecord? {
        let path = Self.path(for: environment, run: run)
        return try repository.file(at: path, in: commit).map { try decode($0, path: path) }
    }

    /// Decodes a run record; its digests, paths, names and run ids are checked (RecordValidation.swift).
    public static func decode(_ data: Data, path: String) throws -> RunRecord {
        do { return try RecordJSON.decode(RunRecord.self, from: data) } catch {
            throw RecordRules.refusal(error, file: path, kind: "run record",
                                      hint: "run records are written by plumb; see who changed it with `git log -p -- \(path)` and restore it from git history")
        }
    }
}

/// What happened to one stage in a run.
public struct StageOutcome: Sendable, Hashable, Codable {
    /// The final status of a stage in a run.
    public enum Status: String, Sendable, Codable {
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

    public var action: StageAction
    public var reasons: [String]
    public var status: Status
    public var exitCode: Int32?
    public var duration: Double?
    public var attempts: Int?
    /// The captured log, in the cache.
    public var log: Digest?
    /// The log's last lines, kept in the record when the stage failed.
    public var logTail: String?
    public var fingerprint: Digest?
    /// Each dep's content identity in this run (`git:…` or `sha256:…`).
    public var inputs: [String: String]
    public var outputs: [String: Digest]
    public var metrics: [String: Double]

    public init(action: StageAction, reasons: [String], status: Status, exitCode: Int32? = nil, duration: Double? = nil,
                attempts: Int? = nil, log: Digest? = nil, logTail: String? = nil, fingerprint: Digest? = nil,
                inputs: [String: String] = [:], outputs: [String: Digest] = [:], metrics: [String: Double] = [:]) {
        self.action = action; self.reasons = reasons; self.status = status; self.exitCode = exitCode
        self.duration = duration; self.attempts = attempts; self.log = log; self.logTail = logTail
        self.fingerprint = fingerprint; self.inputs = inputs; self.outputs = outputs; self.metrics = metrics
    }
}
