import Foundation

/// `environments/<env>.pin.json`: the artifacts promoted into an environment, written by `plumb promote`.
///
/// A pin is desired state: reconciling the environment deploys exactly these artifacts,
/// taken from the cache by digest, and never rebuilds them.
package struct Pin: Sendable, Hashable, Codable {
    package static let formatVersion = 1

    package var formatVersion: Int
    /// The environment the artifacts were validated in.
    package var source: String
    /// The commit and run in the source environment that produced them.
    package var commit: ObjectID
    package var run: String
    /// Per stage of the source environment: its outputs' digests and metrics.
    package var stages: [String: PinnedStage]
    /// Gate results at promotion time.
    package var gates: [GateResult]
    package var promotedBy: String
    package var promotedAt: Date
    /// Set by `plumb rollback`: the run this pin replaced by going back. Absent for a promotion.
    package var rolledBackFrom: String?

    package init(source: String, commit: ObjectID, run: String, stages: [String: PinnedStage], gates: [GateResult],
                promotedBy: String, promotedAt: Date) {
        formatVersion = Self.formatVersion
        self.source = source; self.commit = commit; self.run = run; self.stages = stages
        self.gates = gates; self.promotedBy = promotedBy; self.promotedAt = promotedAt
    }

    /// Decodes a pin; its digests, paths, names and run ids are checked (RecordValidation.swift).
    package static func decode(_ data: Data, path: String) throws -> Pin {
        do { return try RecordJSON.decode(Pin.self, from: data) } catch {
            throw RecordRules.refusal(error, file: path, kind: "pin",
                                      hint: "pins are written by `plumb promote`; revert the commit that changed it")
        }
    }
}

/// One stage's artifacts in a pin.
package struct PinnedStage: Sendable, Hashable, Codable {
    package var fingerprint: Digest
    package var outputs: [String: Digest]
    package var metrics: [String: Double]
    package init(fingerprint: Digest, outputs: [String: Digest], metrics: [String: Double]) {
        self.fingerprint = fingerprint; self.outputs = outputs; self.metrics = metrics
    }
}

/// A short reference to a pin, kept in run records.
package struct PinReference: Sendable, Hashable, Codable {
    package var source: String
    package var commit: ObjectID
    package var run: String
    package init(source: String, commit: ObjectID, run: String) { self.source = source; self.commit = commit; self.run = run }
}

/// The outcome of one gate at promotion time.
package struct GateResult: Sendable, Hashable, Codable {
    package var metric: String
    /// `min 0.78`, `max_drop 0.01`.
    package var condition: String
    package var value: Double?
    /// What the target runs now (for max_drop).
    package var baseline: Double?
    package var passed: Bool
    package var message: String
    package init(metric: String, condition: String, value: Double?, baseline: Double?, passed: Bool, message: String) {
        self.metric = metric; self.condition = condition; self.value = value; self.baseline = baseline
        self.passed = passed; self.message = message
    }
}
