import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Outputs declared `cache: false`: small files (a metrics JSON, a plot's CSV) kept in git, with
/// the run's record, instead of in the artifact store.
///
/// Each lives at `history/<env>/outputs/<path>` in the record commit, so it travels with `git pull`
/// to every clone, shows in `git diff` and in a pull request, and needs no store credentials. The
/// record still names it by SHA-256 like any other output, and the local cache holds it like any
/// other: a machine whose cache lacks it takes it from git, verified against the record
/// (`restore`), so planning, workspaces and `plumb checkout` treat it as they treat the rest. It
/// is not at its declared path in the branch, because every environment records its own copy and
/// they may differ. It is not uploaded to the shared store, and neither is the outcome of the
/// stage that made it: an outcome in the store promises its outputs are there too.
package enum KeptOutputs {
    /// Larger than this is no longer "small": git keeps every version forever.
    static let limit = 10 << 20

    /// Where the copy of `path` recorded for `environment` lives in the commit.
    package static func path(_ path: String, environment: String) -> String {
        SpecPaths.history(environment) + "/outputs/" + path
    }

    /// The tree changes that make `history/<env>/outputs/` hold exactly `kept` (output path → bytes)
    /// on top of `tip`: the kept files written, and the copies of outputs no longer kept removed.
    static func changes(_ kept: [String: Data], environment: String, on tip: ObjectID, in repository: Repository) throws -> [Repository.TreeChange] {
        let folder = SpecPaths.history(environment) + "/outputs"
        var changes: [Repository.TreeChange] = kept.map { (path($0.key, environment: environment), $0.value) }
        let wanted = Set(changes.map(\.path))
        for entry in try repository.blobs(under: folder, in: tip) where !wanted.contains(entry.path) {
            changes.append((entry.path, nil))
        }
        return changes
    }

    /// The bytes of each `cache: false` output `plan` names in `state`, from the store. A folder,
    /// or a file over the limit, cannot be kept in git: said, with what to do.
    static func collect(plan: Plan, state: RecordedState, store: any ContentStore) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for stage in plan.stages {
            for path in stage.uncached ?? [] {
                guard let digest = state.stages[stage.name]?.outputs[path] else { continue }
                if store.isDirectory(digest) {
                    throw PlumbError("stage '\(stage.name)' declares the folder \(path) with 'cache: false'; only files are kept in git",
                                     hint: "drop 'cache: false' from it, or declare the files inside it")
                }
                let data = try store.data(digest)
                guard data.count <= limit else {
                    throw PlumbError("stage '\(stage.name)' wrote \(path) (\(formatBytes(Int64(data.count)))) with 'cache: false'; a file kept in git must be at most \(formatBytes(Int64(limit)))",
                                     hint: "drop 'cache: false': the artifact store is for large outputs")
                }
                out[path] = data
            }
        }
        return out
    }

    /// Puts into `cache` every output `state` records for `environment` that the cache lacks and
    /// `commit` keeps in git, once its bytes hash to the recorded digest (a copy that does not is
    /// ignored: the output is then missing, as any other would be); and likewise the outputs `pin`
    /// takes from its source environment, whose copies are that environment's. Returns how many it
    /// restored.
    ///
    /// The commit's tree is asked first: with no `history/<env>/outputs/` (most pipelines), nothing
    /// else is looked at, so planning pays no second look into the cache for outputs the planner
    /// checks anyway (a folder output's check reads its manifest).
    @discardableResult
    package static func restore(_ state: RecordedState?, pin: Pin? = nil, environment: String, at commit: ObjectID,
                                in repository: Repository, into cache: Cache) -> Int {
        var recorded: [String: [String: Digest]] = [:]
        for record in state?.stages.values ?? [:].values { recorded[environment, default: [:]].merge(record.outputs) { a, _ in a } }
        if let pin { for stage in pin.stages.values { recorded[pin.source, default: [:]].merge(stage.outputs) { a, _ in a } } }
        var restored = 0
        for (owner, outputs) in recorded {
            let folder = SpecPaths.history(owner) + "/outputs/"
            for copy in (try? repository.blobs(under: String(folder.dropLast()), in: commit)) ?? [] {
                guard let digest = outputs[String(copy.path.dropFirst(folder.count))], !cache.contains(digest),
                      let data = try? repository.blob(copy.id), data.count <= limit, SHA256Hasher.digest(data) == digest,
                      (try? cache.storeData(data)) != nil else { continue }
                restored += 1
            }
        }
        return restored
    }
}
