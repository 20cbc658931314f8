import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Frees space in the shared store: removes the blobs that no recorded state, run or pin on any
/// branch refers to — the local branches and the remote-tracking ones (`origin/*`), since other
/// machines' branches are what they push there.
///
/// Unlike the local cache, the store cannot be locked against writers on other machines, and a
/// reconcile uploads before it records: a blob newer than `grace` may belong to a run about to be
/// recorded, so it stays whatever the records say. A folder's manifest keeps its files; a
/// remembered result (action entry) is kept when a record names its fingerprint.
package struct RemoteGarbageCollector {
    package let project: Project

    package init(project: Project) { self.project = project }

    package struct Report: Sendable, Codable {
        package var store: String
        package var kept: Int
        /// Unreferenced, but newer than the grace period.
        package var spared: Int
        package var removed: Int
        package var freedBytes: Int64
        package var dryRun: Bool
    }

    package func collect(grace: Double, dryRun: Bool, now: Date = Date()) throws -> Report {
        guard let shared = project.sharedStore else {
            throw PlumbError("no shared store is configured", hint: "name one in spec/pipeline.yaml (cache: {url: …}) or in PLUMB_CACHE_URL", kind: .usage)
        }
        let remote = shared.remote
        var listing: [RemoteBlob] = []
        for kind in RemoteKey.Kind.allCases {
            guard let blobs = try remote.list(kind) else {
                throw PlumbError("the shared store \(remote.location) cannot list its objects, so gc --remote cannot tell what is unused",
                                 hint: "a file:// store and nginx with `autoindex_format json` (docs/store.md) can list; bazel-remote and most caches evict by size on their own")
            }
            listing += blobs
        }
        let references = try RecordedReferences.read(project.repository, scope: .init(branches: .localAndRemote, runs: .all))
        var live = Set(references.contents.map(RemoteKey.content)).union(references.fingerprints.map(RemoteKey.action))
        // A live folder is its manifest (ac/) and the files it lists (cas/).
        let stored = Set(listing.map(\.key))
        for digest in references.contents where stored.contains(.action(digest)) {
            live.insert(.action(digest))
            guard let manifest = try shared.manifest(digest) else { continue }
            for entry in manifest.entries { if let file = entry.digest { live.insert(.content(file)) } }
        }

        var report = Report(store: remote.location, kept: 0, spared: 0, removed: 0, freedBytes: 0, dryRun: dryRun)
        var doomed: [RemoteBlob] = []
        for blob in listing.sorted(by: { $0.key.path < $1.key.path }) {
            if live.contains(blob.key) { report.kept += 1; continue }
            if now.timeIntervalSince(blob.modified) < grace { report.spared += 1; continue }
            doomed.append(blob)
        }
        // Results before contents: a remembered result must never outlive an output it names.
        doomed.sort { ($0.key.kind == .action ? 0 : 1, $0.key.path) < ($1.key.kind == .action ? 0 : 1, $1.key.path) }
        report.removed = doomed.count
        report.freedBytes = doomed.reduce(0) { $0 + $1.bytes }
        if !dryRun {
            for blob in doomed { try remote.delete(blob.key) }
        }
        return report
    }
}
