import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// `plumb import dvc` through the built binary: what it writes, what it refuses, and what
/// --dry-run, --force and --json change. What the import says of each dvc.yaml line is
/// ImportGoldenTests'; the runs it leads to are DVCImportEndToEndTests'.
@Suite struct ImportCommandTests {
    static let dvcYAML = """
    stages:
      train:
        cmd: python3 src/train.py
        deps: [src/train.py]
        params: [train.lr]
        outs: [model.pkl]
        metrics:
          - metrics.json:
              cache: false

    """

    static func project(_ dvc: String = dvcYAML) throws -> ScratchRepository {
        let scratch = try ScratchRepository()
        try scratch.write("dvc.yaml", dvc)
        try scratch.write("params.yaml", "train:\n  lr: 0.1\n")
        try scratch.write("src/train.py", "print('train')\n")
        try scratch.write(".gitignore", "/model.pkl\n")
        try scratch.commit("a DVC project")
        return scratch
    }

    func plumb(_ scratch: ScratchRepository, _ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(plumbExecutable(), arguments, in: scratch.root)
    }

    @Test func importWritesAValidSpecThatReadsParamsYAMLAndIgnoresPlumbsFolder() throws {
        let scratch = try Self.project()
        let result = try plumb(scratch, "import", "dvc")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("+ spec/pipeline.yaml"))
        #expect(result.stderr.contains("dvc.yaml:5:14: mapped: param train.lr of params.yaml, as params.yaml:train.lr"), "\(result.stderr)")
        #expect(result.stderr.contains("Import: "))
        let spec = try scratch.read("spec/pipeline.yaml")
        #expect(spec.contains("- params.yaml:train.lr") && spec.contains("- metrics.json: {cache: false}"), "\(spec)")
        #expect(try scratch.read(".gitignore") == "/model.pkl\n.plumb/\n")
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/spec/params.yaml"), "params stay in params.yaml")
        #expect(try plumb(scratch, "validate").status == 0)
        // Run a second time, the spec is kept.
        let again = try plumb(scratch, "import", "dvc")
        #expect(again.status == 1 && again.stderr.contains("refusing to overwrite spec/pipeline.yaml") && again.stderr.contains("--force"), "\(again.stderr)")
        #expect(try scratch.read(".gitignore") == "/model.pkl\n.plumb/\n", ".plumb/ is added once")
    }

    @Test func dryRunPrintsTheSpecOnStdoutAndWritesNothing() throws {
        let scratch = try Self.project()
        let result = try plumb(scratch, "import", "dvc", "-n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("# Imported from dvc.yaml") && result.stdout.contains("  train:\n    cmd: python3 src/train.py\n"), "\(result.stdout)")
        #expect(result.stderr.contains("dvc.yaml:3:10: mapped: cmd, unchanged") && result.stderr.contains("Nothing written (--dry-run)"))
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/spec"))
        #expect(try scratch.read(".gitignore") == "/model.pkl\n")
        // What --dry-run prints is what the import writes.
        #expect(try plumb(scratch, "import", "dvc").status == 0)
        #expect(try scratch.read("spec/pipeline.yaml") == result.stdout)
    }

    @Test func forceReplacesAnExistingSpecAndDryRunDoesNotNeedIt() throws {
        let scratch = try Self.project()
        try scratch.write("spec/pipeline.yaml", "version: 1\nstages: {}\n")
        #expect(try plumb(scratch, "import", "dvc", "--dry-run").status == 0, "a dry run writes nothing, so it overwrites nothing")
        #expect(try scratch.read("spec/pipeline.yaml") == "version: 1\nstages: {}\n")
        let forced = try plumb(scratch, "import", "dvc", "--force")
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("~ spec/pipeline.yaml"))
        #expect(try scratch.read("spec/pipeline.yaml").contains("params.yaml:train.lr"))
    }

    @Test func aSpecPlumbRefusesIsNotWrittenAndEachProblemPointsAtItsDVCLine() throws {
        // Both stages write model.pkl: DVC refuses that too, and so does Plumb's validator.
        let scratch = try Self.project("""
        stages:
          a:
            cmd: touch model.pkl
            outs: [model.pkl]
          b:
            cmd: touch model.pkl
            outs: [model.pkl]

        """)
        let result = try plumb(scratch, "import", "dvc")
        #expect(result.status == 1)
        #expect(result.stderr.contains("dvc.yaml:7:12: unsupported: Plumb's validator refuses the imported spec (spec/pipeline.yaml:11:9): stage 'b' writes 'model.pkl', which stage 'a' also writes"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing was written"))
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/spec/pipeline.yaml"))
    }

    @Test func jsonHasTheSpecTheNotesAndWhetherItWasWritten() throws {
        let scratch = try Self.project()
        let result = try plumb(scratch, "import", "dvc", "--dry-run", "--json")
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["written"] as? Bool == false && object["valid"] as? Bool == true)
        #expect((object["pipeline"] as? String)?.contains("params.yaml:train.lr") == true)
        let notes = try #require(object["notes"] as? [[String: Any]])
        let kinds = Set(notes.compactMap { $0["kind"] as? String })
        #expect(kinds.isSubset(of: ["mapped", "approximated", "unsupported"]) && kinds.contains("mapped"))
        let first = try #require(notes.first?["location"] as? [String: Any])
        #expect(first["file"] as? String == "dvc.yaml" && first["line"] as? Int == 3)
    }

    @Test func withoutADVCProjectOrWithAnotherToolItSaysWhatItReads() throws {
        let scratch = try ScratchRepository()
        let none = try plumb(scratch, "import", "dvc")
        #expect(none.status == 1 && none.stderr.contains("error: no dvc.yaml in the working tree"), "\(none.stderr)")
        let json = try plumb(scratch, "import", "dvc", "--json")
        #expect(json.status == 1 && json.stderr.isEmpty && json.stdout.contains("no dvc.yaml in the working tree"), "\(json.stderr)")
        let other = try plumb(scratch, "import", "airflow")
        #expect(other.status == 64 && other.stderr.contains("cannot import from 'airflow'"), "\(other.stderr)")
        let broken = try Self.project("stages:\n  train: [\n")
        let syntax = try plumb(broken, "import", "dvc")
        #expect(syntax.status == 1 && syntax.stderr.contains("dvc.yaml:3:1: error: YAML syntax"), "\(syntax.stderr)")
    }
}
