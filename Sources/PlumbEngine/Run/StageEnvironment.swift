import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// The environment a stage's process gets, and its drift probe too: the one place it is made.
///
/// An allow-list, not Plumb's environment minus a few names: a variable reaches a stage only if it
/// is in the documented base, is declared in the stage's or the environment's `env`, is a secret
/// the stage or environment declares, or is one of the `PLUMB_*` variables Plumb sets. Plumb's own
/// credentials (`PlumbCredentials`) never do, even when declared or set in `env`. Whatever else the
/// machine or CI has in Plumb's environment (cloud keys, `GIT_DIR`, `PYTHONPATH`) stays out, so a run
/// depends only on what the commit declares.
struct StageEnvironment: Sendable {
    /// Variables taken from Plumb's environment when set: what a program needs to find its tools,
    /// home, locale, time zone and temporary folder. Every `LC_*` variable as well.
    package static let base = ["PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "USER", "TERM"]
    /// `PATH` for a stage when Plumb itself runs without one.
    static let defaultPath = "/usr/local/bin:/usr/bin:/bin"

    /// The complete environment of the process.
    package let variables: [String: String]
    /// Masks the values of the secrets passed on (and every secret value this process knows).
    package let redactor: Redactor
    /// The values of the secrets passed on, for a redactor's use.
    package let secretValues: [String]

    /// Builds the environment, and adds the secret values it passes on to `Redactor.process`, so that
    /// nothing this process prints afterwards can show them.
    /// - Parameters:
    ///   - declared: the stage's variables with the environment's laid over them (`Stage.variables(in:)`).
    ///   - secrets: names of the secrets the stage and its environment declare; their values come from `host`.
    ///   - plumb: the `PLUMB_*` variables Plumb sets for this process (`PLUMB_ENV`, `PLUMB_STAGE`, …).
    ///   - host: Plumb's own environment.
    package init(declared: [String: String], secrets: [String], plumb: [String: String],
                host: [String: String] = ProcessInfo.processInfo.environment) {
        var variables: [String: String] = [:]
        for (name, value) in host where Self.base.contains(name) || name.hasPrefix("LC_") {
            variables[name] = value
        }
        if variables["PATH"] == nil { variables["PATH"] = Self.defaultPath }
        for (name, value) in declared where !name.hasPrefix("PLUMB_") { variables[name] = value }
        var values: [String] = []
        for name in Set(secrets).sorted() where !name.hasPrefix("PLUMB_") && !PlumbCredentials.contains(name) {
            guard let value = host[name] else { continue }
            variables[name] = value
            if !value.isEmpty { values.append(value) }
        }
        for (name, value) in plumb { variables[name] = value }
        // Last, so that no route above (a declared variable, a secret, a base name) can let one in.
        for name in variables.keys where PlumbCredentials.contains(name) { variables[name] = nil }
        self.variables = variables
        secretValues = values
        Redactor.remember(values)
        redactor = Redactor(secrets: values).merging(.process)
    }

    /// The environment of `stage` run for `environment` in `folder` — as a stage of a run, or as its
    /// drift probe: the one builder both use, so a probe sees what its stage saw. `extra` adds the
    /// variables only one of them has (a run's `PLUMB_RUN_ID` and `PLUMB_PARAMS`, a probe's
    /// `PLUMB_EXPECTED_MODEL`).
    package static func forStage(_ stage: String, declared: [String: String], secrets: [String], environment: String,
                                 repository root: String, workspace: String, commit: ObjectID?, runsIn folder: String,
                                 extra: [String: String] = [:], host: [String: String] = ProcessInfo.processInfo.environment) -> StageEnvironment {
        var plumb = extra
        plumb["PLUMB_ENV"] = environment
        plumb["PLUMB_STAGE"] = stage
        plumb["PLUMB_REPO"] = root
        plumb["PLUMB_WORKSPACE"] = workspace
        if let commit { plumb["PLUMB_COMMIT"] = commit.hex }
        if folder == workspace {
            // git in a stage must find the workspace's repository, not the user's: the ceiling stops
            // discovery at the workspace even if the stage removes its .git (GIT_DIR and the like are
            // not in the allow-listed base, so they cannot point it anywhere else).
            plumb["GIT_CEILING_DIRECTORIES"] = (workspace as NSString).deletingLastPathComponent
        }
        return StageEnvironment(declared: declared, secrets: secrets, plumb: plumb, host: host)
    }
}
