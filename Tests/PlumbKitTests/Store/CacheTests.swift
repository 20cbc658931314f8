import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct CacheTests {
    struct Fixture {
        let folder: String
        let statCache: StatCache
        let cache: Cache
        init() throws {
            folder = try temporaryFolder()
            statCache = eagerStatCache(folder)
            cache = try Cache(root: URL(fileURLWithPath: folder + "/.plumb/cache"), digester: ContentDigester(statCache: statCache))
        }
    }

    func sample(_ dir: String) throws {
        try put(dir, "model.pkl", "weights")
        try put(dir, "bin/predict", "#!/bin/sh\necho ok\n", executable: true)
        try put(dir, "reports/a/b/metrics.json", "{\"accuracy\": 0.8}")
        try put(dir, "copy.pkl", "weights")
        symlink("model.pkl", dir + "/current")
        symlink("/nonexistent/outside", dir + "/dangling")
    }

    @Test func directoryRoundTrip() throws {
        let f = try Fixture()
        let source = f.folder + "/out"
        try sample(source)
        let digest = try f.cache.store(source)
        #expect(digest == (try f.cache.digester.digest(of: source)))
        #expect(f.cache.isDirectory(digest))
        #expect(f.cache.contains(digest))
        #expect(f.cache.verify(digest))

        let target = f.folder + "/restored/out"
        try put(f.folder, "restored/out/stale.txt", "left over")
        try f.cache.materialize(digest, at: target)
        #expect(try f.cache.digester.digest(of: target) == digest)
        #expect(!FileManager.default.fileExists(atPath: target + "/stale.txt"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: target + "/current") == "model.pkl")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: target + "/dangling") == "/nonexistent/outside")
        #expect(FileManager.default.isExecutableFile(atPath: target + "/bin/predict"))
        #expect(try String(contentsOfFile: target + "/reports/a/b/metrics.json", encoding: .utf8) == "{\"accuracy\": 0.8}")
        // A copy, not a link into the cache: writing it must not touch the object.
        var s = stat(); stat(target + "/model.pkl", &s)
        #expect(s.st_nlink == 1)
        #expect(try f.cache.manifest(digest)?.entries.count == 6)
        #expect(try f.cache.manifest(SHA256Hasher.digest("weights")) == nil)
    }

    @Test func fileRoundTripReplacesWhatIsThere() throws {
        let f = try Fixture()
        try put(f.folder, "model.pkl", "trained")
        let digest = try f.cache.store(f.folder + "/model.pkl")
        #expect(digest == SHA256Hasher.digest("trained"))
        #expect(!f.cache.isDirectory(digest))
        try put(f.folder, "work/model.pkl/oops", "a folder where the file goes")
        try f.cache.materialize(digest, at: f.folder + "/work/model.pkl")
        #expect(try String(contentsOfFile: f.folder + "/work/model.pkl", encoding: .utf8) == "trained")
    }

    @Test func storingHashesEachFileOnceAndNotAgain() throws {
        let f = try Fixture()
        try sample(f.folder + "/out")
        let digest = try f.cache.store(f.folder + "/out")
        #expect(f.statCache.filesHashed == 4)
        // The digests recorded while copying serve the planner and a second store without reading.
        #expect(try f.cache.digester.digest(of: f.folder + "/out") == digest)
        #expect(try f.cache.store(f.folder + "/out") == digest)
        #expect(f.statCache.filesHashed == 4)
    }

    @Test func aCorruptObjectIsDetectedRemovedAndReported() throws {
        let f = try Fixture()
        try sample(f.folder + "/out")
        let digest = try f.cache.store(f.folder + "/out")
        let weights = SHA256Hasher.digest("weights")
        let object = f.cache.objectPath(weights)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: object)))
        bytes[0] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: object))
        #expect(!f.cache.verify(digest))

        try put(f.folder, "restored/out/keep.txt", "untouched")
        #expect(throws: CacheError.self) { try f.cache.materialize(digest, at: f.folder + "/restored/out") }
        do { try f.cache.materialize(digest, at: f.folder + "/restored/out") } catch let CacheError.missing(d) {
            #expect(d == weights, "the corrupt object was removed")
        } catch { Issue.record("unexpected \(error)") }
        #expect(!FileManager.default.fileExists(atPath: object))
        #expect(!f.cache.contains(digest))
        // The target is left as it was, and no staging folder is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.folder + "/restored/out") == ["keep.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.folder + "/restored") == ["out"])

        // Storing again (the stage reran) repairs the cache.
        try put(f.folder, "out/model.pkl", "weights")
        #expect(try f.cache.store(f.folder + "/out") == digest)
        #expect(f.cache.verify(digest))
    }

    @Test func aCorruptSingleFileObjectThrowsCorrupt() throws {
        let f = try Fixture()
        let digest = try f.cache.storeData(Data("log line\n".utf8))
        try Data("log lime\n".utf8).write(to: URL(fileURLWithPath: f.cache.objectPath(digest)))
        do {
            try f.cache.materialize(digest, at: f.folder + "/log.txt")
            Issue.record("expected corrupt")
        } catch let CacheError.corrupt(d) {
            #expect(d == digest)
        }
        #expect(!f.cache.contains(digest))
        #expect(!FileManager.default.fileExists(atPath: f.folder + "/log.txt"))
    }

    @Test func dataRoundTripAndErrors() throws {
        let f = try Fixture()
        let digest = try f.cache.storeData(Data("{\"run\": 1}\n".utf8))
        #expect(try f.cache.data(digest) == Data("{\"run\": 1}\n".utf8))
        #expect(try f.cache.storeData(Data("{\"run\": 1}\n".utf8)) == digest)
        let absent = SHA256Hasher.digest("absent")
        #expect(!f.cache.contains(absent))
        #expect(throws: CacheError.self) { try f.cache.data(absent) }
        #expect(throws: CacheError.self) { try f.cache.materialize(absent, at: f.folder + "/x") }

        try Data("tampered".utf8).write(to: URL(fileURLWithPath: f.cache.objectPath(digest)))
        #expect(throws: CacheError.self) { try f.cache.data(digest) }
        #expect(!f.cache.contains(digest))
    }

    @Test func anEmptyDirectoryRoundTrips() throws {
        let f = try Fixture()
        try FileManager.default.createDirectory(atPath: f.folder + "/empty/sub", withIntermediateDirectories: true)
        let digest = try f.cache.store(f.folder + "/empty")
        #expect(f.cache.contains(digest))
        try f.cache.materialize(digest, at: f.folder + "/again")
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.folder + "/again") == [])
    }

    @Test func staleTemporaryFilesAreRemovedOnOpen() throws {
        let f = try Fixture()
        let tmp = f.folder + "/.plumb/cache/tmp"
        try put(tmp, "old-partial", "half an obj")
        try put(tmp, "young-partial", "another Plumb is writing this")
        let hourAgo = timespec(tv_sec: time(nil) - 7200, tv_nsec: 0)
        utimensat(AT_FDCWD, tmp + "/old-partial", [hourAgo, hourAgo], 0)
        _ = try Cache(root: f.cache.root, digester: f.cache.digester)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp) == ["young-partial"])
    }

    @Test func objectsAreNamedByTheirContent() throws {
        let f = try Fixture()
        try sample(f.folder + "/out")
        let digest = try f.cache.store(f.folder + "/out")
        // Every object file, manifest or content, hashes to its own name: the whole cache can be checked.
        for kind in ["objects", "manifests"] {
            let base = f.folder + "/.plumb/cache/" + kind
            for shard in try FileManager.default.contentsOfDirectory(atPath: base) {
                for rest in try FileManager.default.contentsOfDirectory(atPath: base + "/" + shard) {
                    #expect(try SHA256Hasher.digest(fileAt: base + "/" + shard + "/" + rest).hex == shard + rest)
                }
            }
        }
        #expect(FileManager.default.fileExists(atPath: f.cache.manifestPath(digest)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.folder + "/.plumb/cache/tmp") == [])
    }
}
