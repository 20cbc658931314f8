import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Resolves what `plumb metrics` and `metrics diff` are given: an environment name, a run (any
/// name `RunReference` takes; with `--env`, that environment's runs only), or a commit (the recorded state of `--env`, or the default environment, at that commit).
package struct MetricsSource {
    package let project: Project

    package init(project: Project) { self.project = project }

    /// A label for display and the metrics.
    package func resolve(_ reference: String, environment: String?) throws -> (label: String, metrics: [String: Double]) {
        let repo = project.repository
        let head = try Snapshot.read(project, ref: nil, environment: environment)
        let names = head.spec.environments.keys.sorted()
        if names.contains(reference) {
            let env = try Snapshot.read(project, ref: nil, environment: reference)
            return (reference, env.recorded?.metrics ?? [:])
        }
        // A run by any of its names (RunReference); text that cannot name a run may still be a commit (HEAD~1).
        if RunReference.isWellFormed(reference),
           let found = try RunResolver(repository: repo, commit: head.commit, spec: head.spec, environment: environment)
               .match(try RunReference(parsing: reference)),
           let record = try RunRecord.read(found.run, environment: found.environment, at: head.commit, in: repo) {
            return ("\(record.environment) run \(record.run)", record.metrics)
        }
        guard let commit = try? repo.resolveCommit(reference) else {
            throw PlumbError("'\(reference)' is no environment, run or commit",
                             hint: "environments: \(names.joined(separator: ", ")); runs: `plumb history`", kind: .usage)
        }
        let env = head.environment.name
        let path = RecordedState.path(for: env)
        let state = try repo.file(at: path, in: commit).map { try RecordedState.decode($0, path: path) }
        return ("\(env)@\(commit.short)", state?.metrics ?? [:])
    }
}
