import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb import dvc`: a Plumb spec from a DVC project's dvc.yaml, with a line-by-line report.
struct ImportCommand: PlumbCommand {
    package static let name = "import"
    package static let abstract = "Write spec/pipeline.yaml from another tool's pipeline (dvc: dvc.yaml)."
    package static let discussion = """
    plumb import dvc reads dvc.yaml (with params.yaml, dvc.lock and the .dvc files of stages'
    deps) at the repository's root and writes the same pipeline as spec/pipeline.yaml. Stages keep
    their commands, so scripts that read params.yaml keep working; their params are read from
    params.yaml itself (params.yaml:train.lr), which stays the one file to edit.

    Every line of dvc.yaml that matters is reported as dvc.yaml:LINE:COL: mapped, approximated
    (Plumb does something close: the message says what differs) or unsupported (left out: the
    hint says what to do). The spec is checked as `plumb validate` would before it is written;
    one Plumb refuses is not written. An existing spec/pipeline.yaml is kept unless --force.
    --dry-run prints the spec on stdout and the report on stderr, and writes nothing.
    """
    package static let arguments: [ArgumentSpec] = [
        ArgumentSpec.positional("tool", help: "The tool whose pipeline to import: dvc.").choosing(["dvc"]),
    ] + GlobalOptions.arguments + [
        .flag("--dry-run", "-n", help: "Print the spec and the report; write nothing."),
        .flag("--force", "-f", help: "Replace an existing spec/pipeline.yaml."),
    ]

    var global: GlobalOptions
    var dryRun: Bool
    var force: Bool

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        dryRun = parsed.flag("--dry-run")
        force = parsed.flag("--force")
        if let tool = parsed.positional("tool"), tool != "dvc" {
            throw UsageError("cannot import from '\(tool)'", hint: "plumb import dvc reads a DVC project's dvc.yaml; it is the only importer", command: Self.name)
        }
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        var root = URL(fileURLWithPath: global.repo).standardizedFileURL.path
        if let repository = try? Repository(discovering: root), let workdir = repository.workingDirectory {
            root = workdir.standardizedFileURL.path
        }
        let target = root + "/" + SpecPaths.pipeline
        let exists = FileManager.default.fileExists(atPath: target)
        if exists, !force, !dryRun {
            throw PlumbError("refusing to overwrite \(SpecPaths.pipeline)",
                             hint: "plumb import dvc --force replaces it; --dry-run prints the import without writing")
        }
        let result = DVCImport.run(try ValidateCommand.source(repo: root, ref: nil))
        guard let pipeline = result.pipeline else {
            if global.json { try terminal.printJSON(Report(result, written: false)); return PlumbCLI.ExitCode.failure }
            for diagnostic in result.diagnostics { terminal.error(diagnostic.description) }
            return PlumbCLI.ExitCode.failure
        }
        let write = result.isValid && !dryRun
        if write {
            try FileManager.default.createDirectory(atPath: root + "/spec", withIntermediateDirectories: true)
            try Data(pipeline.utf8).write(to: URL(fileURLWithPath: target), options: .atomic)
        }
        let ignored = write ? try Self.ignorePlumbFolder(root) : false
        if global.json {
            try terminal.printJSON(Report(result, written: write))
            return result.isValid ? PlumbCLI.ExitCode.ok : PlumbCLI.ExitCode.failure
        }
        if dryRun { FileHandle.standardOutput.write(Data(pipeline.utf8)) }
        for note in result.notes where !(global.quiet && note.kind == .mapped) { terminal.error(note.description) }
        let counts = ImportNote.Kind.allCases.map { "\(result.notes.count($0)) \($0.rawValue)" }.joined(separator: ", ")
        guard result.isValid else {
            let errors = result.diagnostics.filter { $0.severity == .error }.count
            terminal.error("Import: \(counts). Plumb refuses the imported spec (\(errors) error\(errors == 1 ? "" : "s")); \(dryRun ? "" : "nothing was written; ")see the unsupported lines above.")
            return PlumbCLI.ExitCode.failure
        }
        guard write else {
            terminal.error("Import: \(counts). Nothing written (--dry-run).")
            return PlumbCLI.ExitCode.ok
        }
        terminal.error("Import: \(counts).")
        if !global.quiet {
            terminal.print("\(terminal.styled(exists ? "~" : "+", exists ? .yellow : .green)) \(SpecPaths.pipeline)")
            if ignored { terminal.print("\(terminal.styled("~", .yellow)) .gitignore (.plumb/)") }
            terminal.print("""

            Next steps:
              plumb validate                      the spec as Plumb reads it
              git add spec/pipeline.yaml .gitignore && git commit -m "Import the DVC pipeline"
              plumb plan                          what would run, and why
              plumb reconcile                     run it and record the result in history/
            """)
        }
        return PlumbCLI.ExitCode.ok
    }

    /// Adds `.plumb/` (Plumb's cache and workspaces) to .gitignore when it is not there; true if it added it.
    static func ignorePlumbFolder(_ root: String) throws -> Bool {
        let path = root + "/.gitignore"
        let current = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let lines = Set(current.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        guard !lines.contains(".plumb/"), !lines.contains(".plumb"), !lines.contains("/.plumb/"), !lines.contains("/.plumb") else { return false }
        let prefix = current.isEmpty || current.hasSuffix("\n") ? "" : "\n"
        try Data((current + prefix + ".plumb/\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return true
    }

    /// `plumb import dvc --json`: the spec, whether it was written, and every note and diagnostic.
    struct Report: Encodable {
        var written: Bool
        var valid: Bool
        var path: String
        var pipeline: String?
        var notes: [ImportNote]
        var diagnostics: [Diagnostic]

        init(_ result: DVCImportResult, written: Bool) {
            self.written = written
            valid = result.isValid
            path = SpecPaths.pipeline
            pipeline = result.pipeline
            notes = result.notes
            diagnostics = result.diagnostics
        }
    }
}
