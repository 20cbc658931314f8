import Foundation
import PlumbCore

/// Where outputs, logs and the results of earlier runs are kept: every reader and writer — the
/// executor, checkout, logs, the fingerprint index, gc — goes through this protocol, never through
/// a folder layout. The local folder store (`Cache`, `.plumb/cache`) is today's implementation; a
/// shared store (an HTTP server, layered behind the local one as Bazel's remote cache is) is another.
///
/// Two parts, as in Bazel's remote cache: content named by its SHA-256 (files, and folders as
/// manifests of files), and results of earlier runs named by their fingerprint. Every read is
/// verified against the digest it is asked for: a mismatch deletes the object and throws
/// `CacheError.corrupt`, so the stage that produced it runs again. Writes are atomic: an object is
/// there complete, or not at all.
package protocol ContentStore: Sendable {
    // MARK: Content

    /// Stores the file or folder at `path` (absolute) and returns its digest. `shareable`: the caller
    /// hands the files over, read-only from now on, so a file may become the stored object itself
    /// (a hard link, where that is safe); otherwise the files stay the caller's, untouched.
    @discardableResult
    func store(_ path: String, shareable: Bool) throws -> Digest
    /// Whether the object is present — for a folder, every file its manifest lists. Reads no content.
    func contains(_ digest: Digest) -> Bool
    /// Whether `digest` names a folder (a manifest).
    func isDirectory(_ digest: Digest) -> Bool
    /// The folder manifest named by `digest`, verified; nil when `digest` is not a folder here.
    func manifest(_ digest: Digest) throws -> DirectoryManifest?
    /// A file object's bytes, verified.
    func data(_ digest: Digest) throws -> Data
    /// Recreates the file or folder named by `digest` at `path` (absolute), replacing what is there;
    /// a corrupt object is never given out, and then `path` is left as it was. `access` says whether
    /// the files may share the stored bytes' inode (`.readOnly`) or must be writable and independent.
    func materialize(_ digest: Digest, at path: String, access: MaterializedAccess) throws
    // MARK: Results of earlier runs

    /// What a run with `fingerprint` produced, as remembered (its outputs may since have gone).
    func outcome(for fingerprint: Digest) -> CachedOutcome?
    /// Remembers what a run with `fingerprint` produced.
    func remember(_ outcome: CachedOutcome, for fingerprint: Digest) throws

    // MARK: Housekeeping

    /// Everything the store holds, for `plumb gc`.
    func inventory() -> StoreInventory
    /// Removes one stored item; what is not the store's own is never touched.
    func remove(_ item: StoreInventory.Item) throws
}

/// What a materialized file is for, which decides whether it may share the cache's inode.
package enum MaterializedAccess: Sendable, Equatable {
    /// A stage's input, read-only in its workspace: may be a hard link to the object where that is safe.
    case readOnly
    /// The user's working tree, a stage's persistent output: writable and independent of the cache
    /// (a reflink or a copy, never a hard link).
    case writable
}

extension ContentStore {
    /// Stores the file or folder at `path`, leaving it the caller's (never linked into the store).
    @discardableResult
    package func store(_ path: String) throws -> Digest { try store(path, shareable: false) }

    /// Recreates the file or folder named by `digest` at `path`, writable and independent of the store.
    package func materialize(_ digest: Digest, at path: String) throws {
        try materialize(digest, at: path, access: .writable)
    }

    /// Recreates the file or folder named by `digest` at `path` inside `root` (a repository, a
    /// workspace), after checking that no folder between `root` and `path` is a symbolic link or a
    /// file (`ContainedPath`): nothing outside `root` is ever deleted or written, whatever the store.
    package func materialize(_ digest: Digest, at path: RecordPath, under root: String, access: MaterializedAccess = .writable) throws {
        try materialize(digest, at: try ContainedPath.prepare(path.value, under: root, create: true), access: access)
    }
}

/// What a store holds: its items, each with the size it takes.
package struct StoreInventory: Sendable {
    package enum Kind: Sendable, Hashable {
        /// A file's content.
        case file
        /// A folder's manifest.
        case manifest
        /// The remembered result of a run (named by its fingerprint).
        case outcome
    }

    package struct Item: Sendable, Hashable {
        package var kind: Kind
        package var digest: Digest
        package var bytes: Int64
        package init(kind: Kind, digest: Digest, bytes: Int64) { self.kind = kind; self.digest = digest; self.bytes = bytes }
    }

    package var items: [Item]
    package init(items: [Item]) { self.items = items }
}
