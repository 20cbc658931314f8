import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// How bytes go into the cache and come out (docs/decisions.md, "Large outputs without copies"):
/// hashed once where they are, skipped when present, hard-linked, reflinked or copied, and always
/// the same bytes. The reflinked way needs a file system that has reflinks: set
/// PLUMB_TEST_REFLINK_DIR to a folder on one (XFS, btrfs) to run these tests there too.
@Suite struct StoreTransferTests {
    /// Where to run: the temporary folder, and a reflink-capable one when given.
    static let folders: [String?] = [nil] + (ProcessInfo.processInfo.environment["PLUMB_TEST_REFLINK_DIR"].map { [$0] } ?? [])

    static func folder(in base: String?) throws -> String {
        guard let base else { return try temporaryFolder() }
        let path = base + "/plumb-transfer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Whether `folder`'s file system reflinks, asked of coreutils rather than of the code under test.
    static func reflinks(in folder: String) throws -> Bool {
        try put(folder, "probe-a", "probe")
        defer { unlink(folder + "/probe-a"); unlink(folder + "/probe-b") }
        return try runProcess("/bin/cp", ["--reflink=always", "probe-a", "probe-b"], in: folder).status == 0
    }

    static func status(_ path: String) -> stat {
        var s = stat()
        _ = lstat(path, &s)
        return s
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// 3 MiB that are not all alike, so a copy that stopped short or repeated a chunk would show.
    static func sample() -> Data { Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }) }

