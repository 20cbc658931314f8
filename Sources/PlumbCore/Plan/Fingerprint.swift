import Foundation

/// Everything that determines a stage's result, in a canonical form.
///
/// The fingerprint is the SHA-256 of `canonical`: the command after expansion, declared
/// variables (secrets excluded: their values never enter a record), the values of the params
/// the stage uses, and each dep's content identity. The same inputs give the same digest on
/// every machine.
package struct FingerprintInputs: Sendable, Hashable, Codable {
    package var command: String
    package var env: [String: String]
    package var params: [String: JSONValue]
    /// Dep path → `git:<id>` or `sha256:<hex>`.
    package var inputs: [String: String]
    /// The resources that can change a result (`StageResources.fingerprintPart`): GPUs.
    package var hardware: [String: String]

    package init(command: String, env: [String: String], params: [String: JSONValue], inputs: [String: String],
                 hardware: [String: String] = [:]) {
        self.command = command; self.env = env; self.params = params; self.inputs = inputs; self.hardware = hardware
    }

    /// The canonical encoding that is hashed; its version is part of it so a change of scheme reruns everything.
    /// `hardware` only when set, so that the fingerprints of stages that ask for no GPU stay as they were.
    package var canonical: String {
        var fields: [String: JSONValue] = [
            "v": .int(1),
            "command": .string(command),
            "env": .object(env.mapValues { .string($0) }),
            "params": .object(params),
            "inputs": .object(inputs.mapValues { .string($0) }),
        ]
        if !hardware.isEmpty { fields["hardware"] = .object(hardware.mapValues { .string($0) }) }
        return JSONValue.object(fields).canonical
    }

    package var fingerprint: Digest { SHA256Hasher.digest(canonical) }
}

/// How a dep's identity is written in records: git's id for what git tracks, SHA-256 otherwise.
package enum ContentID {
    package static func git(_ id: ObjectID) -> String { "git:\(id.hex)" }
    package static func sha256(_ digest: Digest) -> String { "sha256:\(digest.hex)" }

    /// The identity of `path` produced as (or inside) another stage's `output` whose digest is `digest`:
    /// the output's own id, or for a file inside an output folder, the folder's id and the sub-path.
    package static func produced(_ path: String, output: String, digest: Digest) -> String {
        path == output ? sha256(digest) : "\(sha256(digest)):\(path.dropFirst(output.count + 1))"
    }

    /// A short form for plans: `git:1a2b3c4d`, `sha256:5e6f7a8b`.
    package static func short(_ id: String) -> String {
        guard let colon = id.firstIndex(of: ":") else { return String(id.prefix(12)) }
        return String(id[...colon]) + id[id.index(after: colon)...].prefix(8)
    }
}
