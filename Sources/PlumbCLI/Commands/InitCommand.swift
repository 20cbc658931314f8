import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb init`: a starting pipeline for a team's own repository.
struct InitCommand: PlumbCommand {
    package static let name = "init"
    package static let abstract = "Scaffold a starting pipeline, environments and .gitignore entries."
    package static let discussion = """
    Writes a commented, runnable spec/pipeline.yaml and spec/params.yaml, environments dev,
    staging and prod, and the .gitignore entries Plumb needs (.plumb/, build/, deployments/).
    Refuses to overwrite anything that exists. Creates the git repository if there is none.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments

    var global: GlobalOptions

    package init(_ parsed: ParsedArguments) throws { global = GlobalOptions(parsed) }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let fm = FileManager.default
        let quiet = global.quiet || global.json
        var root = URL(fileURLWithPath: global.repo).standardizedFileURL.path
        if let repo = try? Repository(discovering: root), let workdir = repo.workingDirectory {
            root = workdir.standardizedFileURL.path
        } else {
            _ = try Repository.create(at: root)
            if !quiet { terminal.print("Created a git repository in \(root).") }
        }
        let existing = Scaffold.files.map(\.path).filter { fm.fileExists(atPath: root + "/" + $0) }
            + (fm.fileExists(atPath: root + "/environments") ? ["environments/"] : [])
        guard existing.isEmpty else {
            throw PlumbError("refusing to overwrite \(existing.joined(separator: ", "))",
                             hint: "plumb init starts a new pipeline; edit the existing files instead")
        }
        for (path, content) in Scaffold.files {
            let url = URL(fileURLWithPath: root + "/" + path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
            if !quiet { terminal.print("\(terminal.styled("+", .green)) \(path)") }
        }
        let ignorePath = root + "/.gitignore"
        let current = (try? String(contentsOfFile: ignorePath, encoding: .utf8)) ?? ""
        let lines = Set(current.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        let missing = Scaffold.ignored.filter { !lines.contains($0) }
        if !missing.isEmpty {
            let prefix = current.isEmpty || current.hasSuffix("\n") ? "" : "\n"
            try Data((current + prefix + missing.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: ignorePath))
            if !quiet { terminal.print("\(terminal.styled("~", .yellow)) .gitignore (\(missing.joined(separator: ", ")))") }
        }
        if !quiet {
            terminal.print("""

            Next steps:
              plumb validate                      check the spec (errors point at file:line:col)
              git add -A && git commit -m "Start a Plumb pipeline"
              plumb plan                          what would run, and why
              plumb reconcile                     run it for dev and record the result in history/
              plumb promote dev staging           when evaluate.accuracy passes staging's gates
            """)
        }
        if global.json {
            struct InitReport: Encodable { var root: String; var created: [String]; var gitignore: [String] }
            try terminal.printJSON(InitReport(root: root, created: Scaffold.files.map(\.path), gitignore: missing))
        }
        return PlumbCLI.ExitCode.ok
    }
}
