import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbStore

/// Folder walks against folder records (`FolderTree`, `FolderLog`): the digest is always the flat
/// manifest's, a no-op reads nothing, a change reads only what changed, and every way a file can change
/// behind a stat cache's back is still seen.
@Suite struct FolderTreeTests {
    /// 3 folders of 4 files, one nested folder, a link.
    func dataset(_ folder: String) throws -> String {
        let dir = folder + "/data"
        for f in 0..<3 {
            for i in 0..<4 { try put(dir, "part-\(f)/file-\(i).txt", "folder \(f) file \(i)\n") }
        }
        try put(dir, "part-1/deep/inner.bin", "inner", executable: true)
        symlink("part-0/file-0.txt", dir + "/latest")
        return dir
    }

    /// The digest a cache that knows nothing computes: the reference every walk must agree with.
    func fresh(_ dir: String) throws -> Digest {
        let scratch = try temporaryFolder()
        return try ContentDigester(statCache: eagerStatCache(scratch)).manifest(ofDirectory: dir).digest
    }

    func reloaded(_ cache: StatCache, racyWindow: Double = -1) throws -> ContentDigester {
        try cache.save()
        return ContentDigester(statCache: StatCache(file: cache.file, racyWindow: racyWindow))
    }

    @Test func aNoOpWalkReadsNothingAndTheDigestIsTheManifests() throws {
        let folder = try temporaryFolder()
        let dir = try dataset(folder)
        let digester = ContentDigester(statCache: eagerStatCache(folder))
        let first = try digester.digest(of: dir)
        #expect(first == (try fresh(dir)))
        #expect(digester.statCache.filesHashed == 13)
        #expect(try digester.digest(of: dir) == first)
        #expect(digester.statCache.filesHashed == 13, "the same process walks again without reading")
        let next = try reloaded(digester.statCache)
        #expect(try next.digest(of: dir) == first)
        #expect(next.statCache.filesHashed == 0, "a later process trusts the saved records")
    }

    @Test func oneChangedFileIsReadAloneAndTheLogGrowsInPlace() throws {
        let folder = try temporaryFolder()
        let dir = try dataset(folder)
        let cache = eagerStatCache(folder)
        let before = try ContentDigester(statCache: cache).digest(of: dir)
        try cache.save()
        let log = folder + "/stat-cache.folders"
        let inode = try #require(FileStamp.of(path: log))
        let size = try FileManager.default.attributesOfItem(atPath: log)[.size] as! Int

        try put(dir, "part-2/file-3.txt", "changed\n")
        let next = ContentDigester(statCache: StatCache(file: cache.file, racyWindow: -1))
        let after = try next.digest(of: dir)
        #expect(after != before)
        #expect(after == (try fresh(dir)))
        #expect(next.statCache.filesHashed == 1)
        try next.statCache.save()
        let grown = try FileManager.default.attributesOfItem(atPath: log)[.size] as! Int
        #expect(FileStamp.of(path: log)?.inode == inode.inode && grown > size, "appended to, not replaced")
        #expect(grown - size < size, "only the changed folder and the root were appended")
        let third = ContentDigester(statCache: StatCache(file: cache.file, racyWindow: -1))
        #expect(try third.digest(of: dir) == after)
        #expect(third.statCache.filesHashed == 0)
    }

    @Test func aFileHashedWithinTheRacyWindowIsReadAgain() throws {
        let folder = try temporaryFolder()
        let dir = try dataset(folder)
        // The real window: every file was written just now, so none is trusted yet.
        let digester = ContentDigester(statCache: StatCache(file: URL(fileURLWithPath: folder + "/stat-cache"), racyWindow: 2))
        let first = try digester.digest(of: dir)
        #expect(try digester.digest(of: dir) == first)
        #expect(digester.statCache.filesHashed == 26, "racy entries are re-read, not trusted")
        // A write that keeps size and mtime, inside the window: seen because the entry was not trusted.
        let path = dir + "/part-0/file-1.txt"
        let old = try #require(FileStamp.of(path: path))
        try Data("folder 0 file X\n".utf8).write(to: URL(fileURLWithPath: path))
        var times = [timespec(tv_sec: Int(old.mtimeNanoseconds / 1_000_000_000), tv_nsec: Int(old.mtimeNanoseconds % 1_000_000_000)),
                     timespec(tv_sec: Int(old.mtimeNanoseconds / 1_000_000_000), tv_nsec: Int(old.mtimeNanoseconds % 1_000_000_000))]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        #expect(try digester.digest(of: dir) == (try fresh(dir)))
        #expect(try digester.digest(of: dir) != first)
    }

    @Test func aFileReplacedByRenameWithTheSameSizeAndMtimeIsSeen() throws {
        let folder = try temporaryFolder()
        let dir = try dataset(folder)
        let digester = ContentDigester(statCache: eagerStatCache(folder))
        let before = try digester.digest(of: dir)
        let path = dir + "/part-1/file-2.txt"
        try put(folder, "incoming.txt", "folder 1 file Z\n")
        #expect(try runProcess("/usr/bin/touch", ["-r", path, folder + "/incoming.txt"], in: folder).status == 0)
        #expect(rename(folder + "/incoming.txt", path) == 0)
        let after = try reloaded(digester.statCache).digest(of: dir)
        #expect(after != before)
        #expect(after == (try fresh(dir)))
    }

