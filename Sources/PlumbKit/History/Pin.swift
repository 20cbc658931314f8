import Foundation

/// `environments/<env>.pin.json`: the artifacts promoted into an environment, written by `plumb promote`.
///
/// A pin is desired state: reconciling the environment deploys exactly these artifacts,
/// taken from the cache by digest, and never rebuilds them.
public struct Pin: Sendable, Hashable, Codable {
    public static let formatVersion = 1

    public var formatVersion: Int
    /// The environment the artifacts were validated in.
    public var source: String
    /// The commit and run in the source environment that produced them.
    public var commit: ObjectID
    public var run: String
    /// Per stage of the source environment: its outputs' digests and metrics.
    public var stages: [String: PinnedStage]
    /// Gate results at promotion time.
    public var gates: [GateResult]
    public var promotedBy: String
    public var promotedAt: Date

    public init(source: String, commit: ObjectID, run: String, stages: [String: PinnedStage], gates: [GateResult],
                promotedBy: String, promotedAt: Date) {
        formatVersion = Self.formatVersion
        self.source = source; self.commit = commit; self.run = run; self.stages = stages
        self.gates = gates; self.promotedBy = promotedBy; self.promotedAt = promotedAt
    }

    /// Decodes a pin; its digests, paths, names and run ids are checked (RecordValidation.swift).
    public static func decode(_ data: Data, path: String) throws -> Pin {
        do { return try RecordJSON.decode(Pin.self, from: data) } catch {
            throw RecordRules.refusal(error, file: path, kind: "pin",
                                      hint: "pins are written by `plumb promote`; revert the commit that changed it")
        }
    }
}

/// One stage's artifacts in a pin.
public struct PinnedStage: Sendable, Hashable, Codable {
    public var fingerprint: Digest
    public var outputs: [String: Digest]
    public var metrics: [String: Double]
    public init(fingerprint: Digest, outputs: [String: Digest], metrics: [String: Double]) {
        self.fingerprint = fingerprint; self.outputs = outputs; self.metrics = metrics
    }
}

/// A short reference to a pin, kept in run records.
public struct PinReference: Sendable, Hashable, Codable {
    public var source: String
    public var commit: ObjectID
    public var run: String
}

/// The outcome of one gate at promotion time.
public struct GateResult: Sendable, Hashable, Codable {
    public var metric: String
    /// `min 0.78`, `max_drop 0.01`.
    public var condition: String
    public var value: Double?
    /// What the target runs now (for max_drop).
    public var baseline: Double?
    public var passed: Bool
    public var message: String
    public init(metric: String, condition: String, value: Double?, baseline: Double?, passed: Bool, message: String) {
        self.metric = metric; self.condition = condition; self.value = value; self.baseline = baseline
        self.passed = passed; self.message = message
    }
}
