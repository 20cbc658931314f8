import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine

/// A workspace updated in place from one commit to another must be exactly what a fresh checkout of
/// the second gives: same paths, bytes, modes and link targets, HEAD at the commit, a clean `git status`.
@Suite struct IncrementalWorkspaceTests {
    /// One case: the files of commit A, the change that makes commit B, and what a stage did in the
    /// workspace at A before the update.
    struct Case: CustomStringConvertible, Sendable {
        var description: String
        var commitA: @Sendable (ScratchRepository) throws -> Void
        var commitB: @Sendable (ScratchRepository) throws -> Void
        var stage: @Sendable (String) throws -> Void = { _ in }
    }

    static let cases: [Case] = [
        Case(description: "a file deleted", commitA: { r in try r.write("a.txt", "a\n"); try r.write("b.txt", "b\n") },
             commitB: { r in try r.remove("b.txt") }),
        Case(description: "a file renamed into another folder", commitA: { r in try r.write("dir/x.txt", "x\n"); try r.write("keep", "k\n") },
             commitB: { r in try r.remove("dir"); try r.write("other/y.txt", "x\n") }),
        Case(description: "a file turned into a folder", commitA: { r in try r.write("p", "file\n"); try r.write("keep", "k\n") },
             commitB: { r in try r.remove("p"); try r.write("p/inner.txt", "inner\n") }),
        Case(description: "a folder turned into a file", commitA: { r in try r.write("q/inner.txt", "inner\n"); try r.write("q/deep/d.txt", "d\n") },
             commitB: { r in try r.remove("q"); try r.write("q", "now a file\n") }),
        Case(description: "mode changes 644 to 755 and back",
             commitA: { r in try r.write("run.sh", "echo hi\n"); try r.write("tool.sh", "echo tool\n", executable: true) },
             commitB: { r in chmod(r.root + "/run.sh", 0o755); chmod(r.root + "/tool.sh", 0o644) }),
        Case(description: "a symlink added and one changed",
             commitA: { r in try r.write("a.txt", "a\n"); try r.write("b.txt", "b\n"); symlink("a.txt", r.root + "/link") },
             commitB: { r in
                 try r.remove("link"); symlink("b.txt", r.root + "/link")
                 try r.write("sub/c.txt", "c\n"); symlink("../a.txt", r.root + "/sub/up")
             }),
        Case(description: "a link turned into a file", commitA: { r in try r.write("a.txt", "a\n"); symlink("a.txt", r.root + "/l") },
             commitB: { r in try r.remove("l"); try r.write("l", "file now\n") }),
        Case(description: "untracked files left by a stage, also ignored and read-only ones",
             commitA: { r in try r.write(".gitignore", "cache/\n*.tmp\n"); try r.write("src/a.py", "print(1)\n") },
             commitB: { r in try r.write("src/a.py", "print(2)\n") },
             stage: { w in
                 try write(w, "out/model.bin", "weights")
                 try write(w, "scratch.tmp", "scratch")
                 try write(w, "cache/deep/x", "cached")
                 try write(w, "src/__pycache__/a.pyc", "bytecode")
                 try write(w, "nested/.git/HEAD", "ref: refs/heads/main\n")
                 try FileManager.default.createDirectory(atPath: w + "/empty/inner", withIntermediateDirectories: true)
                 try write(w, "locked/file", "x")
                 chmod(w + "/locked/file", 0o444); chmod(w + "/locked", 0o555)
             }),
        Case(description: "tracked files a stage modified, chmod'ed and replaced",
             commitA: { r in
                 try r.write("a.txt", "a\n"); try r.write("b.txt", "b\n"); try r.write("c.sh", "c\n", executable: true)
                 try r.write("d/e.txt", "e\n"); try r.write("f.txt", "f\n")
             },
             commitB: { r in try r.write("f.txt", "f2\n") },
             stage: { w in
                 try write(w, "a.txt", "changed by a stage\n")
                 chmod(w + "/b.txt", 0o600); chmod(w + "/c.sh", 0o644)
                 try FileManager.default.removeItem(atPath: w + "/d/e.txt")
                 try FileManager.default.createDirectory(atPath: w + "/d/e.txt", withIntermediateDirectories: false)
                 try FileManager.default.removeItem(atPath: w + "/f.txt")
                 symlink("/etc/passwd", w + "/f.txt")
             }),
        Case(description: "read-only deps and their folders",
             commitA: { r in try r.write("data/raw.csv", "1,2\n"); try r.write("data/more/m.csv", "3\n"); try r.write("x.txt", "x\n") },
             commitB: { r in try r.write("data/raw.csv", "1,2,3\n") },
             stage: { w in
                 chmod(w + "/data/raw.csv", 0o444); chmod(w + "/data/more/m.csv", 0o444); chmod(w + "/x.txt", 0o444)
                 chmod(w + "/data/more", 0o555)
             }),
        Case(description: "a same-size edit whose mtime was put back (an mtime-preserving copy)",
             commitA: { r in try r.write("a.txt", "aaaa\n"); try r.write("b.txt", "b\n") },
             commitB: { r in try r.write("b.txt", "b2\n") },
             stage: { w in
                 var s = stat()
                 _ = lstat(w + "/a.txt", &s)
                 try write(w, "a.txt", "XXXX\n")
                 var times = [s.st_atim, s.st_mtim]
                 _ = utimensat(AT_FDCWD, w + "/a.txt", &times, AT_SYMLINK_NOFOLLOW)
             }),
        Case(description: "a folder emptied by a stage whose files the next commit removes",
             commitA: { r in try r.write("gone/one.txt", "1\n"); try r.write("gone/two.txt", "2\n"); try r.write("keep", "k\n") },
             commitB: { r in try r.remove("gone") },
             stage: { w in
                 try FileManager.default.removeItem(atPath: w + "/gone/one.txt")
                 try FileManager.default.removeItem(atPath: w + "/gone/two.txt")
             }),
        Case(description: "an executable and a link added in new folders, a file in a deep folder changed",
             commitA: { r in try r.write("deep/er/still/x.txt", "x\n"); try r.write("top.txt", "t\n") },
             commitB: { r in
                 try r.write("deep/er/still/x.txt", "x2\n"); try r.write("bin/tool", "#!/bin/sh\n", executable: true)
                 try FileManager.default.createDirectory(atPath: r.root + "/links/here", withIntermediateDirectories: true)
                 symlink("../../top.txt", r.root + "/links/here/top")
             }),
        Case(description: "the same commit after a messy run", commitA: { r in try r.write("a.txt", "a\n"); try r.write("spec/params.yaml", "lr: 1\n") },
             commitB: { _ in },
             stage: { w in
                 try FileManager.default.removeItem(atPath: w + "/spec/params.yaml")
                 try write(w, "spec/params.yaml", "{\"lr\":2}\n")
                 try write(w, "result.json", "{}")
             }),
    ]