    @Test func mtimePreservingCopiesAreSeen() throws {
        let folder = try temporaryFolder()
        let dir = try dataset(folder)
        let digester = ContentDigester(statCache: eagerStatCache(folder))
        var seen = [try digester.digest(of: dir)]
        // cp -p over an existing file of the same size: same inode, mtime copied from the source.
        try put(folder, "same-size.txt", "folder 0 file Q\n")
        let target = dir + "/part-0/file-2.txt"
        let old = try #require(FileStamp.of(path: target))
        #expect(try runProcess("/usr/bin/touch", ["-r", target, folder + "/same-size.txt"], in: folder).status == 0)
        #expect(try runProcess("/bin/cp", ["-p", folder + "/same-size.txt", target], in: folder).status == 0)
        #expect(FileStamp.of(path: target)?.mtimeNanoseconds == old.mtimeNanoseconds)
        var walker = try reloaded(digester.statCache)
        seen.append(try walker.digest(of: dir))
        #expect(seen.last == (try fresh(dir)))
        // An edit in place whose mtime is put back with touch -r.
        try put(folder, "reference", "x")
        let edited = dir + "/part-2/file-0.txt"
        #expect(try runProcess("/usr/bin/touch", ["-r", edited, folder + "/reference"], in: folder).status == 0)
        try Data("folder 2 file W\n".utf8).write(to: URL(fileURLWithPath: edited))
        #expect(try runProcess("/usr/bin/touch", ["-r", folder + "/reference", edited], in: folder).status == 0)
        walker = try reloaded(walker.statCache)
        seen.append(try walker.digest(of: dir))
        #expect(seen.last == (try fresh(dir)))
        #expect(Set(seen).count == 3)
    }

    @Test func aFolderReplacedByAFileAndBackIsSeen() throws {
        let folder = try temporaryFolder()
        let dir = try dataset(folder)
        var digester = ContentDigester(statCache: eagerStatCache(folder))
        var seen = [try digester.digest(of: dir)]
        try FileManager.default.removeItem(atPath: dir + "/part-1/deep")
        try put(dir, "part-1/deep", "inner")
        digester = try reloaded(digester.statCache)
        seen.append(try digester.digest(of: dir))
        #expect(seen.last == (try fresh(dir)))
        try FileManager.default.removeItem(atPath: dir + "/part-1/deep")
        try put(dir, "part-1/deep/inner.bin", "inner")
        digester = try reloaded(digester.statCache)
        seen.append(try digester.digest(of: dir))
        #expect(seen.last == (try fresh(dir)))
        // A link turned into the file it pointed to, and an execute bit.
        try FileManager.default.removeItem(atPath: dir + "/latest")
        try put(dir, "latest", "folder 0 file 0\n")
        chmod(dir + "/part-2/file-1.txt", 0o755)
        digester = try reloaded(digester.statCache)
        seen.append(try digester.digest(of: dir))
        #expect(seen.last == (try fresh(dir)))
        #expect(Set(seen).count == 4)
    }

    @Test func aDamagedOrTornLogIsIgnored() throws {
        let folder = try temporaryFolder()
        let dir = try dataset(folder)
        let cache = eagerStatCache(folder)
        let digest = try ContentDigester(statCache: cache).digest(of: dir)
        try cache.save()
        let log = URL(fileURLWithPath: folder + "/stat-cache.folders")
        var bytes = [UInt8](try Data(contentsOf: log))
        // Flip one byte of a file's digest: its record fails the checksum and its folder is read again.
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: log)
        let damaged = ContentDigester(statCache: StatCache(file: cache.file, racyWindow: -1))
        #expect(try damaged.digest(of: dir) == digest)
        // A torn append: the frame runs past the end of the file.
        try Data(bytes.prefix(bytes.count - 5)).write(to: log)
        let torn = ContentDigester(statCache: StatCache(file: cache.file, racyWindow: -1))
        #expect(try torn.digest(of: dir) == digest)
        try torn.statCache.save()
        let healed = ContentDigester(statCache: StatCache(file: cache.file, racyWindow: -1))
        #expect(try healed.digest(of: dir) == digest)
        #expect(healed.statCache.filesHashed == 0, "the save wrote sound records again")
    }

    @Test func aFileDepInsideAFolderDepAndTheFolderTwiceAreEachWalkedOnce() throws {
        let folder = try temporaryFolder()
        let dir = try dataset(folder)
        let digester = ContentDigester(statCache: eagerStatCache(folder))
        let all = try digester.digests(of: [dir, dir + "/", dir + "/part-0/file-0.txt"])
        #expect(all[dir] == (try fresh(dir)) && all[dir + "/"] == all[dir])
        #expect(all[dir + "/part-0/file-0.txt"] == SHA256Hasher.digest("folder 0 file 0\n"))
        #expect(digester.statCache.filesHashed <= 14)
    }
}