    @Test(arguments: folders)
    func everyWayOutGivesTheSameBytes(base: String?) throws {
        let folder = try Self.folder(in: base)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = try Cache(root: URL(fileURLWithPath: folder + "/.plumb/cache"), digester: ContentDigester(statCache: eagerStatCache(folder)))
        let content = Self.sample()
        try content.write(to: URL(fileURLWithPath: folder + "/model.bin"))
        let digest = try cache.store(folder + "/model.bin")
        let object = cache.objectPath(digest)
        let reflinks = try Self.reflinks(in: folder)
        let root = geteuid() == 0

        // Read-only (a stage's input): the object itself where safe; as root a link would protect nothing.
        try cache.materialize(digest, at: folder + "/work/input.bin", access: .readOnly)
        // Writable (checkout, a persistent output): never the object's inode.
        try cache.materialize(digest, at: folder + "/tree/model.bin", access: .writable)
        for path in ["/work/input.bin", "/tree/model.bin"] { #expect(try Self.bytes(folder + path) == content, "\(path)") }

        let input = Self.status(folder + "/work/input.bin"), tree = Self.status(folder + "/tree/model.bin"), cached = Self.status(object)
        let ways = cache.transfers.current
        let inputWay: Transfer = !root ? .hardlink : reflinks ? .reflink : .copy
        let treeWay: Transfer = reflinks ? .reflink : .copy
        #expect(ways.materialized(inputWay).files == (inputWay == treeWay ? 2 : 1), "\(ways)")
        #expect(ways.materialized(treeWay).files >= 1, "\(ways)")
        #expect((input.st_ino == cached.st_ino) == (inputWay == .hardlink))
        #expect(input.st_mode & 0o222 == 0 || inputWay != .hardlink, "a linked input has no write bit")
        #expect(tree.st_ino != cached.st_ino && tree.st_nlink == 1 && tree.st_mode & 0o200 != 0)

        // Writing the writable file leaves the object as it was.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/tree/model.bin"))
        try handle.seekToEnd(); try handle.write(contentsOf: Data("edited".utf8)); try handle.close()
        #expect(cache.verify(digest))
        #expect(try Self.bytes(object) == content)
    }

    @Test(arguments: folders)
    func reStoringIdenticalBytesHashesOnceAndRewritesNothing(base: String?) throws {
        let folder = try Self.folder(in: base)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let statCache = eagerStatCache(folder)
        let cache = try Cache(root: URL(fileURLWithPath: folder + "/.plumb/cache"), digester: ContentDigester(statCache: statCache))
        let content = Self.sample()
        try content.write(to: URL(fileURLWithPath: folder + "/first.bin"))
        let digest = try cache.store(folder + "/first.bin")
        let before = Self.status(cache.objectPath(digest))
        #expect(cache.transfers.current.stored(.present).files == 0)

        // A fresh file with the same bytes (a stage that ran again): another inode, unknown to the stat cache.
        try content.write(to: URL(fileURLWithPath: folder + "/again.bin"))
        let hashed = statCache.filesHashed
        #expect(try cache.store(folder + "/again.bin") == digest)
        #expect(statCache.filesHashed == hashed + 1, "hashed exactly once")
        let after = Self.status(cache.objectPath(digest))
        #expect(after.st_ino == before.st_ino)
        #expect(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        #expect(after.st_ctim.tv_sec == before.st_ctim.tv_sec && after.st_ctim.tv_nsec == before.st_ctim.tv_nsec)
        #expect(cache.transfers.current.stored(.present) == TransferTally.Count(files: 1, bytes: Int64(content.count)))
        // Nothing was left in tmp/ either.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/.plumb/cache/tmp").isEmpty)
    }

    /// A stage's output (handed over, `shareable`) new to the cache is read once, whichever way it goes in:
    /// by hard link when unprivileged, else reflink or copy (making it read-only on the way must not pass
    /// for a change that sends it down the copy-while-hashing path).
    @Test(arguments: folders)
    func aNewOutputIsHashedOnceWhicheverWayItGoesIn(base: String?) throws {
        let folder = try Self.folder(in: base)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let statCache = eagerStatCache(folder)
        let cache = try Cache(root: URL(fileURLWithPath: folder + "/.plumb/cache"), digester: ContentDigester(statCache: statCache))
        let content = Self.sample()
        try content.write(to: URL(fileURLWithPath: folder + "/out.bin"))
        let digest = try cache.store(folder + "/out.bin", shareable: true)
        #expect(statCache.filesHashed == 1)
        let way: Transfer = geteuid() != 0 ? .hardlink : try Self.reflinks(in: folder) ? .reflink : .copy
        #expect(cache.transfers.current.stored(way) == TransferTally.Count(files: 1, bytes: Int64(content.count)), "\(cache.transfers.current)")
        #expect(try Self.bytes(cache.objectPath(digest)) == content)
        #expect((Self.status(folder + "/out.bin").st_ino == Self.status(cache.objectPath(digest)).st_ino) == (way == .hardlink))
    }

    /// Objects are sealed once their bytes are known to match; a write to one (only root, or after a
    /// chmod) moves the seal, so it is verified, not shared, on its next way out.
    @Test func aWrittenObjectIsVerifiedInsteadOfShared() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = try Cache(root: URL(fileURLWithPath: folder + "/.plumb/cache"), digester: ContentDigester(statCache: eagerStatCache(folder)))
        try put(folder, "model.bin", "weights")
        let digest = try cache.store(folder + "/model.bin")
        let object = cache.objectPath(digest)
        #expect(FileTransfer.isSealed(Self.status(object), as: digest))
        chmod(object, 0o644)
        try Data("wrights".utf8).write(to: URL(fileURLWithPath: object))
        #expect(!FileTransfer.isSealed(Self.status(object), as: digest))
        #expect(throws: CacheError.self) { try cache.materialize(digest, at: folder + "/input.bin", access: .readOnly) }
        #expect(!FileManager.default.fileExists(atPath: object) && !FileManager.default.fileExists(atPath: folder + "/input.bin"))
    }