    @Test(arguments: cases)
    func updateMatchesFreshCheckout(_ c: Case) throws {
        let scratch = try ScratchRepository()
        try c.commitA(scratch)
        let a = try scratch.commit("A")
        try c.commitB(scratch)
        let b = try scratch.commit("B")
        let folder = try temporaryFolder()
        defer { try? Repository.removeTree(folder) }
        let workspace = folder + "/ws"

        let first = try scratch.repository.prepareWorkspace(a, at: workspace)
        #expect(!first.incremental)
        try c.stage(workspace)
        let second = try scratch.repository.prepareWorkspace(b, at: workspace)
        #expect(second.incremental)

        try expectSameAsFreshCheckout(workspace, b, scratch, folder + "/fresh-b")
        #expect(try second.workspace.head() == Head(reference: nil, commit: b))

        // And back, from the index the update wrote, after the stage's mess once more (where it applies
        // to the second commit's files).
        try? c.stage(workspace)
        #expect(try scratch.repository.prepareWorkspace(a, at: workspace).incremental)
        try expectSameAsFreshCheckout(workspace, a, scratch, folder + "/fresh-a")
    }

    /// The workspace holds what a fresh checkout of `commit` into `fresh` holds: files, modes, links,
    /// HEAD, the index as git lists it (modes, blobs, paths), a clean `git status`, and an index libgit2 reads.
    private func expectSameAsFreshCheckout(_ workspace: String, _ commit: ObjectID, _ scratch: ScratchRepository, _ fresh: String) throws {
        try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        _ = try scratch.repository.checkOutWorkspace(commit, at: fresh)
        let updated = try snapshot(workspace), expected = try snapshot(fresh)
        #expect(updated == expected, "differs: \(updated.symmetricDifference(expected).sorted())")
        #expect(try gitStatus(workspace) == "")
        #expect(try runProcess("/usr/bin/git", ["rev-parse", "HEAD"], in: workspace).stdout == commit.hex + "\n")
        let listed = try runProcess("/usr/bin/git", ["ls-files", "--stage"], in: workspace)
        let listedFresh = try runProcess("/usr/bin/git", ["ls-files", "--stage"], in: fresh)
        #expect(listed.status == 0 && listed.stdout == listedFresh.stdout)
        // libgit2 checks the index's checksum when it reads it.
        #expect(throws: Never.self) { _ = try Repository(at: workspace).removeLFSPointers(from: workspace) }
    }

