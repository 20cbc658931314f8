import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// `plumb checkout` and the cache touch only their own places (issue 10, item 2): declared outputs
/// inside the repository, never through a symlinked folder, never over local changes without --force.
@Suite struct HostileCheckoutTests {
    static let folderPipeline = """
    version: 1
    stages:
      make:
        cmd: mkdir -p build/data && echo one > build/data/a.txt && echo two > build/data/b.txt && echo "$(cat spec/v.txt)" > build/model.txt
        deps: [spec/v.txt]
        outs: [build/data, build/model.txt]
    """

    @Test func aCommittedSymlinkAsAnOutputsFolderNeverMakesCheckoutWriteOutside() throws {
        let h = try PipelineHarness(pipeline: Self.folderPipeline, files: ["spec/v.txt": "1\n"])
        try h.reconcile()
        let outside = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: outside + "/model.txt"))
        try FileManager.default.createDirectory(atPath: outside + "/data", withIntermediateDirectories: true)
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: outside + "/data/thesis.tex"))
        // A contributor commits `build` as a link to somewhere else on the machine.
        try FileManager.default.createSymbolicLink(atPath: h.root + "/build", withDestinationPath: outside)
        try h.scratch.commit("link build")

        for arguments in [["checkout"], ["checkout", "--force"]] {
            let r = try runProcess(plumbExecutable(), arguments, in: h.root)
            #expect(r.status == 1, "\(arguments): \(r.stdout)")
            #expect(r.stderr.contains("build is a symbolic link"), "\(arguments): \(r.stderr)")
            #expect(FileManager.default.contents(atPath: outside + "/model.txt") == Data("precious\n".utf8))
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside).sorted() == ["data", "model.txt"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside + "/data") == ["thesis.tex"])
        }
    }

    @Test func aCommittedSymlinkAsAnOutputsFolderNeverMakesAStageDeleteOutsideTheWorkspace() throws {
        let outside = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: outside + "/out.txt"))
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          make:
            cmd: echo new > build/out.txt
            outs: [build/out.txt]
        """)
        try FileManager.default.createSymbolicLink(atPath: h.root + "/build", withDestinationPath: outside)
        try h.scratch.commit("link build")
        let outcome = try h.reconcile()
        let make = try #require(outcome.record?.stages["make"])
        #expect(make.status == .failed)
        #expect(make.logTail?.contains("build is a symbolic link") == true, "\(make.logTail ?? "")")
        #expect(FileManager.default.contents(atPath: outside + "/out.txt") == Data("precious\n".utf8))
    }

    @Test func theCacheNeverMaterializesThroughASymlinkedFolder() throws {
        let h = try PipelineHarness(pipeline: Self.folderPipeline, files: ["spec/v.txt": "1\n"])
        let project = try h.project()
        let digest = try project.cache.storeData(Data("from the cache\n".utf8))
        let root = try temporaryFolder(), outside = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root); try? FileManager.default.removeItem(atPath: outside) }
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: outside + "/x.txt"))
        try FileManager.default.createDirectory(atPath: root + "/a", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/a/link", withDestinationPath: outside)
        #expect(throws: PlumbError.self) { try project.cache.materialize(digest, at: RecordPath("a/link/x.txt")!, under: root) }
        #expect(FileManager.default.contents(atPath: outside + "/x.txt") == Data("precious\n".utf8))
        // A real folder is fine, and missing ones are made.
        try project.cache.materialize(digest, at: RecordPath("a/new/x.txt")!, under: root)
        #expect(FileManager.default.contents(atPath: root + "/a/new/x.txt") == Data("from the cache\n".utf8))
    }

    @Test func checkoutNeverOverwritesLocalEditsOrUntrackedFilesWithoutForce() throws {
        let h = try PipelineHarness(pipeline: Self.folderPipeline, files: ["spec/v.txt": "1\n", ".gitignore": ".plumb/\nbuild/\n"])
        try h.reconcile()
        let first = try runProcess(plumbExecutable(), ["checkout"], in: h.root)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try h.scratch.read("build/model.txt") == "1\n")
        // Checking out what is already there changes nothing and needs no --force.
        #expect(try runProcess(plumbExecutable(), ["checkout"], in: h.root).status == 0)

        // A newer record replaces content the cache holds (the older output) without asking.
        try h.edit("spec/v.txt", "2\n")
        try h.reconcile()
        let newer = try runProcess(plumbExecutable(), ["checkout"], in: h.root)
        #expect(newer.status == 0, "\(newer.stderr)")
        #expect(try h.scratch.read("build/model.txt") == "2\n")

        // Local work the cache does not hold: an edit, and a file added inside an output folder.
        try h.scratch.write("build/model.txt", "hand-tuned\n")
        try h.scratch.write("build/data/notes.md", "my notes\n")
        try h.edit("spec/v.txt", "3\n")
        try h.reconcile()
        let refused = try runProcess(plumbExecutable(), ["checkout"], in: h.root)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("build/model.txt") && refused.stderr.contains("build/data/notes.md"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(try h.scratch.read("build/model.txt") == "hand-tuned\n")
        #expect(try h.scratch.read("build/data/notes.md") == "my notes\n")
        #expect(try h.scratch.read("build/data/a.txt") == "one\n", "nothing at all was written")

        let forced = try runProcess(plumbExecutable(), ["checkout", "--force"], in: h.root)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try h.scratch.read("build/model.txt") == "3\n")
        #expect(!FileManager.default.fileExists(atPath: h.root + "/build/data/notes.md"))
    }

    @Test func checkoutWritesOnlyOutputsTheSpecDeclares() throws {
        let h = try PipelineHarness(pipeline: Self.folderPipeline, files: ["spec/v.txt": "1\n", "notes/todo.txt": "mine\n", ".gitignore": ".plumb/\nbuild/\n"])
        try h.reconcile()
        // A valid, relative path, but no stage declares it: a record must not aim a checkout at it.
        try craftState(h) { setOutput(&$0, stage: "make", path: "build/model.txt", newKey: "notes/todo.txt") }
        let r = try runProcess(plumbExecutable(), ["checkout"], in: h.root)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("notes/todo.txt") && r.stderr.contains("does not declare"), "\(r.stderr)")
        #expect(try h.scratch.read("notes/todo.txt") == "mine\n")
        #expect(try h.scratch.read("build/data/a.txt") == "one\n", "declared outputs are still written")
    }
}
