import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct ContentDigesterTests {
    func tree(_ folder: String) throws -> String {
        let dir = folder + "/model"
        try put(dir, "weights.bin", "w1")
        try put(dir, "bin/run.sh", "#!/bin/sh\necho hi\n", executable: true)
        try put(dir, "nested/deep/config.json", "{}")
        try FileManager.default.createDirectory(atPath: dir + "/empty/inner", withIntermediateDirectories: true)
        symlink("weights.bin", dir + "/latest")
        return dir
    }

    @Test func manifestListsFilesLinksAndExecutableBitsSorted() throws {
        let folder = try temporaryFolder()
        let dir = try tree(folder)
        let digester = ContentDigester(statCache: eagerStatCache(folder))
        let manifest = try digester.manifest(ofDirectory: dir)
        #expect(manifest.entries == [
            .init(path: "bin/run.sh", digest: SHA256Hasher.digest("#!/bin/sh\necho hi\n"), executable: true, symlink: nil),
            .init(path: "latest", digest: nil, executable: false, symlink: "weights.bin"),
            .init(path: "nested/deep/config.json", digest: SHA256Hasher.digest("{}"), executable: false, symlink: nil),
            .init(path: "weights.bin", digest: SHA256Hasher.digest("w1"), executable: false, symlink: nil),
        ])
        #expect(try digester.digest(of: dir) == manifest.digest)
        #expect(try DirectoryManifest(canonicalEncoding: manifest.canonicalEncoding) == manifest)
    }

    @Test func directoryDigestFollowsContentNamesModesAndLinks() throws {
        let folder = try temporaryFolder()
        let dir = try tree(folder)
        let digester = ContentDigester(statCache: eagerStatCache(folder))
        var seen = Set([try digester.digest(of: dir)])

        try put(dir, "nested/deep/config.json", "{\"a\":1}")
        #expect(seen.insert(try digester.digest(of: dir)).inserted, "content change")
        chmod(dir + "/weights.bin", 0o755)
        #expect(seen.insert(try digester.digest(of: dir)).inserted, "executable bit")
        unlink(dir + "/latest"); symlink("bin/run.sh", dir + "/latest")
        #expect(seen.insert(try digester.digest(of: dir)).inserted, "link target")
        try FileManager.default.moveItem(atPath: dir + "/weights.bin", toPath: dir + "/weights2.bin")
        #expect(seen.insert(try digester.digest(of: dir)).inserted, "rename")
        try FileManager.default.createDirectory(atPath: dir + "/another-empty", withIntermediateDirectories: true)
        #expect(!seen.insert(try digester.digest(of: dir)).inserted, "empty folders are ignored")
    }

    @Test func sameContentElsewhereHasTheSameDigest() throws {
        let folder = try temporaryFolder()
        try put(folder, "a/x.txt", "x"); try put(folder, "a/y/z.txt", "z")
        try put(folder, "b/x.txt", "x"); try put(folder, "b/y/z.txt", "z")
        let digester = ContentDigester(statCache: eagerStatCache(folder))
        symlink(folder + "/a/x.txt", folder + "/linked.txt")
        let digests = try digester.digests(of: [folder + "/a", folder + "/b", folder + "/a/x.txt", folder + "/linked.txt"])
        #expect(digests[folder + "/a"] == digests[folder + "/b"])
        #expect(digests[folder + "/a/x.txt"] == SHA256Hasher.digest("x"))
        // A path given directly is followed: a dep linked into a workspace stands for its target.
        #expect(digests[folder + "/linked.txt"] == SHA256Hasher.digest("x"))
        // a/x.txt, asked for twice, is read once; the link is a path of its own in the stat cache.
        #expect(digester.statCache.filesHashed == 5)
    }

    @Test func aMissingPathThrowsDoesNotExist() throws {
        let folder = try temporaryFolder()
        let digester = ContentDigester(statCache: eagerStatCache(folder))
        do {
            _ = try digester.digest(of: folder + "/missing")
            Issue.record("expected an error")
        } catch let e as PlumbError {
            #expect(e.message.hasSuffix("does not exist"))
        }
    }

    @Test func tenThousandSmallFilesAreFastAndCachedTheSecondTime() throws {
        let folder = try temporaryFolder()
        let dir = folder + "/many"
        let block = String(repeating: "x", count: 1000)
        for i in 0..<10_000 {
            if i % 100 == 0 { try FileManager.default.createDirectory(atPath: dir + "/d\(i / 100)", withIntermediateDirectories: true) }
            let fd = open(dir + "/d\(i / 100)/f\(i)", O_WRONLY | O_CREAT, 0o644)
            _ = write(fd, "\(i)" + block, 1024)
            close(fd)
        }
        let statCache = eagerStatCache(folder)
        let digester = ContentDigester(statCache: statCache)
        let clock = ContinuousClock()
        var first: Digest?
        let cold = clock.measure { first = try? digester.digest(of: dir) }
        #expect(first != nil)
        #expect(statCache.filesHashed == 10_000)
        var second: Digest?
        let warm = clock.measure { second = try? digester.digest(of: dir) }
        #expect(second == first)
        #expect(statCache.filesHashed == 10_000)
        // Generous bounds for a debug build on a shared 2-core machine.
        #expect(cold < .seconds(10))
        #expect(warm < .seconds(5))
        print("10,000 files: cold \(cold), warm \(warm)")
    }
}
