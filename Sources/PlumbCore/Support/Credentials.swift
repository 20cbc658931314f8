import Foundation

/// The variables that hold Plumb's own credentials (for git remotes, and for the artifact store to
/// come). They are Plumb's, never a stage's: no stage gets them, whatever its `env` or `secrets` say,
/// and their values are redacted from everything Plumb writes.
package enum PlumbCredentials {
    /// Credential variables by exact name.
    package static let names: Set<String> = [
        "PLUMB_GIT_TOKEN", "GIT_TOKEN", "PLUMB_GIT_USER",
        "SSH_AUTH_SOCK", "PLUMB_SSH_USER",
        "PLUMB_CACHE_USER", "PLUMB_CACHE_PASSWORD", "PLUMB_CACHE_TOKEN",
    ]
    /// Credential variables by prefix (`PLUMB_SSH_KEY`, `PLUMB_SSH_KEY_PASSPHRASE`, …).
    static let prefixes = ["PLUMB_SSH_KEY"]
    /// The credential variables whose values are secret (the others name a file, a socket or a user),
    /// and so are redacted wherever they could appear.
    static let secretValued = ["PLUMB_GIT_TOKEN", "GIT_TOKEN", "PLUMB_SSH_KEY_PASSPHRASE",
                                      "PLUMB_CACHE_PASSWORD", "PLUMB_CACHE_TOKEN"]

    /// Whether `name` is one of Plumb's credential variables.
    package static func contains(_ name: String) -> Bool {
        names.contains(name) || prefixes.contains { name.hasPrefix($0) }
    }

    /// The values of the secret credentials set in `environment`.
    package static func secretValues(in environment: [String: String]) -> [String] {
        secretValued.compactMap { environment[$0] }.filter { !$0.isEmpty }
    }
}
