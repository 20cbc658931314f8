import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb validate`: checks the spec (working tree by default, or a commit) and reports
/// every problem at once.
struct ValidateCommand: PlumbCommand {
    package static let name = "validate"
    package static let abstract = "Check spec/ and environments/ for errors."
    package static let discussion = """
    Reads spec/pipeline.yaml, spec/params.yaml and environments/*.yaml from the working tree
    (edits included) or, with --ref, from a commit, and prints every problem as
    file:line:col: error: message. Exits 0 when the spec is valid, 1 otherwise.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        .option("--ref", value: "REV", help: "Validate the spec as committed at REV instead of the working tree."),
    ]

    package var options: GlobalOptions
    /// The revision to read, nil for the working tree.
    package var ref: String?

    package init(_ parsed: ParsedArguments) throws {
        options = GlobalOptions(parsed)
        ref = parsed.option("--ref")
        if let ref, ref.isEmpty { throw UsageError("--ref needs a revision", command: Self.name) }
    }

    package func run() throws -> Int32 {
        let source = try Self.source(repo: options.repo, ref: ref)
        let output = Self.render(SpecLoader.load(from: source), json: options.json, quiet: options.quiet)
        if !output.stdout.isEmpty { FileHandle.standardOutput.write(Data(output.stdout.utf8)) }
        if !output.stderr.isEmpty { FileHandle.standardError.write(Data(output.stderr.utf8)) }
        return output.exitCode
    }

    /// The spec source for `repo` and `ref`: a commit, or the working tree with HEAD telling
    /// what git tracks. A folder outside any repository is still validated (as a working tree).
    package static func source(repo path: String, ref: String?) throws -> SpecSource {
        let repository: Repository
        do {
            repository = try Repository(discovering: path)
        } catch {
            if ref != nil { throw error }
            return WorkingTreeSpecSource(root: path)
        }
        if let ref {
            let commit = try PlumbError.wrap("cannot resolve '\(ref)'") { try repository.resolveCommit(ref) }
            return CommitSpecSource(repository: repository, commit: commit)
        }
        let head = try? repository.head().commit
        guard let workingDirectory = repository.workingDirectory else {
            // A bare repository has no working tree: its HEAD commit is what there is to check.
            guard let head else { throw PlumbError("the bare repository at \(repository.root) has no commits") }
            return CommitSpecSource(repository: repository, commit: head)
        }
        return WorkingTreeSpecSource(root: workingDirectory.path, repository: repository, head: head)
    }

    /// What `plumb validate` prints, separated from printing so tests can check it.
    struct Output: Sendable, Equatable {
        var stdout: String
        var stderr: String
        package var exitCode: Int32
    }

    /// Text or JSON for a load result. Diagnostics go to stderr as text, or into the JSON
    /// document on stdout with `--json`, so a machine reads one stream.
    package static func render(_ result: SpecLoadResult, json: Bool, quiet: Bool) -> Output {
        let valid = result.spec != nil
        let code = valid ? PlumbCLI.ExitCode.ok : PlumbCLI.ExitCode.failure
        let diagnostics = result.diagnostics.sortedForDisplay()
        if json {
            let report = ValidationReport(valid: valid, diagnostics: diagnostics)
            let text = (try? RecordJSON.encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{\"valid\":\(valid)}\n"
            return Output(stdout: text, stderr: "", exitCode: code)
        }
        var stderr = diagnostics.map { $0.description + "\n" }.joined()
        var stdout = ""
        if let spec = result.spec {
            if !quiet {
                let stages = spec.pipeline.stages.count, envs = spec.environments.count
                stdout = "spec is valid: \(stages) stage\(stages == 1 ? "" : "s"), \(envs) environment\(envs == 1 ? "" : "s")\n"
            }
        } else {
            let errors = diagnostics.filter { $0.severity == .error }.count
            stderr += "\(errors) error\(errors == 1 ? "" : "s")\n"
        }
        return Output(stdout: stdout, stderr: stderr, exitCode: code)
    }
}

/// `plumb validate --json`: every diagnostic with all its fields, null where one is absent, so
/// a machine can read each entry the same way.
struct ValidationReport: Encodable {
    var valid: Bool
    var diagnostics: [Diagnostic]

    private enum Keys: String, CodingKey { case valid, diagnostics }
    private enum DiagnosticKeys: String, CodingKey { case file, line, column, severity, message, hint }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(valid, forKey: .valid)
        var list = container.nestedUnkeyedContainer(forKey: .diagnostics)
        for d in diagnostics {
            var entry = list.nestedContainer(keyedBy: DiagnosticKeys.self)
            // encode, not encodeIfPresent: a missing location is `null`, not a missing key.
            try entry.encode(d.location?.file, forKey: .file)
            try entry.encode(d.location?.line, forKey: .line)
            try entry.encode(d.location?.column, forKey: .column)
            try entry.encode(d.severity.rawValue, forKey: .severity)
            try entry.encode(d.message, forKey: .message)
            try entry.encode(d.hint, forKey: .hint)
        }
    }
}