    /// The tree diff that skips equal subtrees names exactly the files `git diff --name-only` names.
    @Test func treeChangesAgreeWithGit() throws {
        let scratch = try ScratchRepository()
        for i in 0..<20 { try scratch.write("same/\(i).txt", "\(i)\n") }
        try scratch.write("deep/a/b/c.txt", "c\n"); try scratch.write("deep/a/keep.txt", "k\n")
        try scratch.write("p", "file\n"); try scratch.write("q/inner.txt", "q\n"); try scratch.write("mode.sh", "x\n")
        symlink("p", scratch.root + "/link")
        let a = try scratch.commit("A")
        try scratch.write("deep/a/b/c.txt", "c2\n")
        try scratch.remove("p"); try scratch.write("p/now.txt", "folder\n")
        try scratch.remove("q"); try scratch.write("q", "a file\n")
        chmod(scratch.root + "/mode.sh", 0o755)
        try scratch.remove("link"); symlink("mode.sh", scratch.root + "/link")
        try scratch.write("new/added.txt", "n\n")
        let b = try scratch.commit("B")
        let git = try runProcess("/usr/bin/git", ["diff", "--name-only", "--no-renames", a.hex, b.hex], in: scratch.root)
        #expect(git.status == 0)
        let expected = git.stdout.split(separator: "\n").map(String.init)
        #expect(try scratch.repository.treeChanges(from: a, to: b) == expected)
        #expect(try scratch.repository.treeChanges(from: b, to: a) == expected)
        #expect(try scratch.repository.treeChanges(from: a, to: a).isEmpty)
    }

    /// A stage that `git add`s its output and runs `git status` (which rewrites the index) leaves nothing behind.
    @Test func stageUsingGitInTheWorkspace() throws {
        let scratch = try ScratchRepository()
        try scratch.write("a.txt", "a\n")
        let a = try scratch.commit("A")
        try scratch.write("b.txt", "b\n")
        let b = try scratch.commit("B")
        let folder = try temporaryFolder()
        defer { try? Repository.removeTree(folder) }
        let workspace = folder + "/ws"
        _ = try scratch.repository.prepareWorkspace(a, at: workspace)
        try write(workspace, "out.txt", "output\n")
        #expect(try runProcess("/usr/bin/git", ["add", "out.txt"], in: workspace).status == 0)
        _ = try runProcess("/usr/bin/git", ["status"], in: workspace)

        let second = try scratch.repository.prepareWorkspace(b, at: workspace)
        #expect(second.incremental)
        #expect(try snapshot(workspace) == ["f 644 a.txt a\n", "f 644 b.txt b\n"].reduce(into: Set()) { $0.insert(umasked($1)) })
        #expect(try gitStatus(workspace) == "")
    }

    /// After a stage's `git status` rewrote the index, libgit2's checkout compares the workspace, and it
    /// trusts an mtime and a size: a same-size edit with its mtime put back is still undone.
    @Test func mtimePreservingEditAfterGitStatusIsRestored() throws {
        let scratch = try ScratchRepository()
        try scratch.write("a.txt", "aaaa\n")
        try scratch.write("b.txt", "b\n")
        let a = try scratch.commit("A")
        try scratch.write("b.txt", "b2\n")
        let b = try scratch.commit("B")
        let folder = try temporaryFolder()
        defer { try? Repository.removeTree(folder) }
        let workspace = folder + "/ws"
        _ = try scratch.repository.prepareWorkspace(a, at: workspace)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(try runProcess("/usr/bin/git", ["status"], in: workspace).status == 0)
        var s = stat()
        #expect(lstat(workspace + "/a.txt", &s) == 0)
        try write(workspace, "a.txt", "XXXX\n")
        var times = [s.st_atim, s.st_mtim]
        #expect(utimensat(AT_FDCWD, workspace + "/a.txt", &times, AT_SYMLINK_NOFOLLOW) == 0)
        #expect(try scratch.repository.prepareWorkspace(b, at: workspace).incremental)
        #expect(try String(contentsOfFile: workspace + "/a.txt", encoding: .utf8) == "aaaa\n")
        #expect(try String(contentsOfFile: workspace + "/b.txt", encoding: .utf8) == "b2\n")
        #expect(try gitStatus(workspace) == "")
    }