    /// An input linked to its object gets a new ctime whenever another link to the object is made
    /// (another workspace takes it): that must not pass for a change, while a chmod to writable must.
    @Test func aLinkedInputsStampIgnoresOtherLinksButNotAWriteBit() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try put(folder, "object", "bytes")
        chmod(folder + "/object", 0o444)
        #expect(link(folder + "/object", folder + "/input") == 0)
        let staged = try #require(WorkspaceInputs.stamp(folder + "/input"))
        usleep(20_000)
        #expect(link(folder + "/object", folder + "/elsewhere") == 0)
        #expect(WorkspaceInputs.stamp(folder + "/input") == staged)
        // A more private file stored with the same bytes narrows the object's read bits: not a write either.
        chmod(folder + "/object", 0o400)
        #expect(WorkspaceInputs.stamp(folder + "/input") == staged)
        chmod(folder + "/input", 0o644)
        #expect(WorkspaceInputs.stamp(folder + "/input") != staged)
    }

    static let pipeline = """
    version: 1
    stages:
      produce:
        cmd: yes m | head -c 100000 > model.bin
        outs: [model.bin]
      tamper:
        cmd: echo tampered >> model.bin
        deps: [model.bin]
        always_run: true
    """

    /// `plumb checkout` gives the user a file of their own: writable, not the object, and editing it
    /// leaves the cache as it was.
    @Test func checkoutGivesAWritableFileIndependentOfTheCache() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          produce:
            cmd: yes m | head -c 100000 > model.bin
            outs: [model.bin]
        """)
        try h.scratch.write(".gitignore", ".plumb/\nmodel.bin\n")
        try h.scratch.commit("ignore the output")
        let run = try runProcess(plumbExecutable(), ["reconcile", "--quiet"], in: h.root)
        #expect(run.status == 0, "\(run.stderr)")
        let checkout = try runProcess(plumbExecutable(), ["checkout", "--quiet"], in: h.root)
        #expect(checkout.status == 0, "\(checkout.stderr)")
        let digest = try #require(try h.state()?.stages["produce"]?.outputs["model.bin"])
        let project = try h.project()
        let file = Self.status(h.root + "/model.bin"), object = Self.status(project.cache.objectPath(digest))
        #expect(file.st_ino != object.st_ino && file.st_nlink == 1 && file.st_mode & 0o200 != 0)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: h.root + "/model.bin"))
        try handle.write(contentsOf: Data("edited".utf8)); try handle.close()
        #expect(project.cache.verify(digest))
    }

    /// Root writes read-only files, so only an unprivileged Plumb links; as root the test runs Plumb as
    /// `nobody` (setpriv).
    static let unprivileged: [String]? = {
        if geteuid() != 0 { return [] }
        return FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") && getpwnam("nobody") != nil
            ? ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] : nil
    }()

    /// A stage that writes its hard-linked input fails, and the cache object stays as stored: when the
    /// output is stored by hard link (the producer's run), and when it comes back from the cache as the
    /// input of a later reconcile.
    @Test(.enabled(if: unprivileged != nil, "needs a non-root user or setpriv"))
    func aHardLinkedInputCannotBeWrittenThroughToTheCache() throws {
        let h = try PipelineHarness(pipeline: Self.pipeline)
        try h.scratch.write(".gitignore", ".plumb/\nmodel.bin\n")
        try h.scratch.commit("ignore the output")
        let home = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let prefix = Self.unprivileged ?? []
        // The files belong to whoever runs Plumb, and back to us to read them (libgit2 opens only a
        // repository its user owns).
        func own(_ owner: String) throws {
            guard !prefix.isEmpty else { return }
            for path in [h.root, home] { _ = try runProcess("/bin/chown", ["-R", owner, path], in: "/") }
        }
        func plumb(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try own("nobody:nogroup")
            defer { try? own("root:root") }
            return try runProcess(prefix.first ?? plumbExecutable(), Array(prefix.dropFirst()) + (prefix.isEmpty ? [] : [plumbExecutable()]) + arguments,
                                  in: h.root, environment: ["HOME": home])
        }
        let first = try plumb(["reconcile", "--json"])
        #expect(first.status == 1, "the tampering stage fails: \(first.stderr)")
        #expect(first.stderr.contains("Permission denied"), "\(first.stderr)")
        let summary = try #require(try jsonLines(first.stdout).last)
        let stored = (summary["cache"] as? [String: Any])?["stored"] as? [String: Any]
        #expect(stored?["hardlink"] != nil, "the output became the object: \(String(describing: summary["cache"]))")

        // The producer's record names the bytes it wrote, and the object still has exactly them.
        let digest = try #require(try h.state()?.stages["produce"]?.outputs["model.bin"])
        let project = try h.project()
        let object = project.cache.objectPath(digest)
        #expect(try SHA256Hasher.digest(fileAt: object) == digest)
        #expect(Self.status(object).st_mode & 0o222 == 0)

        // Again from the cache: the input is linked in read-only, and the write fails the same way.
        let second = try plumb(["reconcile", "--json", "tamper"])
        #expect(second.status == 1, "\(second.stderr)")
        #expect(second.stderr.contains("Permission denied"), "\(second.stderr)")
        let materialized = ((try jsonLines(second.stdout).last)?["cache"] as? [String: Any])?["materialized"] as? [String: Any]
        #expect(materialized?["hardlink"] != nil, "\(String(describing: materialized))")
        #expect(try SHA256Hasher.digest(fileAt: object) == digest)
        #expect(project.cache.verify(digest))
    }
}
