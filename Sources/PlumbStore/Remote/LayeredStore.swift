import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// The local cache in front of a shared store, as Bazel puts its disk cache in front of a remote
/// cache: reads look in `.plumb/cache` first and fetch what is missing from the shared store into
/// it (verified against its SHA-256 before it lands; a mismatch is an error naming the object and
/// the store, and the bytes are discarded); writes go to the local cache, and `upload(_:)` copies
/// what a run produced to the shared store before the run is recorded.
package final class LayeredStore: ContentStore, Sendable {
    package let local: Cache
    package let remote: any RemoteStore
    /// Objects (and whole folders) known to be in the shared store, so planning asks once.
    private let present = Locked<Set<RemoteKey>>([])
    private let firstFailure = Locked<PlumbError?>(nil)

    /// The first error of a lookup that planning treats as "not in the store" (an unreachable
    /// store, refused credentials), so that a command can stop before it runs stages for nothing.
    package var failure: PlumbError? { firstFailure.withLock { $0 } }

    private func noting<T>(_ fallback: T, _ body: () throws -> T) -> T {
        do { return try body() } catch {
            let failure = error as? PlumbError ?? PlumbError("\(error)")
            firstFailure.withLock { if $0 == nil { $0 = failure } }
            return fallback
        }
    }

    package init(local: Cache, remote: any RemoteStore) {
        self.local = local
        self.remote = remote
    }

    // MARK: Content

    package func store(_ path: String, shareable: Bool) throws -> Digest { try local.store(path, shareable: shareable) }

    /// Present here, or in the shared store (for a folder: its manifest and every file). A store that
    /// cannot be reached holds nothing, so planning falls back to running the stage.
    package func contains(_ digest: Digest) -> Bool {
        if local.contains(digest) { return true }
        if noting(false, { try fetchManifest(digest) }), let manifest = try? local.manifest(digest) {
            return noting(false) { try remoteHasFiles(of: manifest) }
        }
        return remoteHas(.content(digest))
    }

    package func isDirectory(_ digest: Digest) -> Bool {
        local.isDirectory(digest) || noting(false) { try fetchManifest(digest) }
    }

    package func manifest(_ digest: Digest) throws -> DirectoryManifest? {
        if !local.isDirectory(digest) { _ = try fetchManifest(digest) }
        return try local.manifest(digest)
    }

    package func data(_ digest: Digest) throws -> Data {
        if !local.contains(digest) { try fetchFile(digest) }
        return try local.data(digest)
    }

    package func materialize(_ digest: Digest, at path: String, access: MaterializedAccess) throws {
        try fetch(digest)
        try local.materialize(digest, at: path, access: access)
    }

    // MARK: Results of earlier runs

    /// Remembered here, or in the shared store (then remembered here too). An entry from the store
    /// is decoded and its digests and output paths checked before anything uses it.
    package func outcome(for fingerprint: Digest) -> CachedOutcome? {
        if let known = local.outcome(for: fingerprint) { return known }
        guard let data = noting(nil, { try downloadData(.action(fingerprint)) }),
              let outcome = try? RecordJSON.decode(CachedOutcome.self, from: data),
              outcome.outputs.keys.allSatisfy({ RecordPath.problem(with: $0) == nil }) else { return nil }
        try? local.remember(outcome, for: fingerprint)
        return outcome
    }

    package func remember(_ outcome: CachedOutcome, for fingerprint: Digest) throws {
        try local.remember(outcome, for: fingerprint)
    }

    // MARK: Housekeeping: the local cache's (the shared store has its own eviction)

    package func inventory() -> StoreInventory { local.inventory() }
    package func remove(_ item: StoreInventory.Item) throws { try local.remove(item) }

    // MARK: Fetching

    /// Makes the object (for a folder, its manifest and every file) present in the local cache.
    package func fetch(_ digest: Digest) throws {
        if local.contains(digest) { return }
        if try local.isDirectory(digest) || fetchManifest(digest) {
            guard let manifest = try local.manifest(digest) else { throw CacheError.missing(digest) }
            let missing = Set(manifest.entries.compactMap(\.digest)).filter { !local.contains($0) }.sorted { $0.hex < $1.hex }
            try concurrentTransfers(missing.count) { try self.fetchFile(missing[$0]) }
        } else {
            try fetchFile(digest)
        }
    }

    /// Fetches a folder's manifest (`ac/<digest>`) if the store has one; false when it has none.
    @discardableResult
    private func fetchManifest(_ digest: Digest) throws -> Bool {
        if local.isDirectory(digest) { return true }
        return try local.adopt(digest, as: .manifest, source: remote.location) { fd in try remote.download(.action(digest), into: fd) }
    }

    private func fetchFile(_ digest: Digest) throws {
        guard try local.adopt(digest, as: .file, source: remote.location, download: { fd in try remote.download(.content(digest), into: fd) }) else {
            throw PlumbError("object \(digest.short) is neither in the local cache nor in the shared store \(remote.location)",
                             hint: "reconcile the environment that produced it on a machine that uploads (without --no-upload), or `plumb push` from a machine that has it")
        }
        present.withLock { _ = $0.insert(.content(digest)) }
    }

    private func remoteHas(_ key: RemoteKey) -> Bool {
        if present.withLock({ $0.contains(key) }) { return true }
        guard noting(false, { try remote.exists(key) }) else { return false }
        present.withLock { _ = $0.insert(key) }
        return true
    }

    /// A small blob (an action entry), read through a temporary file; nil when absent.
    private func downloadData(_ key: RemoteKey) throws -> Data? {
        let path = local.temporaryPath()
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PlumbError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd); unlink(path) }
        guard try remote.download(key, into: fd) != nil else { return nil }
        return FileManager.default.contents(atPath: path)
    }

    // MARK: Uploading

    /// What a run produced, for `upload(_:)`.
    package struct Upload: Sendable {
        /// Outputs and logs (files or folders), by digest.
        package var contents: Set<Digest>
        /// Fingerprints whose remembered outcome is uploaded as an action entry.
        package var outcomes: Set<Digest>
        package init(contents: Set<Digest>, outcomes: Set<Digest>) { self.contents = contents; self.outcomes = outcomes }
    }

    /// What `upload(_:)` did.
    package struct UploadReport: Sendable, Equatable {
        package var uploaded = 0
        package var alreadyThere = 0
        package var bytes: Int64 = 0
        /// Objects skipped because they are neither here nor in the store (`skipAbsent`).
        package var absent = 0
    }

    /// Copies to the shared store every object of `upload` it lacks (asked with `HEAD` first): file
    /// contents, then folder manifests (a manifest appears only once its files are there), then the
    /// action entries last, as the commit point — an entry in the store means its outputs are too.
    /// Throws at the first failure; what was uploaded before it stays (content-addressed, harmless).
    /// An object this machine never fetched is fine if the store has it; `skipAbsent` skips objects
    /// that are nowhere (for `plumb push`), else they are an error.
    @discardableResult
    package func upload(_ upload: Upload, skipAbsent: Bool = false, progress: TransferObserver? = nil) throws -> UploadReport {
        var files = Set<Digest>()
        var manifests: [Digest] = []
        var absent = 0
        for digest in upload.contents.sorted(by: { $0.hex < $1.hex }) {
            if !local.contains(digest) {
                if contains(digest) { continue }
                if skipAbsent { absent += 1; continue }
                throw PlumbError("object \(digest.short) is neither in the local cache nor in the shared store \(remote.location)")
            }
            if let manifest = try local.manifest(digest) {
                manifests.append(digest)
                files.formUnion(manifest.entries.compactMap(\.digest))
            } else {
                files.insert(digest)
            }
        }
        let outcomes = upload.outcomes.sorted { $0.hex < $1.hex }.filter { access(local.outcomePath($0), R_OK) == 0 }
        let batches: [[(RemoteKey, String)]] = [
            files.sorted { $0.hex < $1.hex }.map { (.content($0), local.objectPath($0)) },
            manifests.map { (.action($0), local.manifestPath($0)) },
            outcomes.map { (.action($0), local.outcomePath($0)) },
        ]
        let report = Locked(UploadReport(absent: absent))
        let total = batches.map(\.count).reduce(0, +)
        for batch in batches {
            try concurrentTransfers(batch.count) { index in
                let (key, path) = batch[index]
                let size = try self.put(key, from: path)
                let now = report.withLock { report in
                    if let size { report.uploaded += 1; report.bytes += size } else { report.alreadyThere += 1 }
                    return TransferProgress(done: report.uploaded + report.alreadyThere, total: total, bytes: report.bytes)
                }
                progress?(now)
            }
        }
        return report.withLock { $0 }
    }

    /// Uploads one blob unless the store has it; the bytes sent, or nil when it was there.
    private func put(_ key: RemoteKey, from path: String) throws -> Int64? {
        if present.withLock({ $0.contains(key) }) { return nil }
        if try remote.exists(key) {
            present.withLock { _ = $0.insert(key) }
            return nil
        }
        var s = stat()
        guard stat(path, &s) == 0 else {
            throw PlumbError("cannot upload \(key) to \(remote.location): it is not in the local cache (\(path))")
        }
        try remote.upload(key, from: path)
        present.withLock { _ = $0.insert(key) }
        return Int64(s.st_size)
    }

    /// The objects of `digests` (files or folders) that the shared store lacks, a folder's files
    /// included. Unlike planning, which treats an unreachable store as empty, this throws: a
    /// promotion must not be written on a guess.
    package func missingFromRemote(_ digests: Set<Digest>) throws -> [Digest] {
        try digests.sorted(by: { $0.hex < $1.hex }).filter { digest in
            if local.isDirectory(digest) {
                if try !remote.exists(.action(digest)) { return true }
            } else if try remote.exists(.content(digest)) {
                return false
            } else if try !fetchManifest(digest) {
                return true  // neither a file nor a folder in the store
            }
            guard let manifest = try local.manifest(digest) else { return true }
            return try !remoteHasFiles(of: manifest)
        }
    }

    /// Whether every file of a folder is here or in the shared store: the missing ones asked for
    /// together (`HEAD`s on the transfer threads, not one after another), what is found remembered.
    private func remoteHasFiles(of manifest: DirectoryManifest) throws -> Bool {
        let unknown = Set(manifest.entries.compactMap(\.digest)).filter { digest in
            !local.contains(digest) && !present.withLock { $0.contains(.content(digest)) }
        }.sorted { $0.hex < $1.hex }
        let absent = Locked(false)
        try concurrentTransfers(unknown.count) { index in
            if try self.remote.exists(.content(unknown[index])) {
                self.present.withLock { _ = $0.insert(.content(unknown[index])) }
            } else {
                absent.withLock { $0 = true }
            }
        }
        return !absent.withLock { $0 }
    }

    /// What `download(_:)` did.
    package struct DownloadReport: Sendable, Equatable {
        package var fetched = 0
        package var alreadyHere = 0
        /// Objects neither here nor in the shared store.
        package var missing: [Digest] = []
        package var bytes: Int64 = 0
    }

    /// Fetches into the local cache every object of `download` it lacks (a folder: its manifest and
    /// files), verified like every fetch, and the remembered outcome of each fingerprint the store
    /// has. Objects the store lacks are reported, not thrown, so the rest still arrive.
    package func download(_ download: Upload, progress: TransferObserver? = nil) throws -> DownloadReport {
        var files: [Digest] = []
        var report = DownloadReport()
        for digest in download.contents.sorted(by: { $0.hex < $1.hex }) {
            if local.contains(digest) { report.alreadyHere += 1; continue }
            if try local.isDirectory(digest) || fetchManifest(digest) {
                guard let manifest = try local.manifest(digest) else { report.missing.append(digest); continue }
                files += manifest.entries.compactMap(\.digest).filter { !local.contains($0) }
            } else {
                files.append(digest)
            }
        }
        let unique = Array(Set(files)).sorted { $0.hex < $1.hex }
        let counts = Locked(report)
        try concurrentTransfers(unique.count) { index in
            let digest = unique[index]
            let found = try self.local.adopt(digest, as: .file, source: self.remote.location) { fd in
                try self.remote.download(.content(digest), into: fd)
            }
            let size = found ? Int64((try? FileManager.default.attributesOfItem(atPath: self.local.objectPath(digest))[.size] as? Int) ?? 0) : 0
            let now = counts.withLock { report in
                if found { report.fetched += 1; report.bytes += size } else { report.missing.append(digest) }
                return TransferProgress(done: report.fetched + report.missing.count, total: unique.count, bytes: report.bytes)
            }
            progress?(now)
        }
        report = counts.withLock { $0 }
        report.missing.sort { $0.hex < $1.hex }
        for fingerprint in download.outcomes.sorted(by: { $0.hex < $1.hex }) { _ = outcome(for: fingerprint) }
        return report
    }
}

