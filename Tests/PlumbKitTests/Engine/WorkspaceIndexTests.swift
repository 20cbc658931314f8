import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit

/// `WorkspaceIndex` reads the index files git and libgit2 write, writes ones both read back, and refuses
/// what it does not handle (then the workspace is checked out afresh).
@Suite struct WorkspaceIndexTests {
    private func repositoryWithFiles() throws -> ScratchRepository {
        let scratch = try ScratchRepository()
        try scratch.write("a.txt", "a\n")
        try scratch.write("dir/b.txt", "b\n")
        try scratch.write("dir.txt", "c\n")
        try scratch.write("run.sh", "echo\n", executable: true)
        try scratch.write(String(repeating: String(repeating: "n", count: 99) + "/", count: 30) + "deep.txt", "deep\n")
        symlink("a.txt", scratch.root + "/link")
        _ = try scratch.commit("files")
        return scratch
    }

    private func git(_ arguments: [String], _ directory: String) throws -> String {
        let result = try runProcess("/usr/bin/git", arguments, in: directory)
        #expect(result.status == 0, "git \(arguments): \(result.stderr)")
        return result.stdout
    }

    /// An index libgit2's checkout wrote is read entry by entry, and written back unchanged it is the same bytes.
    @Test func libgit2IndexRoundTripsByteForByte() throws {
        let scratch = try repositoryWithFiles()
        let folder = try temporaryFolder()
        defer { try? Repository.removeTree(folder) }
        _ = try scratch.repository.checkOutWorkspace(try scratch.head, at: folder + "/ws")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/ws/.git/index")))
        let index = try #require(WorkspaceIndex(bytes: bytes))
        let listed = try git(["ls-files", "--stage"], folder + "/ws").split(separator: "\n")
        #expect(index.count == listed.count)
        for i in 0..<index.count {
            #expect(listed[i].hasSuffix("\t" + index.path(i)))
            #expect(listed[i].hasPrefix(String(index.mode(i), radix: 8) + " " + ObjectID(index.id(i)).hex + " 0"))
        }
        #expect(index.encoded((0..<index.count).map { .kept($0) }) == bytes)
    }

    /// An index git wrote with an optional extension (the cache tree): read, and written again without it,
    /// with one entry made afresh; git and libgit2 both read the result, and `git status` stays clean.
    @Test func gitIndexWithExtensionIsReadAndRewritten() throws {
        let scratch = try repositoryWithFiles()
        _ = try git(["read-tree", "HEAD"], scratch.root)
        _ = try git(["update-index", "--refresh"], scratch.root)
        let path = scratch.root + "/.git/index"
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count > 0 && String(decoding: bytes, as: UTF8.self).contains("TREE"), "git wrote no cache tree")
        let index = try #require(WorkspaceIndex(bytes: bytes))
        let before = try git(["ls-files", "--stage"], scratch.root)
        let a = (0..<index.count).first { index.path($0) == "a.txt" }!
        var s = stat()
        #expect(lstat(scratch.root + "/a.txt", &s) == 0)
        let entries: [WorkspaceIndex.Entry] = (0..<index.count).map {
            $0 == a ? .made(path: "a.txt", mode: index.mode(a), id: index.id(a), stat: s) : .kept($0)
        }
        try index.write(entries, to: path)
        #expect(access(path + ".lock", F_OK) != 0)
        #expect(try git(["ls-files", "--stage"], scratch.root) == before)
        #expect(try git(["status", "--porcelain"], scratch.root) == "")
        #expect(throws: Never.self) { _ = try Repository(at: scratch.root).removeLFSPointers(from: scratch.root) }
        #expect(WorkspaceIndex(contentsOf: path)?.count == index.count)
    }

    /// Versions other than 2, and a lock held by someone else, are refused rather than guessed at.
    @Test func otherIndexesAndHeldLocksAreRefused() throws {
        let scratch = try repositoryWithFiles()
        let path = scratch.root + "/.git/index"
        let index = try #require(WorkspaceIndex(contentsOf: path))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(WorkspaceIndex(bytes: Array(bytes.dropLast(25))) == nil)
        #expect(FileManager.default.createFile(atPath: path + ".lock", contents: Data()))
        #expect(throws: PlumbError.self) { try index.write((0..<index.count).map { .kept($0) }, to: path) }
        unlink(path + ".lock")

        _ = try git(["update-index", "--index-version", "4"], scratch.root)
        #expect(WorkspaceIndex(contentsOf: path) == nil)
        _ = try git(["update-index", "--index-version", "2", "--assume-unchanged", "a.txt"], scratch.root)
        #expect(WorkspaceIndex(contentsOf: path) == nil)
    }
}
