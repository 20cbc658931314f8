import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct ValidateCommandTests {
    @Test func validSpecPrintsASummary() {
        let output = ValidateCommand.render(SpecLoader.load(from: SampleSpec.source), json: false, quiet: false)
        #expect(output == .init(stdout: "spec is valid: 4 stages, 2 environments\n", stderr: "", exitCode: 0))
        #expect(ValidateCommand.render(SpecLoader.load(from: SampleSpec.source), json: false, quiet: true).stdout == "")
    }

    @Test func invalidSpecPrintsSortedDiagnosticsOnStderr() {
        var files = SampleSpec.files
        files["environments/staging.yaml"] = "from: dve\n"
        files[SpecPaths.pipeline] = SampleSpec.pipeline.replacingOccurrences(of: "retries: 2", with: "retrys: 2")
        let output = ValidateCommand.render(SpecLoader.load(from: MemorySpecSource(files, tracked: SampleSpec.tracked)), json: false, quiet: false)
        #expect(output.exitCode == 1)
        #expect(output.stdout == "")
        #expect(output.stderr == """
        environments/staging.yaml:1:7: error: environment 'staging' promotes from 'dve', which is not an environment
          hint: did you mean 'dev'?
        spec/pipeline.yaml:17:5: error: unknown key 'retrys' in stage 'train'
          hint: did you mean 'retries'?
        2 errors

        """)
    }

    @Test func jsonOutputCarriesEveryField() throws {
        let files = [SpecPaths.pipeline: "version: 1\nstages: {a: {cmd: x, deps: [nowhere]}}\n"]
        let output = ValidateCommand.render(SpecLoader.load(from: MemorySpecSource(files)), json: true, quiet: false)
        #expect(output.exitCode == 1)
        #expect(output.stderr == "")
        let doc = try JSONDecoder().decode(JSONValue.self, from: Data(output.stdout.utf8))
        #expect(doc.value(at: "valid") == .bool(false))
        guard case let .array(items)? = doc.value(at: "diagnostics"), case let .object(first)? = items.first else {
            Issue.record("no diagnostics in \(output.stdout)"); return
        }
        #expect(Set(first.keys) == ["file", "line", "column", "severity", "message", "hint"])
        #expect(first["file"] == .string("spec/pipeline.yaml"))
        #expect(first["line"] == .int(2))
        #expect(first["severity"] == .string("error"))

        let valid = ValidateCommand.render(SpecLoader.load(from: SampleSpec.source), json: true, quiet: false)
        // Decoded rather than matched: Foundation releases differ on the space before the colon.
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(valid.stdout.utf8)).value(at: "valid") == .bool(true))
        #expect(valid.exitCode == 0)
    }

    /// The working tree is read with HEAD for tracking: an uncommitted, untracked dep still
    /// exists on disk (valid), a deleted one is reported, and --ref reads the commit as it was.
    @Test func readsTheWorkingTreeOrACommitOfARealRepository() throws {
        let scratch = try ScratchRepository()
        try scratch.write(SpecPaths.pipeline, "version: 1\nstages:\n  a:\n    cmd: x\n    deps: [spec/a.py]\n")
        try scratch.write("spec/a.py", "print()\n")
        try scratch.commit()
        #expect(SpecLoader.load(from: try ValidateCommand.source(repo: scratch.root, ref: nil)).spec != nil)

        try scratch.write(SpecPaths.pipeline, "version: 1\nstages:\n  a:\n    cmd: x\n    deps: [spec/b.py]\n")
        let working = SpecLoader.load(from: try ValidateCommand.source(repo: scratch.root + "/spec", ref: nil))
        #expect(working.diagnostics.map(\.message) == ["stage 'a' depends on 'spec/b.py', which no stage produces and git does not track"])
        let committed = SpecLoader.load(from: try ValidateCommand.source(repo: scratch.root, ref: "HEAD"))
        #expect(committed.spec != nil)
        #expect(throws: (any Error).self) { try ValidateCommand.source(repo: scratch.root, ref: "no-such-branch") }
    }

    @Test func aFolderOutsideGitIsStillValidated() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/spec", withIntermediateDirectories: true)
        try Data("version: 1\nstages: {a: {cmd: x}}\n".utf8).write(to: URL(fileURLWithPath: folder + "/" + SpecPaths.pipeline))
        let source = try ValidateCommand.source(repo: folder, ref: nil)
        #expect(SpecLoader.load(from: source).spec != nil)
        #expect(throws: (any Error).self) { try ValidateCommand.source(repo: folder, ref: "HEAD") }
    }

    @Test func bothCommandsAreRegistered() {
        let names = PlumbCommands.all.map(\.name)
        #expect(names.contains("validate") && names.contains("schema"))
    }
}
