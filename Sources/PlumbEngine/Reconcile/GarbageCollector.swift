import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Frees cache space: removes objects that no record on any local branch refers to.
///
/// What is kept (the roots), read from the tip of every local branch: each environment's
/// state (its outputs), its pin (promoted artifacts), and every run record under history/
/// (outputs and logs) — so everything a recorded run produced, including what a rollback or
/// a restore could need, stays. With `onlyCurrent`, only the current states and pins are kept:
/// older runs' outputs go, and restoring them means running again.
/// Fingerprint-index entries whose outputs are gone are removed with them.
package struct GarbageCollector {
    package let project: Project

    package init(project: Project) { self.project = project }

    /// What a collection found and did.
    package struct Report: Sendable, Codable {
        package var kept: Int
        package var removed: Int
        package var freedBytes: Int64
        var removedFingerprints: Int
        package var dryRun: Bool
        /// What the local cache holds once collected (as it is, for a dry run).
        package var cache = CacheUsage()
    }

    package func collect(onlyCurrent: Bool, dryRun: Bool) throws -> Report {
        let store = project.store
        let roots = try liveDigests(onlyCurrent: onlyCurrent)
        // A manifest keeps the file objects it lists.
        var live = roots
        for digest in roots where store.isDirectory(digest) {
            for entry in (try? store.manifest(digest))??.entries ?? [] { if let d = entry.digest { live.insert(d) } }
        }
        var kept = 0, removed = 0, staleFingerprints = 0
        var freed: Int64 = 0
        let inventory = store.inventory()
        for item in inventory.items where item.kind != .outcome {
            if live.contains(item.digest) { kept += 1; continue }
            freed += item.bytes
            removed += 1
            if !dryRun { try? store.remove(item) }
        }
        // Remembered results whose outputs are gone can no longer restore anything.
        for item in inventory.items where item.kind == .outcome {
            guard let outcome = store.outcome(for: item.digest) else { continue }
            if !outcome.outputs.values.allSatisfy(live.contains) {
                staleFingerprints += 1
                if !dryRun { try? store.remove(item) }
            }
        }
        return Report(kept: kept, removed: removed, freedBytes: freed, removedFingerprints: staleFingerprints, dryRun: dryRun,
                      cache: Cache.usage(at: project.cache.root.path))
    }

    /// Digests referenced by states, pins and (unless `onlyCurrent`) run records at every local branch tip.
    func liveDigests(onlyCurrent: Bool) throws -> Set<Digest> {
        try RecordedReferences.read(project.repository, scope: .init(branches: .local, runs: onlyCurrent ? .none : .all)).contents
    }
}
