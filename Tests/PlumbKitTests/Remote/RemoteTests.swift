import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// A clone of a scratch origin in its own temporary folder, removed when the value goes away.
final class ScratchClone {
    let root: String
    let repository: Repository

    init(of url: String) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("plumb-clone-\(UUID().uuidString)").path
        repository = try Repository.clone(url: url, to: root)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func write(_ path: String, _ content: String) throws {
        let url = URL(fileURLWithPath: root + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(content.utf8).write(to: url)
    }

    func read(_ path: String) throws -> String { try String(contentsOfFile: root + "/" + path, encoding: .utf8) }

    @discardableResult
    func commit(_ message: String = "change") throws -> ObjectID {
        try repository.commitWorkingTree(message: message, author: Signature(name: "Test", email: "test@example.com"))
    }

    var head: ObjectID { get throws { try repository.head().commit! } }

    func pushMain() throws -> PushResult { try repository.push(refspecs: ["refs/heads/main:refs/heads/main"]) }
}

@Suite struct RemoteTests {
    /// A bare origin holding one commit (spec/a.txt = "one"), and two clones of it.
    func origin() throws -> (origin: ScratchRepository, a: ScratchClone, b: ScratchClone) {
        let origin = try ScratchRepository(bare: true)
        let seed = try ScratchRepository()
        try seed.write("spec/a.txt", "one\n")
        try seed.write("spec/b.txt", "b\n")
        try seed.commit("first")
        try seed.repository.addRemote(name: "origin", url: origin.root)
        #expect(try seed.repository.push(refspecs: ["refs/heads/main:refs/heads/main"]) == .pushed)
        let a = try ScratchClone(of: origin.root)
        let b = try ScratchClone(of: "file://" + origin.root)
        return (origin, a, b)
    }

    @Test func pushFetchAndFastForwardTheCheckedOutBranch() throws {
        let (origin, a, b) = try origin()
        let first = try a.head
        #expect(try b.head == first)
        #expect(try b.read("spec/a.txt") == "one\n")

        try a.write("spec/a.txt", "two\n")
        try a.write("spec/new.txt", "new\n")
        let second = try a.commit("second")
        #expect(try a.pushMain() == .pushed)
        #expect(try origin.repository.referenceTarget("refs/heads/main") == second)

        #expect(try b.repository.fetch(branch: "main") == second)
        #expect(try b.repository.referenceTarget("refs/remotes/origin/main") == second)
        // Fetching moves only the tracking ref.
        #expect(try b.head == first)

        #expect(try b.repository.fastForward(branch: "main", to: second) == .fastForwarded(from: first, to: second))
        #expect(try b.head == second)
        #expect(try b.read("spec/a.txt") == "two\n")
        #expect(try b.read("spec/new.txt") == "new\n")
        // Index and working tree both match the new commit: nothing shows as changed.
        #expect(try b.repository.workingTreeChanges(against: second, paths: ["spec"]) == [])
        #expect(try b.repository.fastForward(branch: "main", to: second) == .upToDate)
        #expect(try b.repository.fastForward(branch: "main", to: first) == .upToDate)
    }

    /// A Plumb killed mid-move leaves libgit2's `index.lock`; the next move removes it, knowing from
    /// the turn file that its holder died. One it cannot account for (a live `git add`) stays.
    @Test func anIndexLockLeftByAKilledPlumbIsRemovedAndAnyOtherIsLeftAlone() throws {
        let (origin, a, b) = try origin()
        defer { withExtendedLifetime(origin) {} }
        let first = try b.head
        try a.write("spec/a.txt", "two\n")
        let second = try a.commit("second")
        #expect(try a.pushMain() == .pushed)
        #expect(try b.repository.fetch(branch: "main") == second)

        let git = b.root + "/.git/"
        #expect(FileManager.default.createFile(atPath: git + "index.lock", contents: Data()))
        #expect(throws: (any Error).self) { try b.repository.fastForward(branch: "main", to: second) }
        #expect(FileManager.default.fileExists(atPath: git + "index.lock"))
        #expect(try b.head == first)

        try Data("4194303\n".utf8).write(to: URL(fileURLWithPath: git + "plumb-worktree.flock"))
        #expect(try b.repository.fastForward(branch: "main", to: second) == .fastForwarded(from: first, to: second))
        #expect(!FileManager.default.fileExists(atPath: git + "index.lock"))
        #expect(try b.read("spec/a.txt") == "two\n")
        #expect(try b.repository.workingTreeChanges(against: second, paths: ["spec"]) == [])
        // Released: the file is empty again, so a later lock is not taken for a dead Plumb's.
        #expect(try Data(contentsOf: URL(fileURLWithPath: git + "plumb-worktree.flock")).isEmpty)
    }

    @Test func fetchOfAMissingBranchIsNil() throws {
        let (origin, _, b) = try origin()
        // The origin's folder goes when its value does: keep it for the whole test.
        defer { withExtendedLifetime(origin) {} }
        #expect(try b.repository.fetch(branch: "no-such-branch") == nil)
        #expect(throws: GitError.self) { try b.repository.referenceTarget("refs/remotes/origin/no-such-branch") }
    }

