import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Item 3 of issue 10: a push never rewrites a remote's history, whatever the transport, and Plumb
/// never deletes the lock file of a live git transaction.
@Suite struct HostileRemoteTests {
    /// How the user's clone names its remote.
    enum Transport: String, CaseIterable, Sendable, CustomStringConvertible {
        case path, fileURL, fileURLWithLocalhost, relativePath, gitDaemon
        var description: String { rawValue }
    }

    /// A teammate pushed T; the user fetched it, then `git reset --hard` dropped it locally and
    /// reconciled with --push. The remote must keep T: the record is re-made on top of it (it only
    /// touches history/), and a branch with the user's own commits is refused, never forced.
    @Test(arguments: Transport.allCases)
    func aPushAfterAResetNeverRemovesATeammatesCommit(_ transport: Transport) throws {
        let world = try ResetWorld(transport: transport)
        defer { world.stop() }

        // Only a record on the old base: re-made on the teammate's commit and pushed.
        try world.userResetsBelowTheTeammatesCommit()
        let recorded = try runProcess(plumbExecutable(), ["reconcile", "--push", "--quiet"], in: world.user)
        #expect(recorded.status == 0, "\(transport): \(recorded.stderr)")
        var tip = try world.originTip()
        #expect(try world.origin.repository.isAncestor(world.teammateCommit, of: tip), "\(transport): the teammate's commit was removed from the remote")
        #expect(try world.origin.repository.file(at: "history/default/state.json", in: tip) != nil, "\(transport): the record was not pushed")

        // The user's own commit on the old base: the push is refused and the remote keeps its history.
        try world.userResetsBelowTheTeammatesCommit()
        try world.userCommits("spec/in.txt", "mine\n")
        let refused = try runProcess(plumbExecutable(), ["reconcile", "--push", "--quiet"], in: world.user)
        #expect(refused.status == 1, "\(transport): \(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("diverged"), "\(transport): \(refused.stderr)")
        tip = try world.originTip()
        #expect(try world.origin.repository.isAncestor(world.teammateCommit, of: tip), "\(transport): the teammate's commit was removed from the remote")
        #expect(try world.origin.repository.file(at: "spec/in.txt", in: tip) == Data("1\n".utf8), "\(transport): the user's commit was forced onto the remote")
    }

    @Test func aForcedRefspecIsRefusedBeforeAnythingIsSent() throws {
        let origin = try ScratchRepository(bare: true)
        let local = try ScratchRepository()
        try local.write("a.txt", "a\n")
        try local.commit("a")
        try local.repository.addRemote(name: "origin", url: origin.root)
        #expect(throws: PlumbError.self) { try local.repository.push(refspecs: ["+refs/heads/main:refs/heads/main"]) }
        #expect((try? origin.repository.referenceTarget("refs/heads/main")) == nil)
    }

    /// git writes a ref's lock file, closes it, and keeps the lock until its transaction commits
    /// (running hooks in between; `update-ref --stdin` as long as its input says). Such a lock is
    /// open in no process and may be older than a second; it is still git's, and must stay.
    @Test func aLiveGitTransactionsRefLockIsNeverDeleted() throws {
        let h = try PipelineHarness(pipeline: """
            version: 1
            stages:
              s:
                cmd: mkdir -p build && cat spec/in.txt > build/o.txt
                deps: [spec/in.txt]
                outs: [build/o.txt]
            """, files: ["spec/in.txt": "1\n"])
        let head = try h.scratch.head
        let theirs = try #require(hostileGit(["commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "theirs"], in: h.root).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines).nilIfEmpty)

        let transaction = Process()
        transaction.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        transaction.arguments = ["update-ref", "--stdin"]
        transaction.currentDirectoryURL = URL(fileURLWithPath: h.root)
        let input = Pipe()
        transaction.standardInput = input
        transaction.standardOutput = FileHandle.nullDevice
        try transaction.run()
        defer { if transaction.isRunning { transaction.terminate() } }
        input.fileHandleForWriting.write(Data("start\nupdate refs/heads/main \(theirs) \(head.hex)\nprepare\n".utf8))
        let lock = h.repository.gitDirectory.path + "/refs/heads/main.lock"
        #expect(eventually(timeout: 10) { FileManager.default.fileExists(atPath: lock) }, "git did not lock the branch")
        // Old enough for a stale-lock rule based on age alone.
        Thread.sleep(forTimeInterval: 1.3)

        let blocked = try runProcess(plumbExecutable(), ["reconcile", "--quiet"], in: h.root)
        #expect(FileManager.default.fileExists(atPath: lock), "plumb deleted the lock of a live git transaction")
        #expect(blocked.status == 1)
        #expect(blocked.stderr.contains("main.lock"), "\(blocked.stderr)")

        input.fileHandleForWriting.write(Data("commit\n".utf8))
        try input.fileHandleForWriting.close()
        transaction.waitUntilExit()
        #expect(transaction.terminationStatus == 0, "git's own transaction must still commit")
        #expect(try h.repository.referenceTarget("refs/heads/main").hex == theirs)
    }
}

