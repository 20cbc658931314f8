import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Issue 10, items 7 and 8: a stage sees exactly its commit, and stages cannot corrupt each other
/// or the user's files.
@Suite struct HostileWorkspaceTests {
    // MARK: - Item 7: exactly the commit

    @Test func workspaceHoldsTheCommitsBlobsWhateverAutocrlfAttributesAndFiltersSay() throws {
        let lines = "first\nsecond\n", stamp = "/* $Id$ */\n", rot = "hello\n"
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          copy:
            cmd: mkdir -p build && cat spec/data/lines.txt spec/data/stamp.c spec/data/rot.txt > build/all.txt
            deps: [spec/data/lines.txt, spec/data/stamp.c, spec/data/rot.txt]
            outs: [build/all.txt]
        """, files: [
            ".gitattributes": "*.txt text eol=crlf\n*.c ident\nrot.txt filter=rot13\n",
            "spec/data/lines.txt": lines, "spec/data/stamp.c": stamp, "spec/data/rot.txt": rot,
        ])
        // What a Windows clone or a careful teammate's config says; none of it may reach the stage.
        try appendGitConfig(h, "[core]\n\tautocrlf = true\n\teol = crlf\n\tsymlinks = false\n[filter \"rot13\"]\n\tsmudge = tr a-z n-za-m\n")
        let outcome = try h.reconcile()
        #expect(outcome.result?.outcomes["copy"]?.status == .succeeded)
        let digest = try #require(try h.state()?.stages["copy"]?.outputs["build/all.txt"])
        #expect(digest == SHA256Hasher.digest(lines + stamp + rot), "the stage read converted files")
    }

    @Test func lfsFileReachesTheStageAsItsContentIdentifiedByItsOidAndVerified() throws {
        let content = String(repeating: "weights 0123456789\n", count: 500)
        let oid = SHA256Hasher.digest(content)
        let h = try lfsHarness(pointerFor: content)
        // Planning identifies the file by the pointer's oid; the object need not be here to plan.
        let planned = try #require(try h.plan().stage("use"))
        #expect(planned.deps["spec/data/model.bin"] == .known("sha256:\(oid.hex)"))
        #expect(planned.externalDeps.isEmpty, "an LFS file is tracked, not untracked data from the working tree")
        try writeLFSObject(h, content)
        let outcome = try h.reconcile()
        #expect(outcome.result?.outcomes["use"]?.status == .succeeded, "\(outcome.result?.outcomes["use"]?.logTail ?? "")")
        #expect(outcome.result?.outcomes["folder"]?.status == .succeeded, "\(outcome.result?.outcomes["folder"]?.logTail ?? "")")
        let state = try #require(try h.state())
        #expect(state.stages["use"]?.inputs["spec/data/model.bin"] == "sha256:\(oid.hex)")
        #expect(state.stages["use"]?.outputs["build/model.bin"] == oid, "the stage read the pointer, not the content")
        // A tracked folder holding an LFS file: the folder is identified by git, its LFS file arrives as content.
        #expect(state.stages["folder"]?.outputs["build/folder.bin"] == oid)
    }

    @Test func missingOrCorruptLFSObjectIsAClearErrorNeverThePointerText() throws {
        let content = String(repeating: "weights\n", count: 300)
        let h = try lfsHarness(pointerFor: content, onlyUse: true)
        let missing = try h.reconcile()
        let use = try #require(missing.result?.outcomes["use"])
        #expect(use.status == .failed)
        let why = use.logTail ?? ""
        #expect(why.contains("spec/data/model.bin") && why.contains("git lfs fetch") && why.contains("git lfs pull"), "\(why)")
        #expect(!why.contains("git-lfs.github.com/spec"))
        #expect(try h.ran().isEmpty, "the stage started with the pointer text as its input")

        // An object whose bytes are not the pointer's oid is refused the same way.
        try writeLFSObject(h, content, bytes: "tampered\n")
        let corrupt = try h.reconcile()
        let again = try #require(corrupt.result?.outcomes["use"])
        #expect(again.status == .failed)
        #expect((again.logTail ?? "").contains("does not match"), "\(again.logTail ?? "")")
        #expect(try h.ran().isEmpty)
    }

    @Test func gitInsideAStageFindsTheWorkspaceNeverTheUsersRepository() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          look:
            cmd: printf '%s\\n' "$PLUMB_COMMIT" > $SIDE.commit && printf '%s\\n' "$GIT_CEILING_DIRECTORIES" > $SIDE.ceiling
        """, files: ["spec/data.txt": "committed\n"])
        try h.scratch.write("spec/data.txt", "an uncommitted edit\n")
        let outcome = try h.reconcile()
        #expect(outcome.result?.outcomes["look"]?.status == .succeeded)
        #expect(try String(contentsOfFile: h.sideFile + ".commit", encoding: .utf8) == outcome.plan.commit.hex + "\n")
        // Discovery from inside the workspace (as git, libgit2, GitPython or dvclive do it) stops at the workspace,
        // which holds the planned commit and nothing of the working tree.
        let workspace = try h.project().workspace(for: outcome.plan.environment)
        let found = try Repository(discovering: workspace + "/spec")
        #expect(found.root != h.root && !found.root.hasPrefix(h.root + "/.git"), "found \(found.root)")
        #expect(try found.head().commit == outcome.plan.commit)
        #expect(try found.workingTreeChanges(against: outcome.plan.commit, paths: ["spec"]).isEmpty)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/git")))
    func gitBinaryInAStageNeitherSeesNorWritesTheUsersWorkingTree() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          look:
            cmd: >-
              git rev-parse HEAD > $SIDE.head && git status --porcelain --untracked-files=no > $SIDE.status &&
              mkdir -p "$(git rev-parse --show-toplevel)/.dvc" && touch "$(git rev-parse --show-toplevel)/.dvc/config"
        """, files: ["spec/data.txt": "committed\n"])
        try h.scratch.write("spec/data.txt", "an uncommitted edit\n")
        let outcome = try h.reconcile()
        #expect(outcome.result?.outcomes["look"]?.status == .succeeded, "\(outcome.result?.outcomes["look"]?.logTail ?? "")")
        #expect(try String(contentsOfFile: h.sideFile + ".head", encoding: .utf8) == outcome.plan.commit.hex + "\n")
        #expect(try String(contentsOfFile: h.sideFile + ".status", encoding: .utf8) == "", "git saw the user's edits")
        #expect(!FileManager.default.fileExists(atPath: h.root + "/.dvc"), "a tool in the stage wrote into the user's working tree")
    }

    @Test func lfsPointerParsingIsStrict() {
        let oid = String(repeating: "ab", count: 32)
        let cases: [(String, String, Bool)] = [
            ("canonical", "version https://git-lfs.github.com/spec/v1\noid sha256:\(oid)\nsize 12\n", true),
            ("no final newline", "version https://git-lfs.github.com/spec/v1\noid sha256:\(oid)\nsize 12", false),
            ("upper-case oid", "version https://git-lfs.github.com/spec/v1\noid sha256:\(oid.uppercased())\nsize 12\n", false),
            ("short oid", "version https://git-lfs.github.com/spec/v1\noid sha256:abcd\nsize 12\n", false),
            ("other version", "version https://example.com/v9\noid sha256:\(oid)\nsize 12\n", false),
            ("signed size", "version https://git-lfs.github.com/spec/v1\noid sha256:\(oid)\nsize -1\n", false),
            ("crlf", "version https://git-lfs.github.com/spec/v1\r\noid sha256:\(oid)\r\nsize 12\r\n", false),
            ("ordinary text", "hello\n", false),
        ]
        for (name, text, valid) in cases {
            let pointer = LFSPointer(parsing: Data(text.utf8))
            #expect((pointer != nil) == valid, "\(name)")
            if valid { #expect(pointer?.oid.hex == oid && pointer?.size == 12) }
        }
    }

    // MARK: - Item 8: no corruption of each other or of the user's files

    @Test func untrackedDataDepIsNotWritableThroughTheWorkspace() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          careless:
            cmd: chmod u+w data/big.csv; echo evil >> data/big.csv; mkdir -p build && cp data/big.csv build/out.csv
            deps: [data/big.csv]
            outs: [build/out.csv]
        """, files: [".gitignore": ".plumb/\ndata/\n"])
        try h.scratch.write("data/big.csv", "a,b\n1,2\n")
        let outcome = try h.reconcile()
        #expect(try h.scratch.read("data/big.csv") == "a,b\n1,2\n", "the stage wrote into the user's file")
        // The stage changed its own input, so what it read is not what the record would name.
        let careless = try #require(outcome.result?.outcomes["careless"])
        #expect(careless.status == .failed)
        #expect((careless.logTail ?? "").contains("data/big.csv"))
    }

    @Test func aSiblingCannotChangeAnUpstreamOutputInPlaceForTheOthers() throws {
        let h = try PipelineHarness(pipeline: siblings(version: 1))
        for version in [1, 2] {
            if version == 2 {
                // prep is unchanged now: its output comes from the cache for the two consumers.
                try h.edit("spec/pipeline.yaml", siblings(version: 2))
            }
            let outcome = try h.reconcile(jobs: 1)
            let outcomes = try #require(outcome.result?.outcomes)
            #expect(outcomes["a-mutate"]?.status == .failed, "round \(version)")
            let tail = outcomes["a-mutate"]?.logTail ?? ""
            #expect(tail.contains("build/data.txt"), "round \(version)")
            // b-read's record names prep's digest as its input: it must have read exactly that.
            #expect(outcomes["b-read"]?.status == .succeeded, "round \(version)")
            #expect(outcomes["b-read"]?.inputs["build/data.txt"] == "sha256:\(SHA256Hasher.digest("original\n").hex)")
            #expect(outcomes["b-read"]?.outputs["build/b.txt"] == SHA256Hasher.digest("original\n"), "round \(version)")
        }
    }

    @Test func aStageCannotChangeATrackedDepForTheStagesAfterIt() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          a-mutate:
            cmd: rm -f spec/data/table.csv; echo evil > spec/data/table.csv; mkdir -p build && echo done > build/a.txt
            deps: [spec/data/table.csv]
            outs: [build/a.txt]
          b-read:
            cmd: mkdir -p build && cat spec/data/*.csv > build/b.txt
            deps: [spec/data]
            outs: [build/b.txt]
        """, files: ["spec/data/table.csv": "x,y\n", "spec/data/other.csv": "z\n"])
        let outcome = try h.reconcile(jobs: 1)
        let outcomes = try #require(outcome.result?.outcomes)
        #expect(outcomes["a-mutate"]?.status == .failed)
        #expect(outcomes["b-read"]?.status == .succeeded, "\(outcomes["b-read"]?.logTail ?? "")")
        #expect(outcomes["b-read"]?.outputs["build/b.txt"] == SHA256Hasher.digest("z\nx,y\n"), "b-read read a sibling's edit of a tracked file")
    }

    @Test func anInputSharedByParallelStagesIsCompleteBeforeEitherStarts() throws {
        let h = try PipelineHarness(pipeline: sharedInput(version: 1))
        #expect(try h.reconcile().result?.status == .succeeded)
        for version in 2...4 {
            // prep is unchanged: both consumers need its folder from the cache, at the same moment.
            try h.edit("spec/pipeline.yaml", sharedInput(version: version))
            let outcome = try h.reconcile(jobs: 2)
            for name in ["left", "right"] {
                let o = outcome.result?.outcomes[name]
                #expect(o?.status == .succeeded, "round \(version), \(name): \(o?.logTail ?? "")")
            }
        }
    }

    @Test func aPrivateOutputDoesNotBecomeAWorldReadableCacheObject() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          secret:
            cmd: >-
              mkdir -p build/dir && (umask 077 && echo s3cret > build/key.pem && echo hidden > build/dir/private) &&
              echo shared > build/dir/public && chmod 644 build/dir/public &&
              printf '#!/bin/sh\\necho hi\\n' > build/dir/tool.sh && chmod 755 build/dir/tool.sh
            outs: [build/key.pem, build/dir]
        """)
        #expect(try h.reconcile().result?.status == .succeeded)
        let project = try h.project()
        func mode(_ path: String) -> mode_t { var s = stat(); stat(path, &s); return s.st_mode & 0o777 }
        let key = SHA256Hasher.digest("s3cret\n"), hidden = SHA256Hasher.digest("hidden\n")
        #expect(mode(project.cache.objectPath(key)) & 0o077 == 0, "a 0600 output became a world-readable object")
        #expect(mode(project.cache.objectPath(hidden)) & 0o077 == 0)
        #expect(mode(project.cache.objectPath(SHA256Hasher.digest("shared\n"))) & 0o044 == 0o044)
        // Materialised again (a consumer's workspace, `plumb checkout`), modes come back as they were.
        let outputs = try #require(try h.state()?.stages["secret"]?.outputs)
        let target = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: target) }
        for (path, digest) in outputs { try project.cache.materialize(digest, at: target + "/" + path) }
        #expect(mode(target + "/build/key.pem") == 0o600)
        #expect(mode(target + "/build/dir/private") == 0o600)
        #expect(mode(target + "/build/dir/public") == 0o644)
        #expect(mode(target + "/build/dir/tool.sh") == 0o755, "the manifest's executable bit")
    }
}

// MARK: - Fixtures

private func appendGitConfig(_ h: PipelineHarness, _ text: String) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: h.root + "/.git/config"))
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(text.utf8))
}

private func lfsPointer(for content: String) -> String {
    "version https://git-lfs.github.com/spec/v1\noid sha256:\(SHA256Hasher.digest(content).hex)\nsize \(content.utf8.count)\n"
}

/// A repository tracking `spec/data/model.bin` as a Git LFS pointer (made by hand: no git-lfs needed),
/// with a stage using the file and one using its folder.
private func lfsHarness(pointerFor content: String, onlyUse: Bool = false) throws -> PipelineHarness {
    let folder = onlyUse ? "" : """

      folder:
        cmd: mkdir -p build && cp spec/data/model.bin build/folder.bin
        deps: [spec/data]
        outs: [build/folder.bin]
    """
    return try PipelineHarness(pipeline: """
    version: 1
    stages:
      use:
        cmd: echo use >> $SIDE && mkdir -p build && cp spec/data/model.bin build/model.bin
        deps: [spec/data/model.bin]
        outs: [build/model.bin]
    """ + folder, files: [
        ".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n",
        "spec/data/model.bin": lfsPointer(for: content),
        "spec/data/readme.txt": "about the model\n",
    ])
}

/// Puts an object where git-lfs keeps it: `.git/lfs/objects/<aa>/<bb>/<oid>`.
private func writeLFSObject(_ h: PipelineHarness, _ content: String, bytes: String? = nil) throws {
    let oid = SHA256Hasher.digest(content).hex
    let folder = "\(h.root)/.git/lfs/objects/\(oid.prefix(2))/\(oid.dropFirst(2).prefix(2))"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try Data((bytes ?? content).utf8).write(to: URL(fileURLWithPath: folder + "/" + oid))
}

/// prep writes build/data.txt; a-mutate changes it in place (as a careless stage would); b-read copies it.
private func siblings(version: Int) -> String {
    """
    version: 1
    stages:
      prep:
        cmd: mkdir -p build && echo original > build/data.txt
        outs: [build/data.txt]
      a-mutate:
        cmd: chmod u+w build/data.txt; echo evil >> build/data.txt; echo done > build/a.txt && echo v\(version) >/dev/null
        deps: [build/data.txt]
        outs: [build/a.txt]
      b-read:
        cmd: cp build/data.txt build/b.txt && echo v\(version) >/dev/null
        deps: [build/data.txt]
        outs: [build/b.txt]
    """
}

/// prep writes a folder big enough that copying it from the cache takes a while; two consumers read all of it.
private func sharedInput(version: Int) -> String {
    """
    version: 1
    stages:
      prep:
        cmd: mkdir -p build/big && for i in $(seq 1 300); do head -c 65536 /dev/urandom > build/big/f$i; done
        outs: [build/big]
      left:
        cmd: test "$(cat build/big/* | wc -c)" -eq 19660800 && echo ok > build/left.txt && echo v\(version) >/dev/null
        deps: [build/big]
        outs: [build/left.txt]
      right:
        cmd: test "$(cat build/big/* | wc -c)" -eq 19660800 && echo ok > build/right.txt && echo v\(version) >/dev/null
        deps: [build/big]
        outs: [build/right.txt]
    """
}
