import Foundation
import Synchronization
@testable import PlumbCore
@testable import PlumbStore

/// A content store in memory, for engine tests that need to reach into the store (corrupt an object,
/// count what gc would remove) without depending on the folder store's layout. It keeps the
/// protocol's promises the way `Cache` does: digests as `ContentDigester` computes them, every read
/// verified, a corrupt object removed and reported by its digest.
final class InMemoryStore: ContentStore {
    private struct Contents {
        var files: [Digest: Data] = [:]
        var manifests: [Digest: Data] = [:]
        var fingerprintEntries: [Digest: Data] = [:]
    }

    private let contents = Mutex(Contents())

    /// Replaces the bytes of the file object `digest`, as a failing disk or a stray write would.
    func corrupt(_ digest: Digest) {
        contents.withLock { $0.files[digest] = Data("TAMPERED\n".utf8) }
    }

    /// How many objects it holds (files and manifests).
    var objectCount: Int { contents.withLock { $0.files.count + $0.manifests.count } }

    // MARK: - ContentStore

    func contains(_ digest: Digest) -> Bool {
        contents.withLock { c in
            if let encoding = c.manifests[digest] {
                guard let manifest = try? DirectoryManifest(canonicalEncoding: encoding) else { return false }
                return manifest.entries.allSatisfy { e in e.digest.map { c.files[$0] != nil } ?? true }
            }
            return c.files[digest] != nil
        }
    }

    func isDirectory(_ digest: Digest) -> Bool {
        contents.withLock { $0.manifests[digest] != nil }
    }

    func manifest(_ digest: Digest) throws -> DirectoryManifest? {
        guard let encoding = contents.withLock({ $0.manifests[digest] }) else { return nil }
        guard SHA256Hasher.digest(encoding) == digest, let manifest = try? DirectoryManifest(canonicalEncoding: encoding) else {
            contents.withLock { _ = $0.manifests.removeValue(forKey: digest) }
            throw CacheError.corrupt(digest)
        }
        return manifest
    }

    func data(_ digest: Digest) throws -> Data {
        guard let data = contents.withLock({ $0.files[digest] }) else { throw CacheError.missing(digest) }
        guard SHA256Hasher.digest(data) == digest else {
            contents.withLock { _ = $0.files.removeValue(forKey: digest) }
            throw CacheError.corrupt(digest)
        }
        return data
    }

    func materialize(_ digest: Digest, at path: String, access: MaterializedAccess) throws {
        let fm = FileManager.default
        let staging = (path as NSString).deletingLastPathComponent + "/.in-memory-\(UUID().uuidString)"
        try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: staging) }
        if let manifest = try manifest(digest) {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: false)
            for e in manifest.entries {
                let target = staging + "/" + e.path
                try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                if let link = e.symlink {
                    try fm.createSymbolicLink(atPath: target, withDestinationPath: link)
                } else {
                    try write(try data(e.digest!), to: target, executable: e.executable)
                }
            }
        } else {
            try write(try data(digest), to: staging, executable: false)
        }
        if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
        try fm.moveItem(atPath: staging, toPath: path)
    }

    func store(_ path: String, shareable: Bool) throws -> Digest {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw PlumbError("\(path) does not exist") }
        guard isFolder.boolValue else { return try storeData(try Data(contentsOf: URL(fileURLWithPath: path))) }
        let scanned = try ContentDigester.scan(directory: path)
        var byFile: [String: Digest] = [:]
        for e in scanned where e.symlinkTarget == nil {
            byFile[e.absolutePath] = try storeData(try Data(contentsOf: URL(fileURLWithPath: e.absolutePath)))
        }
        let encoding = ContentDigester.manifest(of: scanned) { byFile[$0]! }.canonicalEncoding
        let digest = SHA256Hasher.digest(encoding)
        contents.withLock { $0.manifests[digest] = encoding }
        return digest
    }

    func storeData(_ data: Data) throws -> Digest {
        let digest = SHA256Hasher.digest(data)
        contents.withLock { $0.files[digest] = data }
        return digest
    }

    func outcome(for fingerprint: Digest) -> CachedOutcome? {
        contents.withLock { $0.fingerprintEntries[fingerprint] }.flatMap { try? RecordJSON.decode(CachedOutcome.self, from: $0) }
    }

    func remember(_ outcome: CachedOutcome, for fingerprint: Digest) throws {
        let entry = try RecordJSON.encode(outcome)
        contents.withLock { $0.fingerprintEntries[fingerprint] = entry }
    }

    func inventory() -> StoreInventory {
        contents.withLock { c in
            StoreInventory(items: c.files.map { .init(kind: .file, digest: $0.key, bytes: Int64($0.value.count)) }
                + c.manifests.map { .init(kind: .manifest, digest: $0.key, bytes: Int64($0.value.count)) }
                + c.fingerprintEntries.map { .init(kind: .outcome, digest: $0.key, bytes: Int64($0.value.count)) })
        }
    }

    func remove(_ item: StoreInventory.Item) throws {
        contents.withLock { c in
            switch item.kind {
            case .file: _ = c.files.removeValue(forKey: item.digest)
            case .manifest: _ = c.manifests.removeValue(forKey: item.digest)
            case .outcome: _ = c.fingerprintEntries.removeValue(forKey: item.digest)
            }
        }
    }

    /// Writes a materialised file as `Cache` does: writable by its owner, executable when the manifest says so.
    private func write(_ data: Data, to path: String, executable: Bool) throws {
        guard FileManager.default.createFile(atPath: path, contents: data,
                                             attributes: [.posixPermissions: executable ? 0o755 : 0o644]) else {
            throw PlumbError("cannot create \(path)")
        }
    }
}