    /// A same-size edit made well after the checkout (so no entry is racily clean) is still found and undone,
    /// and so is a file a stage deleted, when only the changed and suspect paths are handed to the checkout.
    @Test func laterSameSizeEditIsRestored() throws {
        let scratch = try ScratchRepository()
        for i in 0..<50 { try scratch.write("f/\(i).txt", "\(i % 10)\n") }
        let a = try scratch.commit("A")
        try scratch.write("g.txt", "g\n")
        let b = try scratch.commit("B")
        let folder = try temporaryFolder()
        defer { try? Repository.removeTree(folder) }
        let workspace = folder + "/ws"
        _ = try scratch.repository.prepareWorkspace(a, at: workspace)
        Thread.sleep(forTimeInterval: 1.1)
        try write(workspace, "f/3.txt", "x\n")
        try FileManager.default.removeItem(atPath: workspace + "/f/7.txt")
        let second = try scratch.repository.prepareWorkspace(b, at: workspace)
        #expect(second.incremental)
        #expect(try String(contentsOfFile: workspace + "/f/3.txt", encoding: .utf8) == "3\n")
        #expect(try String(contentsOfFile: workspace + "/f/7.txt", encoding: .utf8) == "7\n")
        #expect(try gitStatus(workspace) == "")
    }

    /// Git LFS pointers never reach the disk, updated or fresh, and the update still reports every LFS file.
    @Test func lfsPointersAreNotWritten() throws {
        let scratch = try ScratchRepository()
        let pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:\(String(repeating: "ab", count: 32))\nsize 12\n"
        try scratch.write("model.bin", pointer)
        try scratch.write("a.txt", "a\n")
        let a = try scratch.commit("A")
        try scratch.write("a.txt", "a2\n")
        try scratch.write("other.bin", pointer)
        let b = try scratch.commit("B")
        let folder = try temporaryFolder()
        defer { try? Repository.removeTree(folder) }
        let workspace = folder + "/ws"
        _ = try scratch.repository.prepareWorkspace(a, at: workspace)
        try write(workspace, "model.bin", "staged content")
        let second = try scratch.repository.prepareWorkspace(b, at: workspace)
        #expect(second.incremental)
        #expect(second.lfs.map(\.path).sorted() == ["model.bin", "other.bin"])
        #expect(access(workspace + "/model.bin", F_OK) != 0 && access(workspace + "/other.bin", F_OK) != 0)
        #expect(try String(contentsOfFile: workspace + "/a.txt", encoding: .utf8) == "a2\n")
    }

    /// Whatever makes the workspace doubtful gives a fresh checkout, and a correct one.
    @Test(arguments: ["no stamp (an older Plumb)", "an interrupted update", "a corrupt stamp", "alternates elsewhere",
                      "a stage committed", "another repository", "no git directory"])
    func doubtfulWorkspaceIsCheckedOutAfresh(_ doubt: String) throws {
        let scratch = try ScratchRepository()
        try scratch.write("a.txt", "a\n")
        let a = try scratch.commit("A")
        try scratch.write("b.txt", "b\n")
        let b = try scratch.commit("B")
        let folder = try temporaryFolder()
        defer { try? Repository.removeTree(folder) }
        let workspace = folder + "/ws"
        let git = workspace + "/.git"
        let other = try ScratchRepository()
        try other.write("a.txt", "a\n")
        let otherCommit = try other.commit("other")
        if doubt == "another repository" {
            _ = try other.repository.prepareWorkspace(otherCommit, at: workspace)
        } else {
            _ = try scratch.repository.prepareWorkspace(a, at: workspace)
        }
        try write(workspace, "left.txt", "left behind\n")
        switch doubt {
        case "no stamp (an older Plumb)", "an interrupted update": try WorkspaceStamp.remove(in: git)
        case "a corrupt stamp": try write(git, WorkspaceStamp.fileName, "plumb workspace 1\nrepository\n")
        case "alternates elsewhere": try write(git, "objects/info/alternates", other.repository.commonDirectory + "/objects\n")
        case "a stage committed":
            let env = ["GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@x", "GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@x"]
            #expect(try runProcess("/usr/bin/git", ["add", "left.txt"], in: workspace).status == 0)
            #expect(try runProcess("/usr/bin/git", ["commit", "-qm", "by a stage"], in: workspace, environment: env).status == 0)
        case "no git directory": try Repository.removeTree(git)
        default: break
        }
        let second = try scratch.repository.prepareWorkspace(b, at: workspace)
        #expect(!second.incremental)
        #expect(try snapshot(workspace) == ["f 644 a.txt a\n", "f 644 b.txt b\n"].reduce(into: Set()) { $0.insert(umasked($1)) })
        #expect(try gitStatus(workspace) == "")
        // And the next one trusts it again.
        #expect(try scratch.repository.prepareWorkspace(a, at: workspace).incremental)
    }

