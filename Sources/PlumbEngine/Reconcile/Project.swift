import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// A Plumb repository on this machine: the git repository and its local `.plumb/` state
/// (cache, stat cache, workspaces, locks, logs).
///
/// Sendable: every property is set once in `init`, and each is itself safe to share between threads.
package final class Project: @unchecked Sendable {
    package let repository: Repository
    /// The working tree's root (where untracked data and `.plumb/` live).
    package let root: String
    let plumbDirectory: URL
    /// Where the workspaces and the logs of runs in progress live: `.plumb/`, or with
    /// `PLUMB_WORK_DIR` a folder of this clone's own under it (storage the nodes of a cluster
    /// mount, since a batch job runs in its stage's workspace; docs/scaling.md).
    package let workDirectory: URL
    package let statCache: StatCache
    package let digester: ContentDigester
    /// This machine's content store, `.plumb/cache`.
    package let cache: Cache
    /// Where every reader and writer keeps and finds content: the local cache, or a store layered
    /// over it.
    package let store: any ContentStore

    /// Opens the repository around `path` and its local state (created on first use). `store`, when
    /// given, makes the store every reader and writer uses from the local cache (a store layered over
    /// it, or a test's double); otherwise the shared store the repository or `environment` names
    /// (`SharedStoreSettings`) is layered behind the local cache, if there is one.
    package init(path: String, store: ((Cache) throws -> any ContentStore)? = nil,
                 environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        repository = try Repository(discovering: path)
        guard let workdir = repository.workingDirectory else {
            throw PlumbError("\(repository.gitDirectory.path) is a bare repository", hint: "run plumb in a clone with a working tree")
        }
        root = workdir.path.hasSuffix("/") ? String(workdir.path.dropLast()) : workdir.path
        plumbDirectory = URL(fileURLWithPath: root).appendingPathComponent(".plumb")
        do {
            try FileManager.default.createDirectory(at: plumbDirectory, withIntermediateDirectories: true)
        } catch {
            throw PlumbError(fileSystem: error, doing: "cannot create", path: plumbDirectory.path)
        }
        if let shared = environment["PLUMB_WORK_DIR"], !shared.isEmpty {
            guard shared.hasPrefix("/") else {
                throw PlumbError("PLUMB_WORK_DIR \(shared) is not an absolute path", hint: "set it to a folder every compute node mounts, e.g. /scratch/$USER/plumb", kind: .usage)
            }
            // Clones sharing the folder must not share workspaces: each gets one named after where it is.
            workDirectory = URL(fileURLWithPath: shared).appendingPathComponent(SHA256Hasher.digest(plumbDirectory.path).short)
        } else {
            workDirectory = plumbDirectory
        }
        statCache = StatCache(file: plumbDirectory.appendingPathComponent("statcache"))
        digester = ContentDigester(statCache: statCache)
        cache = try Cache(root: plumbDirectory.appendingPathComponent("cache"), digester: digester)
        if let store {
            self.store = try store(cache)
        } else if let shared = try SharedStoreSettings.resolve(repository: repository, environment: environment) {
            self.store = try shared.open(over: cache)
        } else {
            self.store = cache
        }
    }

    /// The shared store behind the local cache, when there is one.
    package var sharedStore: LayeredStore? { store as? LayeredStore }

    /// Keeps `project` alive until the process exits: a command about to exit need not free its stat cache
    /// entry by entry (10,000 files' worth is a few milliseconds of a 40 ms plan).
    package static func keepUntilExit(_ project: Project) {
        kept.withLock { $0.append(project) }
    }
    private static let kept = Locked<[Project]>([])

    /// `.plumb/work/<env>`: where an environment's stages run.
    package func workspace(for environment: String) -> String { workDirectory.appendingPathComponent("work/\(environment)").path }
    /// `.plumb/logs/<run>`: logs while a run is going; kept in the cache afterwards.
    func logDirectory(for run: String) -> String { workDirectory.appendingPathComponent("logs/\(run)").path }
    /// `.plumb/logs`: one folder per run in progress on this machine (`plumb logs -f`).
    package var runningLogsDirectory: String { workDirectory.appendingPathComponent("logs").path }
    package var locksDirectory: URL { plumbDirectory.appendingPathComponent("locks") }
    /// Refuses when the repository's rules forbid the commits Plumb writes: libgit2 does not sign,
    /// so with `commit.gpgsign` a record would be the one unsigned commit on a branch that may
    /// require signatures. Checked with the writer's lock, before any stage runs.
    package func checkCommitsAllowed() throws {
        guard repository.requiresSignedCommits else { return }
        throw PlumbError("this repository asks for signed commits (commit.gpgsign), and Plumb cannot sign the commits it writes; nothing was run",
                         hint: "record from a clone without it (`git config --local commit.gpgsign false`, e.g. a CI runner whose pushes the server trusts), or sign Plumb's commits afterwards with `git rebase --exec 'git commit --amend --no-edit -S'`")
    }

    /// `.plumb/conflicts/`: run records another writer's record superseded, kept for inspection.
    package var conflictsDirectory: URL { plumbDirectory.appendingPathComponent("conflicts") }

    /// Takes the one-writer lock of `environment` (see `RepositoryLock`), for any command that
    /// records into `history/<env>/` or pins into it, with the cache lock shared (so `plumb gc`
    /// cannot run meanwhile). `wait` nil fails at once, naming the holder. Refuses up front when the
    /// repository cannot be written, rather than after the stages ran.
    package func lock(environment: String, command: String, wait: Double?) throws -> RepositoryLock {
        try repository.checkWritable()
        try checkCommitsAllowed()
        let cache = try lockCache(.shared, command: command, wait: wait)
        let lock = try RepositoryLock.acquire(directory: locksDirectory, name: environment, command: command, wait: wait,
                                              stopWaiting: { Interruption.requested })
        lock.releasesAlso(cache)
        return lock
    }

    /// The cache-wide lock: held shared by every command that stores into the cache or records
    /// (from before it plans until it has recorded), exclusively by `plumb gc`, which removes what no
    /// record refers to and so must not see objects a running reconcile stored but has not recorded yet.
    package func lockCache(_ mode: RepositoryLock.Mode, command: String, wait: Double?) throws -> RepositoryLock {
        try RepositoryLock.acquire(directory: locksDirectory, name: RepositoryLock.cacheName, command: command, wait: wait, mode: mode,
                                   stopWaiting: { Interruption.requested })
    }

    /// The read-only view of the store the planner may consult.
    var cacheView: CacheView {
        let index = FingerprintIndex(store: store)
        let store = self.store
        return CacheView(contains: { store.contains($0) }, outcome: { index.outcome(for: $0) })
    }
}

/// Which outputs a fingerprint produced, remembered in the store so an earlier result can be restored.
struct FingerprintIndex: Sendable {
    let store: any ContentStore

    init(store: any ContentStore) { self.store = store }

    /// The outcome of an earlier run with this fingerprint, if all its outputs are still in the store.
    func outcome(for fingerprint: Digest) -> CachedOutcome? {
        guard let outcome = store.outcome(for: fingerprint), outcome.outputs.values.allSatisfy({ store.contains($0) }) else { return nil }
        return outcome
    }

    func remember(_ outcome: CachedOutcome, for fingerprint: Digest) throws {
        try store.remember(outcome, for: fingerprint)
    }
}
