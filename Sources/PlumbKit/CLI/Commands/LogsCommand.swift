import Foundation

/// `plumb logs <run> <stage>`: a stage's captured output, from the cache.
public struct LogsCommand: PlumbCommand {
    public static let name = "logs"
    public static let abstract = "Print the log a stage wrote in a run (from the local cache)."
    public static let discussion = """
    The run record keeps the digest of each stage's log; the log itself lives in the content-addressed
    cache (.plumb/cache) of the machine that ran it. A failed stage's last lines are also in the record
    (`plumb show <run>`).
    """
    public static let arguments: [ArgumentSpec] = [
        .positional("run", help: "A run id (see `plumb history`)."),
        .positional("stage", help: "A stage of that run."),
    ] + GlobalOptions.arguments

    var global: GlobalOptions
    var runID: String
    var stage: String

    public init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        runID = parsed.positional("run") ?? ""
        stage = parsed.positional("stage") ?? ""
    }

    public func run() throws -> Int32 {
        let project = try Project(path: global.repo)
        let record = try ShowCommand.find(runID, project: project)
        guard let outcome = record.stages[stage] else {
            let names = record.stages.keys.sorted()
            throw PlumbError("run \(runID) has no stage '\(stage)'",
                             hint: Suggest.closest(to: stage, in: names).map { "did you mean '\($0)'?" } ?? "stages: \(names.joined(separator: ", "))",
                             exitCode: PlumbCLI.ExitCode.usage)
        }
        guard let digest = outcome.log else {
            throw PlumbError("stage '\(stage)' wrote no log in run \(runID): it was \(outcome.status.rawValue), not run")
        }
        guard project.cache.contains(digest) else {
            throw PlumbError("the log of '\(stage)' in run \(runID) (\(digest.short)) is not in this machine's cache",
                             hint: "logs stay in the cache of the machine that ran the stage; the record keeps its last lines: `plumb show \(runID)`")
        }
        let log = try project.cache.data(digest)
        if global.json {
            struct LogReport: Encodable { var run: String; var stage: String; var digest: Digest; var log: String }
            try global.terminal().printJSON(LogReport(run: runID, stage: stage, digest: digest, log: String(decoding: log, as: UTF8.self)))
        } else if isatty(STDOUT_FILENO) == 1 {
            // On a terminal a stage's escape sequences are shown, not obeyed; piped, the log is passed byte for byte.
            FileHandle.standardOutput.write(Data(Escape.terminal(String(decoding: log, as: UTF8.self), keeping: .layout).utf8))
        } else {
            FileHandle.standardOutput.write(log)
        }
        return PlumbCLI.ExitCode.ok
    }
}
