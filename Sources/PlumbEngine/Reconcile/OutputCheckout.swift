import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
#if canImport(Glibc)
import Glibc
#endif

/// `plumb checkout`: an environment's recorded outputs written into the working tree, safely.
///
/// Only outputs the spec declares (at the commit whose state is read) are written, each at a
/// `RecordPath` inside the repository, never through a symbolically linked folder. What is there
/// now is replaced only if the cache holds every byte of it (so nothing is lost: it is some recorded
/// output) or with `force`; otherwise nothing at all is written and the files are named. The check
/// comes first, for every output, and writing only after it passed for all of them.
package struct OutputCheckout {
    /// One output to write.
    package struct Item: Sendable, Hashable {
        package var stage: String
        package var path: RecordPath
        package var digest: Digest
    }

    /// What a checkout found and did.
    package struct Report: Sendable {
        /// Outputs written.
        package var written: [Item] = []
        /// Outputs already in place, byte for byte (left alone).
        package var unchanged: [Item] = []
        /// Outputs whose object is not in the local cache (or failed verification), with the reason.
        package var missing: [(item: Item, reason: String)] = []
        /// Outputs the record names that the spec does not declare (not written).
        package var undeclared: [String] = []
    }

    package let project: Project

    package init(project: Project) { self.project = project }

    /// The outputs of `state` to write: those each stage's spec declares (outs and metrics files),
    /// all of them or those of the stage or path `target`. The second value lists recorded outputs
    /// the spec does not declare, as `stage: path`.
    package static func selection(state: RecordedState, spec: Spec, target: String?) -> (items: [Item], undeclared: [String]) {
        let stages = spec.pipeline.stagesByName
        var items: [Item] = []
        var undeclared: [String] = []
        for (stage, record) in state.stages.sorted(by: { $0.key < $1.key }) {
            let declared = Set(stages[stage]?.allOutputs ?? [])
            for (path, digest) in record.outputs.sorted(by: { $0.key < $1.key })
            where target == nil || target == stage || target == path || path.hasPrefix((target ?? "") + "/") {
                // The decoder already refused paths outside the repository; a declared one is also
                // one a reviewed spec names, so a record cannot aim a checkout at `src/main.py`.
                guard declared.contains(path), let recordPath = RecordPath(path) else {
                    undeclared.append("\(stage): \(path)")
                    continue
                }
                items.append(Item(stage: stage, path: recordPath, digest: digest))
            }
        }
        return (items, undeclared)
    }

    /// Writes `items` into the working tree. Refuses (writing nothing) when an output's folder is a
    /// link or a file, or, unless `force`, when an output holds content the cache does not.
    package func write(_ items: [Item], force: Bool) throws -> Report {
        var report = Report()
        var pending: [Item] = []
        var blocked: [String] = []
        var refused: [String] = []
        for item in items {
            let absolute: String
            do { absolute = try ContainedPath.prepare(item.path.value, under: project.root, create: false) } catch let e as PlumbError {
                refused.append(e.message)
                continue
            }
            switch try inspect(item, at: absolute) {
            case .same: report.unchanged.append(item)
            case .replaceable: pending.append(item)
            case let .modified(files):
                blocked += files
                pending.append(item)
            }
        }
        if !refused.isEmpty {
            throw PlumbError("nothing was written: " + refused.joined(separator: "; "),
                             hint: "a folder holding an output must be a real folder inside the repository")
        }
        if !blocked.isEmpty && !force {
            throw PlumbError("nothing was written: checking out would overwrite or delete local changes in:\n    "
                             + blocked.sorted().joined(separator: "\n    "),
                             hint: "move them away, or pass --force to replace them with the recorded outputs")
        }
        for item in pending {
            do {
                try project.store.materialize(item.digest, at: item.path, under: project.root)
                report.written.append(item)
            } catch let e as CacheError {
                report.missing.append((item, e.description))
            }
        }
        return report
    }

    /// What is at an output's place now, compared with what a checkout would put there.
    enum Found: Equatable {
        /// Exactly the recorded content.
        case same
        /// Nothing, or content the cache holds in full (nothing would be lost).
        case replaceable
        /// Content the cache does not hold: these files (relative to the repository) would be lost.
        case modified([String])
    }

    /// Compares what is at `absolute` with `item`'s recorded content, reading files through the stat cache.
    func inspect(_ item: Item, at absolute: String) throws -> Found {
        var s = stat()
        guard lstat(absolute, &s) == 0 else { return .replaceable }
        let cache = project.store
        let path = item.path.value
        switch s.st_mode & S_IFMT {
        case S_IFREG:
            let digest = try project.digester.digest(of: absolute)
            if digest == item.digest { return .same }
            return cache.contains(digest) ? .replaceable : .modified([path])
        case S_IFDIR:
            let now = try project.digester.manifest(ofDirectory: absolute)
            let digest = now.digest
            if digest == item.digest { return .same }
            if cache.isDirectory(digest) && cache.contains(digest) { return .replaceable }
            // Entry by entry: a file the cache holds can go; a link only if the new folder has it too.
            let incoming = Set((try? cache.manifest(item.digest))??.entries ?? [])
            let lost = now.entries.filter { e in
                if incoming.contains(e) { return false }
                if let d = e.digest { return !cache.contains(d) || cache.isDirectory(d) }
                return true
            }
            return lost.isEmpty ? .replaceable : .modified(lost.map { "\(path)/\($0.path)" })
        default:
            // A symbolic link (its text would be lost; it is never followed), a fifo, a device.
            return .modified([path])
        }
    }
}
