import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// `plumb reconcile --watch`: the unattended loop. Each cycle fetches the tracked branch, reconciles
/// when the desired state changed or a deployment drifted, pushes what it recorded, prints one line
/// and sleeps until the next.
///
/// Only the desired state counts as a change: the commit's tree without `history/`. A commit that
/// only records a run (this environment's or another's) therefore never triggers a reconcile.
/// Failures of the loop itself (fetch, lock, push, git) are retried with exponential backoff, capped;
/// a stage that fails is recorded like any other run and is not retried until the desired state
/// changes again, because running the same inputs again would fail the same way (stages declare
/// `retries` for transient failures).
package final class WatchLoop {
    /// Settings of the loop.
    package struct Options: Sendable {
        /// Seconds between cycles when all is well.
        package var interval: Double
        /// Upper bound of the wait after failures.
        var maxBackoff: Double
        /// Fraction of the interval added or removed at random, so that many watchers of one
        /// remote do not fetch in lockstep.
        package var jitter: Double
        package var environment: String?
        /// The branch to track.
        package var branch: String
        package var remote: String
        /// Push what each cycle recorded.
        package var push: Bool
        package var jobs: Int
        /// Stop after this many cycles (nil: until a signal). For tests and one-shot use.
        var maxCycles: Int?

        package init(interval: Double = 60, maxBackoff: Double = 600, jitter: Double = 0.1, environment: String? = nil,
                    branch: String, remote: String = "origin", push: Bool = false,
                    jobs: Int = ProcessInfo.processInfo.activeProcessorCount, maxCycles: Int? = nil) {
            self.interval = interval
            self.maxBackoff = maxBackoff
            self.jitter = jitter
            self.environment = environment
            self.branch = branch
            self.remote = remote
            self.push = push
            self.jobs = jobs
            self.maxCycles = maxCycles
        }
    }

    /// What one cycle did, for its line and for the loop's next decision.
    package struct CycleReport: Sendable {
        package var did: String
        package var failed: Bool
        package var interrupted: Bool
    }

    let project: Project
    let observer: ReconcileObserver
    let options: Options
    let reconciler: Reconciler
    let sync: RemoteSync

    /// The desired-state key of the last cycle that reconciled to the end (nil: none yet).
    private var reconciledKey: ObjectID?
    /// A recorded or re-made commit that has not reached the remote yet.
    private var unpushed = false
    private var failures = 0
    /// Marks on the untracked data, so an idle cycle that nothing disturbed does not walk it (nil: no inotify).
    private let dataWatch = FolderWatch()
    /// For the desired state the watch was armed for: what an idle cycle would walk (nil: it must plan).
    private var idleSources: (key: ObjectID, sources: (folders: [String], files: [String])?, changes: Bool)?
    /// The last tip an idle cycle read, with its desired-state key and snapshot: a commit's spec and
    /// records never change, so while the branch stays put an idle cycle parses nothing again (with a
    /// thousand stages, reading the spec was most of an idle cycle).
    private var lastTip: (commit: ObjectID, key: ObjectID, snapshot: Snapshot?)?

    /// `observer` hears each cycle and, through the reconciler, each stage (with `feedback`).
    package init(project: Project, observer: ReconcileObserver, feedback: Feedback = Feedback(), options: Options,
                 locking: Reconciler.LockPolicy? = .init()) {
        self.project = project
        self.observer = observer
        self.options = options
        reconciler = Reconciler(project: project, observer: observer, feedback: feedback, locking: locking)
        var sync = RemoteSync(repository: project.repository, remote: options.remote)
        sync.conflictsDirectory = project.conflictsDirectory
        self.sync = sync
    }

    /// Runs cycles until SIGINT/SIGTERM (or `maxCycles`); each cycle's end is a `.watchCycle` event.
    /// A requested stop ends the loop normally, which is how a service manager expects a daemon to end.
    package func run() {
        var cycles = 0
        while !Interruption.requested {
            let started = Date()
            let report: CycleReport
            do {
                report = try Trace.measure("watch cycle") { try cycle() }
            } catch {
                report = CycleReport(did: "failed: \(Self.oneLine(error))", failed: true, interrupted: Interruption.requested)
            }
            failures = report.failed ? failures + 1 : 0
            cycles += 1
            let stopping = report.interrupted || Interruption.requested || options.maxCycles.map { cycles >= $0 } ?? false
            let delay = Self.delay(interval: options.interval, failures: failures, maxBackoff: options.maxBackoff,
                                   jitter: options.jitter, random: Double.random(in: -1...1))
            observer.observe(.watchCycle(WatchCycle(started: started, report: report, failures: failures, nextIn: stopping ? nil : delay)))
            if stopping { return }
            sleep(delay)
        }
        observer.observe(.watchStopped(at: Date()))
    }

    /// One cycle: pull, reconcile if the desired state changed, push.
    package func cycle() throws -> CycleReport {
        var parts: [String] = []
        let reference = "refs/heads/\(options.branch)"
        if project.repository.remoteURL(options.remote) != nil {
            switch try sync.pull(branch: options.branch, ownedPaths: ["history"]) {
            case .upToDate, .noRemoteBranch: break
            case let .fastForwarded(to): parts.append("pulled \(to.short)")
            case let .replayed(onto, made):
                parts.append("re-made local records on \(onto.short) as \(made.short)")
                unpushed = true
            case let .discarded(records, to):
                parts.append("conflict resolved: dropped local record\(records.count == 1 ? "" : "s") \(records.joined(separator: ", ")) superseded on \(options.remote) (kept in .plumb/conflicts/), now at \(to.short)")
            }
        }
        let tip = try project.repository.referenceTarget(reference)
        if lastTip?.commit != tip { lastTip = (tip, try Self.desiredStateKey(project.repository, commit: tip), nil) }
        let key = lastTip!.key
        var interrupted = false
        // With the desired state unchanged, only drift brings work: each cycle runs the probes and
        // heals what drifted (Argo CD's self-heal), reusing what they said for the plan.
        var drifted: [String: String] = [:]
        var idleSnapshot: Snapshot?
        if key == reconciledKey {
            let snapshot = try lastTip?.snapshot ?? Snapshot.read(project, ref: options.branch, environment: options.environment)
            // The branch may have moved since `tip` was read: keep only a snapshot of `tip` itself.
            if snapshot.commit == tip { lastTip?.snapshot = snapshot }
            idleSnapshot = snapshot
            drifted = reconciler.driftedStages(snapshot)
        }
        // Time passing and data outside git are changes too: a record older than `stale_after`, a
        // schedule's tick, an untracked dep that changed (a stat poll through the stat cache: only
        // what changed is hashed, and with inotify marks no poll at all until something stirs).
        // Only a pipeline that has one is planned on an idle cycle; any other hashes nothing.
        var woken: [PlannedStage] = []
        if key == reconciledKey, drifted.isEmpty, let snapshot = idleSnapshot {
            // What can change without a commit is a property of the desired state: read once per key.
            if idleSources?.key != key {
                idleSources = (key, try snapshot.untrackedSources(project), try snapshot.changesWithoutCommits(project))
                dataWatch?.disarm()
            }
            let idle = idleSources!
            // inotify marks stand in for the walk while nothing disturbed them; otherwise they are set
            // again before planning, so a change during the plan's walk wakes the next cycle.
            if idle.changes, !(idle.sources != nil && dataWatch?.isQuiet == true) {
                if let sources = idle.sources { dataWatch?.arm(folders: sources.folders, files: sources.files) }
                woken = try reconciler.plan(ref: options.branch, environment: options.environment).1.stages
                    .filter { $0.action.isChange && $0.action != .mayRun }
            }
        }
        if key == reconciledKey && drifted.isEmpty && woken.isEmpty {
            parts.append("no change at \(tip.short)")
        } else {
            if let first = woken.first, let reason = first.reasons.first {
                parts.append("\(first.name): \(reason.description)" + (woken.count > 1 ? " (and \(woken.count - 1) more)" : ""))
            }
            if let (stage, detail) = drifted.sorted(by: { $0.key < $1.key }).first {
                parts.append("\(stage) drifted (\(detail))" + (drifted.count > 1 ? " and \(drifted.count - 1) more" : ""))
            }
            let outcome = try reconciler.reconcile(ref: options.branch, environment: options.environment,
                                                   probed: key == reconciledKey ? drifted : nil, jobs: options.jobs)
            if let record = outcome.record, let commit = outcome.commit {
                let counts = Dictionary(grouping: record.stages.values, by: \.status).mapValues(\.count)
                let summary = counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
                parts.append("reconciled \(record.environment) at \(outcome.plan.commit.short): \(record.status.rawValue) (\(summary)), recorded \(record.run) in \(commit.short)")
                unpushed = true
                interrupted = record.status == .interrupted
            } else {
                parts.append("reconciled \(outcome.plan.environment) at \(outcome.plan.commit.short): nothing to do")
            }
            // An interrupted run left work undone: the next cycle (of a new process) must plan again.
            if !interrupted { reconciledKey = key }
        }
        if options.push && unpushed && project.repository.remoteURL(options.remote) != nil {
            let environment = try Snapshot.chooseEnvironment(options.environment, in: try Snapshot.read(project, ref: options.branch, environment: options.environment).spec)
            // The id the remote has: a record re-made on top of another writer's push has a new one.
            let sent = try sync.push(branch: options.branch, ownedPaths: [SpecPaths.history(environment)])
            unpushed = false
            parts.append("pushed \(sent.short)")
        }
        return CycleReport(did: parts.joined(separator: "; "), failed: false, interrupted: interrupted)
    }

    /// The identity of a commit's desired state: its tree without `history/`. Equal keys mean no
    /// input a reconcile reads from git changed (only records were added).
    static func desiredStateKey(_ repository: Repository, commit: ObjectID) throws -> ObjectID {
        // Removing an absent path is a no-op, and the resulting tree object is content-addressed, so
        // equal desired states give equal ids however the history around them differs.
        try repository.tree(updating: commit, with: [("history", nil)])
    }

    /// Seconds until the next cycle: the interval, doubled per consecutive failure up to
    /// `maxBackoff`, then moved by up to ±`jitter` of itself. `random` is in -1...1.
    /// The result lies in 0.05 s ... `DurationParser.maximum` whatever the arguments (NaN included),
    /// so the date arithmetic and display that follow cannot overflow.
    package static func delay(interval: Double, failures: Int, maxBackoff: Double, jitter: Double, random: Double) -> Double {
        let base = failures == 0 ? interval : min(maxBackoff, interval * pow(2, Double(min(max(failures, 0), 30))))
        let spread = jitter.isFinite ? max(0, min(1, jitter)) : 0
        let moved = base * (1 + spread * (random.isFinite ? max(-1, min(1, random)) : 0))
        return moved.isNaN ? DurationParser.maximum : max(0.05, min(DurationParser.maximum, moved))
    }

    /// Sleeps in short steps so a signal ends the wait at once.
    private func sleep(_ seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while !Interruption.requested, Date() < end {
            Thread.sleep(forTimeInterval: min(0.1, max(0, end.timeIntervalSinceNow)))
        }
    }

    static func oneLine(_ error: Error) -> String {
        "\(error)".split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " — ")
    }
}
