import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct StatCacheTests {
    @Test func anUnchangedFileIsReadOnce() throws {
        let folder = try temporaryFolder()
        try put(folder, "data.csv", "a,b\n1,2\n")
        let cache = eagerStatCache(folder)
        let first = try cache.digest(ofFileAt: folder + "/data.csv")
        #expect(first == SHA256Hasher.digest("a,b\n1,2\n"))
        #expect(try cache.digest(ofFileAt: folder + "/data.csv") == first)
        #expect(cache.filesHashed == 1)
    }

    /// The stat cache is shared by the threads that hash and the stages that run side by side
    /// (which is why it may be `@unchecked Sendable`): many threads at once get every digest right,
    /// and each file is read once.
    @Test func manyThreadsHashingAtOnceGetEveryDigestRightAndReadEachFileOnce() throws {
        let folder = try temporaryFolder()
        let count = 200
        for i in 0..<count { try put(folder, "f\(i).txt", "content \(i)\n") }
        let cache = eagerStatCache(folder)
        let wrong = Locked(0)
        DispatchQueue.concurrentPerform(iterations: count * 4) { n in
            let i = n % count
            let digest = try? cache.digest(ofFileAt: folder + "/f\(i).txt")
            if digest != SHA256Hasher.digest("content \(i)\n") { wrong.withLock { $0 += 1 } }
        }
        #expect(wrong.withLock { $0 } == 0)
        #expect(cache.count == count)
        #expect(cache.filesHashed <= count * 4 && cache.filesHashed >= count)
    }

    @Test func aChangedFileIsReadAgain() throws {
        let folder = try temporaryFolder()
        try put(folder, "data.csv", "one\n")
        let cache = eagerStatCache(folder)
        _ = try cache.digest(ofFileAt: folder + "/data.csv")
        // Same size, and mtime set back to what it was: only the ctime (and maybe inode) tells.
        let before = FileStamp.of(path: folder + "/data.csv")!
        try put(folder, "data.csv", "two\n")
        var times = [timespec(tv_sec: Int(before.mtimeNanoseconds / 1_000_000_000), tv_nsec: Int(before.mtimeNanoseconds % 1_000_000_000))]
        times.append(times[0])
        utimensat(AT_FDCWD, folder + "/data.csv", times, 0)
        #expect(try cache.digest(ofFileAt: folder + "/data.csv") == SHA256Hasher.digest("two\n"))
        #expect(cache.filesHashed == 2)
    }

    @Test func aFileHashedRightAfterItWasWrittenIsRehashedNextTime() throws {
        // The racy-git rule: a write in the same timestamp tick as the hash could go unnoticed.
        let folder = try temporaryFolder()
        try put(folder, "out.bin", "fresh")
        let cache = StatCache(file: URL(fileURLWithPath: folder + "/stat-cache"))
        _ = try cache.digest(ofFileAt: folder + "/out.bin")
        _ = try cache.digest(ofFileAt: folder + "/out.bin")
        #expect(cache.filesHashed == 2)
        #expect(cache.cachedDigest(forFileAt: folder + "/out.bin") == nil)
    }

    @Test func persistsAndReloads() throws {
        let folder = try temporaryFolder()
        try put(folder, "a.txt", "alpha")
        try put(folder, "b.txt", "beta")
        let cache = eagerStatCache(folder)
        _ = try cache.digest(ofFileAt: folder + "/a.txt")
        cache.record(SHA256Hasher.digest("beta"), forFileAt: folder + "/b.txt")
        try cache.save()

        let reloaded = StatCache(file: cache.file, racyWindow: -1)
        #expect(reloaded.count == 2)
        #expect(try reloaded.digest(ofFileAt: folder + "/a.txt") == SHA256Hasher.digest("alpha"))
        #expect(try reloaded.digest(ofFileAt: folder + "/b.txt") == SHA256Hasher.digest("beta"))
        #expect(reloaded.filesHashed == 0)
    }

    @Test func savingDropsEntriesOfRemovedFiles() throws {
        let folder = try temporaryFolder()
        try put(folder, "gone.txt", "x")
        let cache = eagerStatCache(folder)
        _ = try cache.digest(ofFileAt: folder + "/gone.txt")
        unlink(folder + "/gone.txt")
        try cache.save()
        #expect(StatCache(file: cache.file).count == 0)
    }

    @Test(arguments: ["truncated", "flipped", "garbage", "empty"])
    func aCorruptCacheFileIsIgnored(damage: String) throws {
        let folder = try temporaryFolder()
        try put(folder, "a.txt", "alpha")
        let cache = eagerStatCache(folder)
        _ = try cache.digest(ofFileAt: folder + "/a.txt")
        try cache.save()
        var bytes = [UInt8](try Data(contentsOf: cache.file))
        switch damage {
        case "truncated": bytes.removeLast(10)
        case "flipped": bytes[bytes.count / 2] ^= 0xff
        case "garbage": bytes = Array("not a cache".utf8)
        default: bytes = []
        }
        try Data(bytes).write(to: cache.file)
        let reloaded = StatCache(file: cache.file, racyWindow: -1)
        #expect(reloaded.count == 0)
        #expect(try reloaded.digest(ofFileAt: folder + "/a.txt") == SHA256Hasher.digest("alpha"))
    }

    @Test func aMissingFileThrows() throws {
        let folder = try temporaryFolder()
        #expect(throws: PlumbError.self) { try eagerStatCache(folder).digest(ofFileAt: folder + "/nope") }
    }
}
