import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbEngine

/// Git as people use it: worktrees, shallow CI clones, servers that refuse, races on push, and
/// repositories that ask for signed commits. Each through real git on scratch repositories.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/git")))
struct GitAsPeopleUseItTests {
    static let pipeline = """
    version: 1
    stages:
      s:
        cmd: echo s >> $SIDE && mkdir -p build && cat spec/in.txt > build/o.txt
        deps: [spec/in.txt]
        outs: [build/o.txt]
    """

    func harness() throws -> PipelineHarness {
        try PipelineHarness(pipeline: Self.pipeline, files: ["spec/in.txt": "1\n"])
    }

    /// A record for `main` made from a second worktree lands in main's own worktree too, so that
    /// one stays clean (otherwise its index would revert the record on the next `git commit -a`).
    @Test func aBranchCheckedOutInAnotherWorktreeFollowsTheRecord() throws {
        let h = try harness()
        let side = try temporaryFolder() + "/side"
        try hostileGit(["worktree", "add", "-q", "-b", "side", side], in: h.root)
        let outcome = try Reconciler(project: try Project(path: side)).reconcile(ref: "main", environment: nil, jobs: 2)
        let commit = try #require(outcome.commit)
        #expect(try h.repository.referenceTarget("refs/heads/main") == commit)
        #expect(FileManager.default.fileExists(atPath: h.root + "/history/default/state.json"), "main's worktree has the record")
        let status = try hostileGit(["status", "--porcelain"], in: h.root)
        #expect(status.stdout.isEmpty, "main's worktree is clean: \(status.stdout)")
        #expect(try hostileGit(["status", "--porcelain"], in: side).stdout.isEmpty)
    }

    /// History-reading commands refuse a shallow clone (CI's default) instead of showing a history
    /// cut at the clone's depth; planning, which reads one commit, still works there.
    @Test func aShallowCloneIsRefusedByWhatNeedsHistoryOnly() throws {
        let h = try harness()
        try h.reconcile()
        try h.edit("spec/in.txt", "2\n")
        try h.reconcile()
        let clone = try temporaryFolder() + "/clone"
        try hostileGit(["clone", "-q", "--depth", "1", URL(fileURLWithPath: h.root).absoluteString, clone], in: h.root)
        let history = try runProcess(plumbExecutable(), ["history"], in: clone)
        #expect(history.status == 1)
        #expect(history.stderr.contains("this clone is shallow") && history.stderr.contains("git fetch --unshallow"), "\(history.stderr)")
        let full = try runProcess(plumbExecutable(), ["history"], in: h.root)
        #expect(full.status == 0, "\(full.stderr)")
        let plan = try runProcess(plumbExecutable(), ["plan"], in: clone)
        // A clone without the cache (no shared store here) plans from the record it read.
        #expect(plan.status == 0 && plan.stdout.contains("Plan for default at"), "\(plan.stdout)\(plan.stderr)")
    }

    /// A server hook's refusal reaches the user in the server's words.
    @Test func aRefusingServerHookIsShownInItsOwnWords() throws {
        let origin = try ScratchRepository(bare: true)
        let h = try harness()
        try h.repository.addRemote(name: "origin", url: origin.root)
        _ = try h.repository.push(refspecs: ["refs/heads/main:refs/heads/main"])
        let hook = origin.root + "/hooks/pre-receive"
        try FileManager.default.createDirectory(atPath: origin.root + "/hooks", withIntermediateDirectories: true)
        try Data("#!/bin/sh\necho 'main is protected: open a pull request' >&2\nexit 1\n".utf8).write(to: URL(fileURLWithPath: hook))
        chmod(hook, 0o755)
        let daemon = try GitDaemon(serving: origin.root)
        defer { daemon.stop() }
        try hostileGit(["remote", "set-url", "origin", daemon.url], in: h.root)

        let result = try runProcess(plumbExecutable(), ["reconcile", "--push"], in: h.root)
        #expect(result.status == 1)
        #expect(result.stderr.contains("refused the push"), "\(result.stderr)")
        #expect(result.stderr.contains("remote: main is protected: open a pull request"), "\(result.stderr)")
        #expect(!result.stderr.contains("see the reason above"))
    }

    /// After a race on push the record is re-made on top of the other writer's commit: what is
    /// printed (and in the JSON summary) is the commit the remote has.
    @Test func afterAPushRaceThePrintedCommitIsThePushedOne() throws {
        let origin = try ScratchRepository(bare: true)
        let h = try harness()
        try h.repository.addRemote(name: "origin", url: origin.root)
        _ = try h.repository.push(refspecs: ["refs/heads/main:refs/heads/main"])
        let parent = try temporaryFolder()
        try hostileGit(["clone", "-q", origin.root, parent + "/teammate"], in: parent)
        try Data("theirs\n".utf8).write(to: URL(fileURLWithPath: parent + "/teammate/notes.txt"))
        try hostileGit(["add", "notes.txt"], in: parent + "/teammate")
        try hostileGit(["commit", "-qm", "teammate's work"], in: parent + "/teammate")
        try hostileGit(["push", "-q", "origin", "main"], in: parent + "/teammate")

        let result = try runProcess(plumbExecutable(), ["reconcile", "--push", "--json"], in: h.root)
        #expect(result.status == 0, "\(result.stderr)")
        let tip = try origin.repository.referenceTarget("refs/heads/main")
        let summary = try #require(result.stdout.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(summary["type"] as? String == "summary")
        #expect(summary["commit"] as? String == tip.hex, "summary names \(summary["commit"] ?? "nothing"), origin has \(tip.hex)")
        #expect(result.stderr.contains("re-made on top as \(tip.short)"), "\(result.stderr)")
    }

    /// With `commit.gpgsign` Plumb refuses before any stage runs: libgit2 cannot sign.
    @Test func aRepositoryAskingForSignedCommitsIsRefusedBeforeAnythingRuns() throws {
        let h = try harness()
        try hostileGit(["config", "commit.gpgsign", "true"], in: h.root)
        let before = try h.scratch.head
        let result = try runProcess(plumbExecutable(), ["reconcile"], in: h.root)
        #expect(result.status == 1)
        #expect(result.stderr.contains("commit.gpgsign") && result.stderr.contains("nothing was run"), "\(result.stderr)")
        #expect(try h.ran() == [], "no stage ran")
        #expect(try h.scratch.head == before)
        let plan = try runProcess(plumbExecutable(), ["plan"], in: h.root)
        #expect(plan.status == 0, "planning writes nothing, so it is not refused")
    }
}