extension Cache {
    /// What a downloaded blob is to become.
    package enum AdoptedKind: Sendable { case file, manifest }

    /// A fresh path in the cache's tmp/ (same file system as the objects, so a rename is atomic).
    func temporaryPath() -> String { root.path + "/tmp/\(getpid())-\(UInt64.random(in: 0...UInt64.max))" }

    /// Downloads a blob with `download` into a temporary file and, only if its bytes hash to
    /// `digest` (and, for a manifest, parse as one), renames it into the cache. A mismatch deletes
    /// the download and throws an error naming the object and `source`; nothing is kept.
    /// Returns false when `download` found no blob.
    func adopt(_ digest: Digest, as kind: AdoptedKind, source: String, download: (Int32) throws -> Digest?) throws -> Bool {
        let temporary = temporaryPath()
        let fd = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        guard fd >= 0 else { throw PlumbError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var keep = false
        defer { if !keep { unlink(temporary) } }
        let actual: Digest?
        do {
            defer { close(fd) }
            actual = try download(fd)
            // Verified as it arrived: sealed, so linking it into a workspace need not read it again.
            if kind == .file, actual == digest { try FileTransfer.seal(fd, as: digest) }
            if actual != nil, fsync(fd) != 0 { throw PlumbError("cannot fsync \(temporary): \(String(cString: strerror(errno)))") }
        }
        guard let actual else { return false }
        let what = kind == .manifest ? "folder manifest" : "object"
        guard actual == digest else {
            throw PlumbError("\(what) \(digest.hex) from the shared store \(source) is corrupt: its bytes hash to \(actual.hex); it was not used",
                             hint: "remove it from the store (it is ac/ or cas/\(digest.hex) there); a machine that has the object re-uploads it on its next reconcile or `plumb push`")
        }
        let final: String
        if kind == .manifest {
            guard let bytes = FileManager.default.contents(atPath: temporary), (try? DirectoryManifest(canonicalEncoding: bytes)) != nil else {
                throw PlumbError("folder manifest \(digest.hex) from the shared store \(source) is not a manifest; it was not used")
            }
            final = manifestPath(digest)
        } else {
            final = objectPath(digest)
        }
        let shard = (final as NSString).deletingLastPathComponent
        if mkdir(shard, 0o755) != 0 && errno != EEXIST {
            throw PlumbError("cannot create \(shard): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, final) == 0 else {
            throw PlumbError("cannot rename \(temporary) to \(final): \(String(cString: strerror(errno)))")
        }
        keep = true
        return true
    }
}
