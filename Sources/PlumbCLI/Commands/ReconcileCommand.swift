import Foundation
import Synchronization
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb reconcile`: run what changed and record it in history/.
struct ReconcileCommand: PlumbCommand {
    package static let name = "reconcile"
    package static let abstract = "Run the stages whose inputs changed and commit the result to history/."
    package static let discussion = """
    Diffs the environment's desired state at a commit (default: HEAD of the current branch) against
    history/<env>/state.json of that commit, runs only what changed in a workspace under .plumb/work/<env>/
    (never in your working tree), and records one commit on the branch: plumb(<env>): … [skip ci].
    A reconcile with nothing to do commits nothing. --dry-run is `plumb plan`.
    Naming stages (`plumb reconcile train`, as `dvc repro train` or `terraform -target`) runs
    those and what they need, and with --downstream every stage that depends on them; the other
    stages are not planned and keep their records.

    Ctrl-C (SIGINT) or SIGTERM stops the running stages (their process groups get SIGTERM) and the
    run is committed all the same, as an interrupted run: the stages that finished are recorded with
    their outputs, the others as interrupted, and the next reconcile runs what did not finish. It
    exits 130. A second signal exits 130 at once and commits nothing; the next reconcile restores
    from the cache what had finished. A signal before any stage started (while the drift probes
    run, or while --wait-for-lock waits) commits nothing and exits 130. With --watch a signal ends
    the loop after recording the cycle's run, and it exits 0.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        TargetOptions.stages,
        TargetOptions.downstreamFlag,
        .option("--ref", value: "BRANCH", help: "Reconcile this branch instead of the current one."),
        .flag("--dry-run", "-n", help: "Print the plan and stop; writes nothing."),
        .option("--jobs", "-j", value: "N", help: "Run up to N stages at once (default: the number of cores)."),
        .option("--force", value: "STAGE", help: "Run STAGE whatever its state (repeatable)."),
        .flag("--detailed-exitcode", help: "With --dry-run: exit 0 when nothing to do, 2 when changes are pending."),
        .flag("--no-upload", help: "Record without uploading the run's objects to the shared store (a machine that only reads)."),
    ] + RemoteOptions.arguments(pullHelp: "Fetch the branch from the remote and fast-forward before planning.") + [
        .optionalValue("--wait-for-lock", value: "DURATION",
                       help: "If another reconcile of the environment is running, wait for it (at most DURATION: 30s, 5m; bare: as long as it takes)."),
        .flag("--watch", help: "Keep reconciling: fetch every --interval, reconcile when the desired state changed, push with --push. Stop with Ctrl-C / SIGTERM."),
        .option("--interval", value: "DURATION", help: "With --watch: time between cycles (default: 60s; ±10% jitter; backoff up to 10m after failures)."),
        .option("--report", value: "DIR", help: "Rewrite the HTML report (DIR/index.html, as `plumb report --html`) after each recorded run."),
    ]

    var global: GlobalOptions
    var targets: TargetOptions
    var ref: String?
    var dryRun: Bool
    var jobs: Int
    var forced: Set<String>
    var detailedExitCode: Bool
    var upload: Bool
    var pull: Bool
    var push: Bool
    var remote: String
    var lockWait: Double?
    var watch: Bool
    var interval: Double
    /// `--report DIR`: the folder of the page to rewrite after each recorded run.
    var report: String?

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        targets = try TargetOptions(parsed, command: Self.name)
        ref = parsed.option("--ref")
        dryRun = parsed.flag("--dry-run")
        let remoteOptions = try RemoteOptions(parsed, dryRun: dryRun)
        pull = remoteOptions.pull
        push = remoteOptions.push
        remote = remoteOptions.remote
        jobs = try parsed.option("--jobs", as: "a positive number") { Int($0).flatMap { $0 > 0 ? $0 : nil } }
            ?? ProcessInfo.processInfo.activeProcessorCount
        forced = Set(parsed.options("--force"))
        detailedExitCode = parsed.flag("--detailed-exitcode")
        upload = !parsed.flag("--no-upload")
        // Bare --wait-for-lock: no deadline; the longest duration keeps the date arithmetic finite.
        lockWait = try parsed.duration("--wait-for-lock", empty: DurationParser.maximum)
        watch = parsed.flag("--watch")
        interval = try parsed.duration("--interval") ?? 60
        report = parsed.option("--report")
        if report != nil && dryRun { throw UsageError("--report is rewritten after a recorded run; a dry run records none (use `plumb report --html`)", command: Self.name) }
        if parsed.option("--interval") != nil && !watch { throw UsageError("--interval only applies to --watch", command: Self.name) }
        if watch && (dryRun || detailedExitCode) { throw UsageError("--watch records runs; it cannot be combined with --dry-run", command: Self.name) }
        if watch && !forced.isEmpty { throw UsageError("--force would run the stage on every cycle; use it without --watch", command: Self.name) }
        if watch && targets.stages != nil { throw UsageError("--watch reconciles the whole pipeline; name stages without --watch", command: Self.name) }
        if watch && parsed.flag("--json") { throw UsageError("--watch prints one line per cycle; --json is not supported with it", command: Self.name) }
        if detailedExitCode && !dryRun { throw UsageError("--detailed-exitcode needs --dry-run; without it a real run would happen", command: Self.name) }
    }

    /// The command line, for the lock holder's details.
    static var commandLine: String { (["plumb"] + CommandLine.arguments.dropFirst()).joined(separator: " ") }

    package func run() throws -> Int32 {
        // A dry run with --json prints the one plan object instead.
        try global.streamingJSONLines(global.json && !dryRun, streamsOutput: global.verbose) { try run(terminal: $0, lines: $1) }
    }

    private func run(terminal: Terminal, lines: JSONLinesReconcileView?) throws -> Int32 {
        let project = try Project(path: global.repo)
        Project.keepUntilExit(project)
        let locking = Reconciler.LockPolicy(command: Self.commandLine, wait: lockWait)
        let text = TerminalReconcileView(terminal: terminal, showsPlan: !global.json && !global.quiet)
        let view: ReconcileObserver
        let feedback: Feedback
        if let lines {
            feedback = Feedback(streamOutput: text.feedback.streamOutput || lines.feedback.streamOutput, progress: text.feedback.progress)
            view = ReconcileViews(views: [lines, text], feedback: feedback)
        } else {
            (view, feedback) = (text, text.feedback)
        }
        var reconciler = Reconciler(project: project, observer: withReport(view, feedback: feedback, project: project, terminal: terminal),
                                    feedback: feedback, locking: locking)
        reconciler.upload = upload
        targets.apply(to: &reconciler)
        var sync = RemoteSync(repository: project.repository, remote: remote)
        sync.conflictsDirectory = project.conflictsDirectory
        let branch = try ref ?? project.repository.head().branchName
        if watch {
            guard let branch else { throw PlumbError("--watch needs a branch to track; HEAD is detached", hint: "check out a branch or pass --ref") }
            SignalHandling.install()
            let options = WatchLoop.Options(interval: interval, environment: global.env, branch: branch, remote: remote, push: push, jobs: jobs)
            // Stage progress goes quiet unless --verbose: the loop's own line per cycle is the record.
            let stageTerminal = global.verbose ? terminal : Terminal(noColour: global.noColour, quiet: true)
            let watchView = TerminalReconcileView(terminal: stageTerminal, lines: terminal, showsPlan: false)
            let loop = WatchLoop(project: project, observer: withReport(watchView, feedback: watchView.feedback, project: project, terminal: terminal),
                                 feedback: watchView.feedback, options: options, locking: locking)
            terminal.print("Watching \(branch)\(project.repository.remoteURL(remote) != nil ? " on \(remote)" : " (no remote '\(remote)': local commits only)") every \(formatDuration(interval)); Ctrl-C to stop.")
            loop.run()
            return PlumbCLI.ExitCode.ok
        }
        if pull {
            guard let branch else { throw PlumbError("--pull needs a branch; HEAD is detached", hint: "check out a branch or pass --ref") }
            let result = try sync.pull(branch: branch, ownedPaths: ["history"])
            if !global.quiet && !(global.json && dryRun) {
                switch result {
                case .upToDate: terminal.print("Pulled \(remote)/\(branch): up to date.")
                case let .fastForwarded(to): terminal.print("Pulled \(remote)/\(branch): fast-forwarded to \(to.short).")
                case let .replayed(onto, made): terminal.print("Pulled \(remote)/\(branch): re-made local records on \(onto.short) as \(made.short).")
                case .noRemoteBranch: terminal.print("Pulled \(remote): it has no branch \(branch) yet.")
                case let .discarded(records, to):
                    terminal.print("Pulled \(remote)/\(branch): another writer recorded the same environment first; dropped the local record (kept in .plumb/conflicts/: \(records.joined(separator: ", "))) and moved to \(to.short).")
                }
            }
        }
        if dryRun {
            let (_, plan) = try reconciler.plan(ref: ref, environment: global.env, forced: forced)
            try PlanCommand.print(plan, json: global.json, terminal: terminal)
            return PlanCommand.exitCode(for: plan, detailed: detailedExitCode)
        }
        SignalHandling.install()
        let outcome = try reconciler.reconcile(ref: ref, environment: global.env, forced: forced, jobs: jobs)
        if let record = outcome.record, let commit = outcome.commit {
            Self.printSummary(record, commit: commit, project: project, terminal: terminal)
        }
        var pushed = false
        var commit = outcome.commit
        if push, let branch {
            let sent = try sync.push(branch: branch, ownedPaths: [SpecPaths.history(outcome.plan.environment)])
            pushed = true
            // Another writer pushed first: the record was re-made on top of theirs, under a new id.
            if let made = commit, made != sent {
                if !global.quiet { terminal.print("Pushed \(branch) to \(remote): \(remote) had moved, so the record was re-made on top as \(sent.short) (was \(made.short)).") }
                commit = sent
            } else if !global.quiet {
                terminal.print("Pushed \(branch) to \(remote).")
            }
        }
        let code = outcome.record.map { $0.status == .succeeded ? PlumbCLI.ExitCode.ok : Self.exitCode(of: $0.status) } ?? PlumbCLI.ExitCode.ok
        lines?.emit("summary", JSONLinesReconcileView.summary(plan: outcome.plan, record: outcome.record, commit: commit,
                                                              pushed: pushed, exitCode: code, transfers: project.cache.transfers.current))
        return code
    }

    /// `view`, and with --report the page's refresher after it.
    private func withReport(_ view: ReconcileObserver, feedback: Feedback, project: Project, terminal: Terminal) -> ReconcileObserver {
        guard let report else { return view }
        return ReconcileViews(views: [view, ReportPage.Refresher(project: project, environment: global.env, folder: report, terminal: terminal)],
                              feedback: feedback)
    }

    /// With --verbose, how the run's outputs went into the cache and its inputs came out:
    /// `Cache: stored 2 files (2.1 GB: 2.1 GB by hard link, 1.2 kB copied); 1 already there (4 kB); gave out 1 file (2.1 GB by hard link).`
    static func transfersLine(_ totals: TransferTally.Totals) -> String? {
        guard !totals.isEmpty else { return nil }
        func ways(_ pick: (Transfer) -> TransferTally.Count) -> String? {
            let parts: [(Transfer, String)] = [(.hardlink, "by hard link"), (.reflink, "by reflink"), (.copy, "copied")]
            let used = parts.filter { pick($0.0).files > 0 }
            guard !used.isEmpty else { return nil }
            let files = used.map { pick($0.0).files }.reduce(0, +)
            let bytes = used.map { pick($0.0).bytes }.reduce(0, +)
            let detail = used.map { "\(formatBytes(pick($0.0).bytes)) \($0.1)" }.joined(separator: ", ")
            return "\(files) file\(files == 1 ? "" : "s") (\(used.count == 1 ? detail : formatBytes(bytes) + ": " + detail))"
        }
        var parts: [String] = []
        if let stored = ways(totals.stored) { parts.append("stored " + stored) }
        let present = totals.stored(.present)
        if present.files > 0 { parts.append("\(present.files) already there (\(formatBytes(present.bytes)))") }
        if let out = ways(totals.materialized) { parts.append("gave out " + out) }
        return parts.isEmpty ? nil : "Cache: " + parts.joined(separator: "; ") + "."
    }

    /// The exit code of a recorded run that did not succeed: 130 when a signal stopped it (the
    /// record is committed all the same), 1 when a stage failed.
    static func exitCode(of status: RunRecord.Status) -> Int32 {
        status == .interrupted ? PlumbCLI.ExitCode.interrupted : PlumbCLI.ExitCode.failure
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
        if terminal.verbose, let line = Self.transfersLine(project.cache.transfers.current) { terminal.print(line) }
        let verb = record.status == .succeeded ? terminal.styled("Recorded", .green) : terminal.styled("Recorded \(record.status.rawValue) run", .red)
        terminal.print("\(verb) \(record.run) in \(commit.short) on \(record.branch ?? "?"): \(parts.joined(separator: ", ")).")
    }
}

/// SIGINT and SIGTERM stop the running stages and record the run as interrupted; a second signal exits at once.
/// Promote and rollback install the same handling: a signal lets the step in progress (a commit, the
/// branch and its files) finish, and the command stops at its next safe point.
enum SignalHandling {
    /// Whether the handlers are installed; they stay for the life of the process.
    private static let installed = Atomic<Bool>(false)
    /// The write end of the pipe the handler wakes the stopping thread through.
    private static let wake = Atomic<Int32>(-1)

    /// `stopping` says what the first signal stops, in the line printed when it arrives.
    ///
    /// A `sigaction` handler, in place when this returns, not a Dispatch signal source: a source is
    /// armed later, on libdispatch's own thread, and a signal arriving before that (the first drift
    /// probe had already started, on a loaded machine) was ignored and lost. The handler does only
    /// what a handler may (an atomic store, `write`, `_exit`); a thread of its own does the rest.
    static func install(stopping: String = "the running stages") {
        guard installed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        wake.store(fds[1], ordering: .releasing)
        let reader = fds[0]
        let thread = Thread {
            var byte: UInt8 = 0
            while read(reader, &byte, 1) == 1 {
                FileHandle.standardError.write(Data("\nplumb: stopping \(stopping) (again to exit at once)\n".utf8))
                RunningProcessGroups.terminateAll(signal: SIGTERM)
            }
        }
        thread.name = "plumb-signals"
        thread.start()
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if Interruption.requested { _exit(130) }
            Interruption.request()
            var byte: UInt8 = 1
            _ = write(SignalHandling.wake.load(ordering: .acquiring), &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        for sig in [SIGINT, SIGTERM] { sigaction(sig, &action, nil) }
        // A parent may have started plumb with them blocked (a mask is inherited: libdispatch blocks
        // the signals it watches, so a Swift parent often does); blocked, they would stay pending.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }
}
