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

    With -f, RUN may also be a run in progress on this machine (`latest` is the newest one going):
    the log is printed as the stage writes it, from its start, until the stage ends, and -f waits for
    a stage that has not started yet. A run that is already recorded prints its log and ends.

    \(RunHelp.discussion)
    """
    package static let arguments: [ArgumentSpec] = [
        .positional("run", help: RunHelp.positional),
        .positional("stage", help: "A stage of that run."),
    ] + GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .flag("--follow", "-f", help: "Follow a running stage's log until the stage ends (like tail -f); ends when the run finishes."),
    ]

    var global: GlobalOptions
    var runID: String
    var stage: String
    var follow: Bool

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        runID = parsed.positional("run") ?? ""
        stage = parsed.positional("stage") ?? ""
        follow = parsed.flag("--follow")
        if follow && global.json { throw UsageError("--follow prints the log as it comes; --json prints a finished one", command: Self.name) }
    }

    package func run() throws -> Int32 {
        let project = try Project(path: global.repo)
        if follow, let running = try LogFollower(project: project).running(try RunReference(parsing: runID)) {
            var output = LogOutput(redactor: Self.liveRedactor(for: stage, environment: global.env, project: project))
            let ending = LogFollower(project: project).follow(run: running, stage: stage) { output.write($0) }
            output.finish()
            if ending == .abandoned {
                throw PlumbError("run \(running) stopped before it was recorded, and '\(stage)' did not finish: no reconcile is going on this clone",
                                 hint: "the log so far is what was printed; reconcile again to run the stage")
            }
            guard case let .runFinished(consumed) = ending else { return PlumbCLI.ExitCode.ok }
            // Recorded before the stage's log was seen to its end: the rest comes from the record's copy in the cache.
            return try printRecorded(ShowCommand.find(running, environment: nil, project: project), project: project, skip: consumed)
        }
        return try printRecorded(ShowCommand.find(runID, environment: global.env, project: project), project: project, skip: 0)
    }

    /// The log of `stage` in a recorded run, after its first `skip` bytes.
    func printRecorded(_ record: RunRecord, project: Project, skip: Int) throws -> Int32 {
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
        let log = redactor.redact(String(decoding: try project.store.data(digest).dropFirst(skip), as: UTF8.self))
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

    /// For a run in progress: the secrets `stage` declares at HEAD in the environment (--env, or the default one).
    static func liveRedactor(for stage: String, environment: String?, project: Project) -> Redactor {
        guard let snapshot = try? Snapshot.read(project, ref: nil, environment: environment) else { return .process }
        let names = snapshot.spec.pipeline.stage(stage)?.secrets(in: snapshot.environment) ?? snapshot.environment.secrets
        let values = ProcessInfo.processInfo.environment
        return Redactor(secrets: names.compactMap { values[$0] }).merging(.process)
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

/// Writes a followed log to stdout a line at a time, each line masked (and, on a terminal, its escape
/// sequences shown rather than obeyed), so a secret or a sequence split across two reads is still caught.
struct LogOutput {
    let redactor: Redactor
    let terminal = isatty(STDOUT_FILENO) == 1
    var pending: [UInt8] = []

    mutating func write(_ data: Data) {
        pending += data
        guard let last = pending.lastIndex(of: UInt8(ascii: "\n")) else { return }
        var out: [UInt8] = []
        for line in pending[...last].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            out += redactor.redactLine(line) + [UInt8(ascii: "\n")]
        }
        pending.removeSubrange(...last)
        emit(out)
    }

    mutating func finish() {
        guard !pending.isEmpty else { return }
        emit(redactor.redactLine(pending[...]))
        pending = []
    }

    private func emit(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        FileHandle.standardOutput.write(Data((terminal ? Escape.terminal(text, keeping: .layout) : text).utf8))
    }
}
