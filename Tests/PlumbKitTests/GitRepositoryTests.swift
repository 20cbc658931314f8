import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct GitRepositoryTests {
    @Test func commitsAndReadsBackTreesWithoutTheIndex() throws {
        let scratch = try ScratchRepository()
        try scratch.write("spec/a.txt", "hello\n")
        let first = try scratch.commit("first")
        let repo = scratch.repository
        #expect(try repo.file(at: "spec/a.txt", in: first) == Data("hello\n".utf8))
        #expect(try repo.entry(at: "missing", in: first) == nil)

        let tree = try repo.tree(updating: first, with: [("history/dev/state.json", Data("{}\n".utf8))])
        let second = try repo.createCommit(tree: tree, parents: [first], message: "plumb(dev): x", author: repo.defaultSignature())
        #expect(try repo.updateReference("refs/heads/main", to: second, expected: first, message: "test"))
        // Compare-and-swap: the branch no longer points at `first`.
        #expect(try !repo.updateReference("refs/heads/main", to: first, expected: first, message: "test"))
        #expect(try repo.blobs(under: "", in: second).map(\.path) == ["history/dev/state.json", "spec/a.txt"])
        #expect(try repo.isAncestor(first, of: second))
    }

    @Test func checkoutIntoAFolderLeavesTheWorkingTreeAlone() throws {
        let scratch = try ScratchRepository()
        try scratch.write("spec/a.txt", "one\n")
        let commit = try scratch.commit()
        try scratch.write("spec/a.txt", "edited\n")
        let target = try temporaryFolder()
        try scratch.repository.checkout(commit, into: target)
        #expect(try String(contentsOfFile: target + "/spec/a.txt", encoding: .utf8) == "one\n")
        #expect(try scratch.read("spec/a.txt") == "edited\n")
        #expect(try scratch.repository.workingTreeChanges(against: commit, paths: ["spec"]) == ["spec/a.txt"])
    }
}
