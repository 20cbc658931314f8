import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Item 11 of issue 10: a read-only checkout, `.plumb/` or `.git/` gives a clear error naming the
/// path, never a Foundation error dump, and a commit that cannot be recorded runs nothing.
///
/// Tests run as root, and root ignores permission bits, so chmod proves nothing. Each case runs the
/// built binary in a private mount namespace (`unshare -m`) in which the folder is bind-mounted
/// read-only: writes fail with EROFS for root too, exactly as on a read-only mount.
@Suite struct HostileReadOnlyTests {
    @Test func aReadOnlyCheckoutNamesThePath() throws {
        try #require(Self.canMountReadOnly(), "needs `unshare -m` and bind mounts (root in a namespace-capable container)")
        let h = try PipelineHarness(pipeline: oneStagePipeline, files: ["spec/in.txt": "1\n"])
        // No .plumb/ yet: creating it is the first write.
        for command in [["plan"], ["reconcile"], ["status"]] {
            let r = try Self.run(command, in: h.root, readOnly: [h.root])
            #expect(r.status == 1, "\(command): \(r.stdout)")
            #expect(r.stderr.contains("cannot create \(h.root)/.plumb: Read-only file system"), "\(command): \(r.stderr)")
            #expect(r.stderr.contains("hint:"), "\(command): \(r.stderr)")
            Self.expectNoFoundationDump(r.stderr, command)
        }
    }

    @Test func aReadOnlyPlumbFolderNamesThePath() throws {
        try #require(Self.canMountReadOnly(), "needs `unshare -m` and bind mounts (root in a namespace-capable container)")
        let h = try PipelineHarness(pipeline: oneStagePipeline, files: ["spec/in.txt": "1\n"])
        #expect(try runProcess(plumbExecutable(), ["plan"], in: h.root).status == 0)
        for command in [["reconcile"], ["gc"]] {
            let r = try Self.run(command, in: h.root, readOnly: [h.root + "/.plumb"])
            #expect(r.status == 1, "\(command): \(r.stdout)")
            #expect(r.stderr.contains("\(h.root)/.plumb/locks"), "\(command): \(r.stderr)")
            #expect(r.stderr.contains("Read-only file system"), "\(command): \(r.stderr)")
            Self.expectNoFoundationDump(r.stderr, command)
        }
        #expect(try h.state() == nil)
    }

    @Test func aReadOnlyGitDirectoryIsRefusedBeforeAnyStageRuns() throws {
        try #require(Self.canMountReadOnly(), "needs `unshare -m` and bind mounts (root in a namespace-capable container)")
        let h = try PipelineHarness(pipeline: """
            version: 1
            stages:
              s:
                cmd: mkdir -p build && cat spec/in.txt > build/o.txt && echo s >> $SIDE
                deps: [spec/in.txt]
                outs: [build/o.txt]
            """, files: ["spec/in.txt": "1\n"])
        let git = h.repository.gitDirectory.path.hasSuffix("/") ? String(h.repository.gitDirectory.path.dropLast()) : h.repository.gitDirectory.path
        let plan = try Self.run(["plan"], in: h.root, readOnly: [git])
        #expect(plan.status == 0, "reading needs no writable .git: \(plan.stderr)")
        let r = try Self.run(["reconcile"], in: h.root, readOnly: [git])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot write to \(git)"), "\(r.stderr)")
        #expect(r.stderr.contains("Read-only file system"), "\(r.stderr)")
        #expect(try h.ran() == [], "a run that cannot be recorded must not run")
        Self.expectNoFoundationDump(r.stderr, ["reconcile"])
    }

    /// history/<env>/ of the working tree cannot be written, .git can: the run is recorded (its
    /// stages ran), the error says what could not follow, and the index already names the record,
    /// so the user's next `git commit` keeps it.
    @Test func aReadOnlyHistoryFolderStillRecordsAndTheNextCommitKeepsIt() throws {
        try #require(Self.canMountReadOnly(), "needs `unshare -m` and bind mounts (root in a namespace-capable container)")
        let h = try PipelineHarness(pipeline: oneStagePipeline, files: ["spec/in.txt": "1\n"])
        #expect(try runProcess(plumbExecutable(), ["reconcile", "--quiet"], in: h.root).status == 0)
        try h.edit("spec/in.txt", "2\n")
        let r = try Self.run(["reconcile", "--quiet"], in: h.root, readOnly: [h.root + "/history/default"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("but cannot update history/default in the working tree"), "\(r.stderr)")
        #expect(r.stderr.contains("Read-only file system"), "\(r.stderr)")
        Self.expectNoFoundationDump(r.stderr, ["reconcile"])
        let recorded = try h.scratch.head
        #expect(try h.repository.commit(recorded).summary.hasPrefix("plumb(default)"))

        try h.scratch.write("unrelated.txt", "mine\n")
        try hostileGit(["add", "unrelated.txt"], in: h.root)
        try hostileGit(["commit", "-qm", "an unrelated change"], in: h.root)
        let head = try h.scratch.head
        #expect(try h.repository.entry(at: "history/default", in: head)?.id == h.repository.entry(at: "history/default", in: recorded)?.id,
                "the user's commit reverted the record")
    }

    // MARK: - Support

    static func expectNoFoundationDump(_ stderr: String, _ command: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        for needle in ["Error Domain=", "NSCocoaErrorDomain", "NSPOSIXErrorDomain", "The operation could not be completed"] {
            #expect(!stderr.contains(needle), "\(command): \(stderr)", sourceLocation: sourceLocation)
        }
    }

    /// Runs the built binary with `readOnly` folders bind-mounted read-only over themselves, in a
    /// mount namespace of its own (nothing outside it sees the mounts). It enters the folder again
    /// after mounting: a working directory taken before the mount would still be the writable one.
    static func run(_ arguments: [String], in directory: String, readOnly: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let mounts = readOnly.map { "mount --bind '\($0)' '\($0)' && mount -o remount,bind,ro '\($0)'" }.joined(separator: " && ")
        return try runProcess("/usr/bin/unshare", ["-m", "/bin/sh", "-c", "\(mounts) && cd \"$PWD\" && exec \"$0\" \"$@\"", plumbExecutable()] + arguments,
                              in: directory)
    }

    static func canMountReadOnly() -> Bool {
        guard let folder = try? temporaryFolder() else { return false }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let probe = try? runProcess("/usr/bin/unshare", ["-m", "/bin/sh", "-c",
                                                        "mount --bind '\(folder)' '\(folder)' && mount -o remount,bind,ro '\(folder)' && ! touch '\(folder)/x'"], in: folder)
        return probe?.status == 0
    }
}