    @Test func pushIsRejectedWhenTheOtherClonePushedFirstAndFastForwardRefusesDivergence() throws {
        let (origin, a, b) = try origin()
        try a.write("spec/a.txt", "from a\n")
        let fromA = try a.commit("a")
        #expect(try a.pushMain() == .pushed)

        try b.write("spec/b.txt", "from b\n")
        let fromB = try b.commit("b")
        guard case .rejected(let reason) = try b.pushMain() else {
            Issue.record("push of a diverged branch was not rejected"); return
        }
        #expect(!reason.isEmpty)
        #expect(try origin.repository.referenceTarget("refs/heads/main") == fromA)

        #expect(try b.repository.fetch(branch: "main") == fromA)
        // With the remote's commit now known locally, libgit2 can tell it is not an ancestor.
        guard case .rejected(let known) = try b.pushMain() else {
            Issue.record("push of a diverged branch was not rejected after fetching"); return
        }
        #expect(known.contains("fast"))
        #expect(try b.repository.fastForward(branch: "main", to: fromA) == .diverged)
        #expect(try b.head == fromB)
        #expect(try b.read("spec/b.txt") == "from b\n")
    }

    @Test func fastForwardRefusesToOverwriteLocalChanges() throws {
        let (origin, a, b) = try origin()
        defer { withExtendedLifetime(origin) {} }
        let first = try a.head
        try a.write("spec/a.txt", "two\n")
        let second = try a.commit("second")
        #expect(try a.pushMain() == .pushed)
        let tip = try #require(try b.repository.fetch(branch: "main"))
        #expect(tip == second)

        try b.write("spec/a.txt", "my uncommitted edit\n")
        do {
            _ = try b.repository.fastForward(branch: "main", to: tip)
            Issue.record("fast-forward overwrote a local change")
        } catch let error as PlumbError {
            #expect(error.message.contains("local changes would be overwritten"))
            #expect(error.message.contains("spec/a.txt"))
            #expect(error.hint?.contains("commit or stash") == true)
        }
        // Nothing moved: the branch, and the edit.
        #expect(try b.head == first)
        #expect(try b.read("spec/a.txt") == "my uncommitted edit\n")

        // An edit the new commit does not touch is carried along, as git does.
        try b.write("spec/a.txt", "one\n")
        try b.write("spec/b.txt", "unrelated edit\n")
        #expect(try b.repository.fastForward(branch: "main", to: tip) == .fastForwarded(from: first, to: second))
        #expect(try b.read("spec/a.txt") == "two\n")
        #expect(try b.read("spec/b.txt") == "unrelated edit\n")
    }

    @Test func fastForwardInABareRepositoryMovesOnlyTheRef() throws {
        let (origin, a, _) = try origin()
        let mirror = try ScratchRepository(bare: true)
        try mirror.repository.addRemote(name: "upstream", url: origin.root)
        let tip = try #require(try mirror.repository.fetch(remote: "upstream", branch: "main"))
        #expect(tip == (try a.head))
        #expect(try mirror.repository.fastForward(branch: "main", to: tip) == .fastForwarded(from: nil, to: tip))
        #expect(try mirror.repository.referenceTarget("refs/heads/main") == tip)
    }

    @Test func cloneRecordsOriginAndRemotesCanBeAddedAndLookedUp() throws {
        let (origin, a, _) = try origin()
        #expect(a.repository.remoteURL("origin") == origin.root)
        #expect(a.repository.remoteURL("backup") == nil)
        let backup = try ScratchRepository(bare: true)
        try a.repository.addRemote(name: "backup", url: backup.root)
        #expect(a.repository.remoteURL("backup") == backup.root)
        #expect(throws: PlumbError.self) { try a.repository.addRemote(name: "backup", url: "/elsewhere") }
        #expect(try a.repository.push(remote: "backup", refspecs: ["refs/heads/main:refs/heads/main"]) == .pushed)
        #expect(try backup.repository.referenceTarget("refs/heads/main") == (try a.head))

        do {
            _ = try a.repository.fetch(remote: "nowhere", branch: "main")
            Issue.record("fetch from a missing remote succeeded")
        } catch let error as PlumbError {
            #expect(error.message == "this repository has no remote named 'nowhere'")
        }
        #expect(throws: PlumbError.self) { try Repository.clone(url: "/no/such/repository", to: try temporaryFolder() + "/x") }
    }

    @Test(arguments: [
        ("non-fast-forward", true),
        ("fetch first", true),
        ("cannot lock ref 'refs/heads/main': is at 1234 but expected 5678", true),
        ("pre-receive hook declined", false),
        ("protected branch hook declined", false),
    ])
    func serverStatusesThatARetryCanFix(status: String, retryable: Bool) {
        #expect(RemoteSession.isNonFastForward(status) == retryable)
    }
}