    /// Through a real reconcile: the second one reuses the workspace (an untouched big file keeps its
    /// inode), and the stage sees exactly the commit's files, not what the first run left.
    @Test func secondReconcileReusesTheWorkspace() throws {
        let pipeline = """
        version: 1
        stages:
          list:
            cmd: files=$(find . -path ./.git -prune -o \\( -type f -o -type l \\) -print | sort) && mkdir -p out && printf '%s\\n' "$files" > out/files.txt && echo junk > junk.tmp && cat spec/params.yaml > out/params.txt
            deps: [data/big.bin]
            params: [lr]
            outs: [out/files.txt, out/params.txt]
        """
        let big = String(repeating: "0123456789abcdef", count: 65_536)
        let harness = try PipelineHarness(pipeline: pipeline, params: "lr: 1\n", files: ["data/big.bin": big, "src/a.py": "print(1)\n"])
        try harness.reconcile()
        let workspace = try harness.project().workspace(for: EnvironmentSpec.implicitName)
        var before = stat()
        #expect(lstat(workspace + "/data/big.bin", &before) == 0)

        try harness.edit("spec/params.yaml", "lr: 2\n")
        let planned = try harness.scratch.head
        let tracked = try runProcess("/usr/bin/git", ["ls-tree", "-r", "--name-only", planned.hex], in: harness.root).stdout
        try harness.reconcile()
        var after = stat()
        #expect(lstat(workspace + "/data/big.bin", &after) == 0)
        #expect(after.st_ino == before.st_ino, "the untouched tracked file was rewritten")
        let seen = try String(contentsOfFile: workspace + "/out/files.txt", encoding: .utf8)
        let expected = tracked.split(separator: "\n").map { "./" + $0 }.sorted().joined(separator: "\n") + "\n"
        #expect(seen == expected)
        #expect(try String(contentsOfFile: workspace + "/out/params.txt", encoding: .utf8) == "lr: 2\n")
        #expect(after.st_mode & 0o222 == 0, "the dep is read-only for the stage")
    }
}

// MARK: - Helpers

private func write(_ root: String, _ path: String, _ content: String) throws {
    let url = URL(fileURLWithPath: root + "/" + path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(content.utf8).write(to: url)
}

/// "f 644 …" with the mode as this process's umask makes a checkout write it.
private func umasked(_ line: String) -> String {
    let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
    let mode = mode_t(parts[1], radix: 8)! & ~Repository.umask
    return "\(parts[0]) \(String(mode, radix: 8)) \(parts[2])"
}

/// Every path under `root` but its `.git`: type, permission bits, and content or link target.
private func snapshot(_ root: String) throws -> Set<String> {
    var out: Set<String> = []
    func visit(_ relative: String) throws {
        let absolute = relative.isEmpty ? root : root + "/" + relative
        for name in try FileManager.default.contentsOfDirectory(atPath: absolute) {
            if relative.isEmpty && name == ".git" { continue }
            let path = relative.isEmpty ? name : relative + "/" + name
            var s = stat()
            guard lstat(root + "/" + path, &s) == 0 else { throw PlumbError("cannot stat \(path)") }
            let mode = String(s.st_mode & 0o7777, radix: 8)
            switch s.st_mode & S_IFMT {
            case S_IFDIR: out.insert("d \(mode) \(path)"); try visit(path)
            case S_IFLNK: out.insert("l \(path) -> " + (try FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + path)))
            default:
                let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + path))
                out.insert("f \(mode) \(path) " + String(decoding: data, as: UTF8.self))
            }
        }
    }
    try visit("")
    return out
}

/// `git status` in the workspace, with untracked and ignored files listed one by one; without the
/// index refresh it would write (after which the next update compares the whole workspace).
private func gitStatus(_ workspace: String) throws -> String {
    let result = try runProcess("/usr/bin/git", ["status", "--porcelain", "--untracked-files=all", "--ignored"], in: workspace,
                                environment: ["GIT_OPTIONAL_LOCKS": "0"])
    #expect(result.status == 0, "\(result.stderr)")
    return result.stdout
}
