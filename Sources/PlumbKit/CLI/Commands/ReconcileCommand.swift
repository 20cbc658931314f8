import Foundation

/// `plumb reconcile`: run what changed and record it in history/.
public struct ReconcileCommand: PlumbCommand {
    public static let name = "reconcile"
    public static let abstract = "Run the stages whose inputs changed and commit the result to history/."
    public static let discussion = """
    Diffs the environment's desired state at a commit (default: HEAD of the current branch) against
    history/<env>/state.json of that commit, runs only what changed in a workspace under .plumb/work/<env>/
    (never in your working tree), and records one commit on the branch: plumb(<env>): … [skip ci].
    A reconcile with nothing to do commits nothing. --dry-run is `plumb plan`.
    """
    public static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .option("--ref", value: "BRANCH", help: "Reconcile this branch instead of the current one."),
        .flag("--dry-run", "-n", help: "Print the plan and stop; writes nothing."),
        .option("--jobs", "-j", value: "N", help: "Run up to N stages at once (default: the number of cores)."),
        .option("--force", value: "STAGE", help: "Run STAGE whatever its state (repeatable)."),
        .flag("--detailed-exitcode", help: "With --dry-run: exit 0 when nothing to do, 2 when changes are pending."),
    ]

    var global: GlobalOptions
    var ref: String?
    var dryRun: Bool
    var jobs: Int
    var forced: Set<String>
    var detailedExitCode: Bool

    public init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        ref = parsed.option("--ref")
        dryRun = parsed.flag("--dry-run")
        jobs = try parsed.option("--jobs", as: "a positive number") { Int($0).flatMap { $0 > 0 ? $0 : nil } }
            ?? ProcessInfo.processInfo.activeProcessorCount
        forced = Set(parsed.options("--force"))
        detailedExitCode = parsed.flag("--detailed-exitcode")
    }

    public func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        Project.keepUntilExit(project)
        let reconciler = Reconciler(project: project, terminal: terminal)
        if dryRun {
            let (_, plan) = try reconciler.plan(ref: ref, environment: global.env, forced: forced)
            try PlanCommand.print(plan, json: global.json, terminal: terminal)
            return PlanCommand.exitCode(for: plan, detailed: detailedExitCode)
        }
        SignalHandling.install()
        let outcome = try reconciler.reconcile(ref: ref, environment: global.env, forced: forced, jobs: jobs) { plan in
            if !global.json && !global.quiet {
                terminal.print(PlanRenderer(terminal: terminal).render(plan))
                if plan.hasChanges && plan.errors.isEmpty { terminal.print("") }
            }
        }
        if global.json {
            let report = ReconcileReport(plan: outcome.plan, run: outcome.record, commit: outcome.commit)
            terminal.print(String(decoding: try RecordJSON.encode(report), as: UTF8.self).trimmingCharacters(in: .newlines))
        } else if let record = outcome.record, let commit = outcome.commit {
            Self.printSummary(record, commit: commit, project: project, terminal: terminal)
        }
        guard let record = outcome.record else { return PlumbCLI.ExitCode.ok }
        return record.status == .succeeded ? PlumbCLI.ExitCode.ok : PlumbCLI.ExitCode.failure
    }

    static func printSummary(_ record: RunRecord, commit: ObjectID, project: Project, terminal: Terminal) {
        let counts = Dictionary(grouping: record.stages.values, by: \.status).mapValues(\.count)
        let parts = [StageOutcome.Status.succeeded, .restored, .unchanged, .pinned, .failed, .blocked, .interrupted]
            .compactMap { s in counts[s].map { "\($0) \(s == .succeeded ? "ran" : s.rawValue)" } }
        terminal.print("")
        if !record.metrics.isEmpty {
            terminal.print(terminal.styled("Metrics", .bold))
            let width = record.metrics.keys.map(\.count).max() ?? 0
            for key in record.metrics.keys.sorted() {
                terminal.print("  " + key.padding(toLength: width + 2, withPad: " ", startingAt: 0) + JSONValue.format(record.metrics[key]!))
            }
            terminal.print("")
        }
        for (name, stage) in record.stages.sorted(by: { $0.key < $1.key }) where stage.status == .failed {
            terminal.error(terminal.styled("✘ \(name) failed", .red) + (stage.exitCode.map { " (exit \($0))" } ?? "") + "; last lines of its log:")
            for line in (stage.logTail ?? "").split(separator: "\n", omittingEmptySubsequences: false) { terminal.error("    \(line)") }
            terminal.error("  full log: plumb logs \(record.run) \(name)")
        }
        let verb = record.status == .succeeded ? terminal.styled("Recorded", .green) : terminal.styled("Recorded \(record.status.rawValue) run", .red)
        terminal.print("\(verb) \(record.run) in \(commit.short) on \(record.branch ?? "?"): \(parts.joined(separator: ", ")).")
    }
}

/// `plumb reconcile --json`.
struct ReconcileReport: Codable {
    var plan: Plan
    var run: RunRecord?
    var commit: ObjectID?
}

/// SIGINT and SIGTERM stop the running stages and record the run as interrupted; a second signal exits at once.
public enum SignalHandling {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    public static func install() {
        guard sources.isEmpty else { return }
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if Interruption.requested { _exit(130) }
                Interruption.request()
                FileHandle.standardError.write(Data("\nplumb: stopping the running stages (again to exit at once)\n".utf8))
                RunningProcessGroups.terminateAll(signal: SIGTERM)
            }
            source.resume()
            sources.append(source)
        }
    }
}
