import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb logs <run> <stage>`: a stage's captured output, from the cache.
struct LogsCommand: PlumbCommand {
    package static let name = "logs"
    package static let abstract = "Print the log a stage wrote in a run (from the local cache)."
    package static let discussion = """
    The run record keeps the digest of each stage's log; the log itself lives in the content-addressed
    cache (.plumb/cache) of the machine that ran it. A failed stage's last lines are also in the record
    (`plumb show <run>`). Secrets were masked when the log was written; the secrets the stage
    declares at the run's commit, and Plumb's credentials, are masked again as it is printed.

    \(RunHelp.discussion)
    """
    package static let arguments: [ArgumentSpec] = [
        .positional("run", help: RunHelp.positional),
        .positional("stage", help: "A stage of that run."),
    ] + GlobalOptions.arguments + [GlobalOptions.envArgument]

    var global: GlobalOptions
    var runID: String
    var stage: String

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        runID = parsed.positional("run") ?? ""
        stage = parsed.positional("stage") ?? ""
    }

    package func run() throws -> Int32 {
        let project = try Project(path: global.repo)
        let record = try ShowCommand.find(runID, environment: global.env, project: project)
        let runID = record.run
        guard let outcome = record.stages[stage] else {
            let names = record.stages.keys.sorted()
            throw PlumbError("run \(runID) has no stage '\(stage)'",
                             hint: Suggest.closest(to: stage, in: names).map { "did you mean '\($0)'?" } ?? "stages: \(names.joined(separator: ", "))",
                             kind: .usage)
        }
        guard let digest = outcome.log else {
            throw PlumbError("stage '\(stage)' wrote no log in run \(runID): it was \(outcome.status.rawValue), not run")
        }
        guard project.store.contains(digest) else {
            throw PlumbError("the log of '\(stage)' in run \(runID) (\(digest.short)) is not in this machine's cache",
                             hint: "logs stay in the cache of the machine that ran the stage; the record keeps its last lines: `plumb show \(runID)`")
        }
        let redactor = Self.redactor(for: stage, in: record, project: project)
        let log = redactor.redact(String(decoding: try project.store.data(digest), as: UTF8.self))
        if global.json {
            struct LogReport: Encodable { var run: String; var stage: String; var digest: Digest; var log: String }
            try global.terminal().printJSON(LogReport(run: runID, stage: stage, digest: digest, log: log))
        } else if isatty(STDOUT_FILENO) == 1 {
            // On a terminal a stage's escape sequences are shown, not obeyed; piped, the (redacted) log is passed as is.
            FileHandle.standardOutput.write(Data(Escape.terminal(log, keeping: .layout).utf8))
        } else {
            FileHandle.standardOutput.write(Data(log.utf8))
        }
        return PlumbCLI.ExitCode.ok
    }

    /// Masks the current values of the secrets `stage` declares at the run's commit (a log written by
    /// an older Plumb, or a secret that reached it in a form not masked then), with Plumb's credentials.
    static func redactor(for stage: String, in record: RunRecord, project: Project) -> Redactor {
        let loaded = SpecLoader.load(from: CommitSpecSource(repository: project.repository, commit: record.commit))
        guard let spec = loaded.spec else { return .process }
        // The names the stage got in that environment, those scoped to it there included.
        let environmentSpec = spec.environments[record.environment] ?? EnvironmentSpec(name: record.environment)
        let names = spec.pipeline.stage(stage)?.secrets(in: environmentSpec) ?? environmentSpec.secrets
        let environment = ProcessInfo.processInfo.environment
        return Redactor(secrets: names.compactMap { environment[$0] }).merging(.process)
    }
}
