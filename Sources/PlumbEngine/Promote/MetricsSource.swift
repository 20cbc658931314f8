import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Resolves what `plumb metrics` and `metrics diff` are given: an environment name, a run id,
/// or a commit (the recorded state of `--env`, or the default environment, at that commit).
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
        if let record = try HistoryReader(repository: repo, commit: head.commit).run(reference, environments: names) {
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
