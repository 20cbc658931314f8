import Foundation
@testable import PlumbCore
@testable import PlumbStore

/// A content store in front of another that counts what it is asked and can fail reads of chosen
/// digests as a corrupt object would (deleting the object behind it, as the real store does), so
/// engine tests can see what the engine reads and how it recovers without tampering with files.
final class SpyStore: ContentStore {
    enum Call: Hashable { case store, contains, isDirectory, manifest, data, materialize, outcome, remember, inventory, remove }

    let inner: any ContentStore
    private let calls = Locked<[Call: Int]>([:])
    private let corrupting = Locked<Set<Digest>>([])

    init(_ inner: any ContentStore) { self.inner = inner }

    func count(_ call: Call) -> Int { calls.withLock { $0[call] ?? 0 } }
    func resetCounts() { calls.withLock { $0 = [:] } }
    /// The next read of `digest` fails as corrupt and deletes it from the store behind.
    func corruptNextRead(of digest: Digest) { corrupting.withLock { _ = $0.insert(digest) } }

    private func note(_ call: Call) { calls.withLock { $0[call, default: 0] += 1 } }
    private func failIfCorrupt(_ digest: Digest) throws {
        guard corrupting.withLock({ $0.remove(digest) }) != nil else { return }
        try? inner.remove(.init(kind: inner.isDirectory(digest) ? .manifest : .file, digest: digest, bytes: 0))
        throw CacheError.corrupt(digest)
    }

    func store(_ path: String, shareable: Bool) throws -> Digest { note(.store); return try inner.store(path, shareable: shareable) }
    func contains(_ digest: Digest) -> Bool { note(.contains); return inner.contains(digest) }
    func isDirectory(_ digest: Digest) -> Bool { note(.isDirectory); return inner.isDirectory(digest) }
    func manifest(_ digest: Digest) throws -> DirectoryManifest? { note(.manifest); return try inner.manifest(digest) }
    func data(_ digest: Digest) throws -> Data { note(.data); try failIfCorrupt(digest); return try inner.data(digest) }
    func materialize(_ digest: Digest, at path: String, access: MaterializedAccess) throws {
        note(.materialize); try failIfCorrupt(digest); try inner.materialize(digest, at: path, access: access)
    }
    func outcome(for fingerprint: Digest) -> CachedOutcome? { note(.outcome); return inner.outcome(for: fingerprint) }
    func remember(_ outcome: CachedOutcome, for fingerprint: Digest) throws { note(.remember); try inner.remember(outcome, for: fingerprint) }
    func inventory() -> StoreInventory { note(.inventory); return inner.inventory() }
    func remove(_ item: StoreInventory.Item) throws { note(.remove); try inner.remove(item) }
}