/// A bare origin, a teammate's clone and the user's clone (through the transport under test).
private final class ResetWorld {
    let origin: ScratchRepository
    let teammate: String
    let user: String
    private(set) var teammateCommit: ObjectID!
    private var daemon: GitDaemon?

    init(transport: HostileRemoteTests.Transport) throws {
        origin = try ScratchRepository(bare: true)
        let seed = try ScratchRepository()
        try seed.write(".gitignore", ".plumb/\n")
        try seed.write("spec/pipeline.yaml", """
            version: 1
            stages:
              s:
                cmd: mkdir -p build && cat spec/in.txt > build/o.txt
                deps: [spec/in.txt]
                outs: [build/o.txt]
            """)
        try seed.write("spec/params.yaml", "{}\n")
        try seed.write("spec/in.txt", "1\n")
        try seed.commit("initial spec")
        try seed.repository.addRemote(name: "origin", url: origin.root)
        _ = try seed.repository.push(refspecs: ["refs/heads/main:refs/heads/main"])

        let parent = try temporaryFolder()
        teammate = parent + "/teammate"
        user = parent + "/user"
        try hostileGit(["clone", "-q", origin.root, teammate], in: parent)
        try hostileGit(["clone", "-q", origin.root, user], in: parent)

        let url: String
        switch transport {
        case .path: url = origin.root
        case .fileURL: url = URL(fileURLWithPath: origin.root).absoluteString
        case .fileURLWithLocalhost: url = "file://localhost" + origin.root
        case .relativePath: url = "../../" + URL(fileURLWithPath: origin.root).lastPathComponent
        case .gitDaemon:
            daemon = try GitDaemon(serving: origin.root)
            url = daemon!.url
        }
        try hostileGit(["remote", "set-url", "origin", url], in: user)

        try Data("teammate\n".utf8).write(to: URL(fileURLWithPath: teammate + "/notes.txt"))
        try hostileGit(["add", "notes.txt"], in: teammate)
        try hostileGit(["commit", "-qm", "teammate's work"], in: teammate)
        try hostileGit(["push", "-q", "origin", "main"], in: teammate)
        teammateCommit = try origin.repository.referenceTarget("refs/heads/main")
    }

    func stop() {
        daemon?.stop()
        try? FileManager.default.removeItem(atPath: (user as NSString).deletingLastPathComponent)
    }

    func originTip() throws -> ObjectID { try origin.repository.referenceTarget("refs/heads/main") }

    /// Fetches (the tracking ref then names the teammate's commit), then resets below it.
    func userResetsBelowTheTeammatesCommit() throws {
        try hostileGit(["fetch", "-q", "origin"], in: user)
        try hostileGit(["reset", "-q", "--hard", "\(teammateCommit.hex)~1"], in: user)
    }

    func userCommits(_ path: String, _ content: String) throws {
        try Data(content.utf8).write(to: URL(fileURLWithPath: user + "/" + path))
        try hostileGit(["commit", "-qam", "mine"], in: user)
    }
}

/// Runs the git command line (the user's own tool) with a fixed identity; with `check`, a failure throws.
@discardableResult
func hostileGit(_ arguments: [String], in directory: String, check: Bool = true) throws -> (status: Int32, stdout: String, stderr: String) {
    let result = try runProcess("/usr/bin/git", arguments, in: directory, environment: [
        "GIT_AUTHOR_NAME": "Someone", "GIT_AUTHOR_EMAIL": "someone@example.com",
        "GIT_COMMITTER_NAME": "Someone", "GIT_COMMITTER_EMAIL": "someone@example.com",
    ])
    if check && result.status != 0 {
        throw PlumbError("git \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
    }
    return result
}

private extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
