import Foundation

/// What Plumb last recorded for one environment: `history/<env>/state.json`.
///
/// The planner diffs the desired state against this; a stage whose fingerprint matches and
/// whose outputs are in the cache has nothing to do.
package struct RecordedState: Sendable, Hashable, Codable {
    /// Bumped when the file's shape changes incompatibly.
    package static let formatVersion = 1

    package var formatVersion: Int
    package var environment: String
    /// Per stage, what its last recorded attempt was.
    package var stages: [String: StageRecord]
    /// The run that last wrote this state.
    package var lastRun: String?
    /// The spec commit that run reconciled.
    package var lastCommit: ObjectID?

    package init(environment: String, stages: [String: StageRecord] = [:], lastRun: String? = nil, lastCommit: ObjectID? = nil) {
        formatVersion = Self.formatVersion
        self.environment = environment
        self.stages = stages
        self.lastRun = lastRun
        self.lastCommit = lastCommit
    }

    /// The path of an environment's state file in the repository.
    package static func path(for environment: String) -> String { "\(SpecPaths.history(environment))/state.json" }

    /// Decodes a state file, turning any problem into an error that names the file and says how to recover.
    /// Every digest, path, name and run id in it is checked here (see RecordValidation.swift): a
    /// state naming `../x` as an output or a digest is refused before anything acts on it.
    package static func decode(_ data: Data, path: String) throws -> RecordedState {
        let state: RecordedState
        do { state = try RecordJSON.decode(RecordedState.self, from: data) } catch {
            throw RecordRules.refusal(error, file: path, kind: "state file",
                                      hint: "state files are written by plumb; see who changed it with `git log -p -- \(path)`, then restore it with `git checkout HEAD~1 -- \(path)` or delete it to rebuild the environment's state")
        }
        guard state.formatVersion <= formatVersion else {
            throw PlumbError("has format version \(state.formatVersion), newer than this plumb understands (\(formatVersion))",
                             hint: "upgrade plumb", file: path)
        }
        return state
    }

    /// All metrics recorded for the environment, keyed `stage.key`.
    package var metrics: [String: Double] {
        var out: [String: Double] = [:]
        for record in stages.values { out.merge(record.metrics) { a, _ in a } }
        return out
    }
}

/// The recorded outcome of one stage: what went in, what came out.
package struct StageRecord: Sendable, Hashable, Codable {
    /// Whether the last attempt succeeded.
    package enum Status: String, Sendable, Codable { case succeeded, failed }

    package var status: Status
    package var fingerprint: Digest
    /// The command after expansion, so a plan can say how it changed.
    package var command: String
    /// Declared variables (secrets excluded), so a plan can say which changed.
    package var env: [String: String]
    /// The values of the params the stage uses, by key.
    package var params: [String: JSONValue]
    /// Each dep's content identity: `git:<blob or tree id>` or `sha256:<hex>`.
    package var inputs: [String: String]
    /// Each declared output's digest (empty for a failed stage).
    package var outputs: [String: Digest]
    /// Numbers from the stage's metrics files, flattened to `stage.key.sub`.
    package var metrics: [String: Double]
    /// The run that produced this record.
    package var run: String
    /// The GPUs it asked for (`StageResources.fingerprintPart`), when it asked for any.
    package var hardware: [String: String]?

    package init(status: Status, fingerprint: Digest, command: String, env: [String: String], params: [String: JSONValue],
                inputs: [String: String], outputs: [String: Digest], metrics: [String: Double], run: String) {
        self.status = status; self.fingerprint = fingerprint; self.command = command; self.env = env
        self.params = params; self.inputs = inputs; self.outputs = outputs; self.metrics = metrics; self.run = run
    }
}

/// A decoding error as one readable line (`stages.train.fingerprint: expected a string`).
func describeDecodingError(_ error: Error) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let p = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "" : "\(p): "
    }
    switch error as? DecodingError {
    case let .typeMismatch(_, c)?: return path(c) + c.debugDescription
    case let .valueNotFound(_, c)?: return path(c) + c.debugDescription
    case let .keyNotFound(key, c)?: return path(c) + "missing key '\(key.stringValue)'"
    case let .dataCorrupted(c)?: return path(c) + c.debugDescription
    default: return "\(error)"
    }
}
