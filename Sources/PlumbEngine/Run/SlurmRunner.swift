import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// Runs a stage as a Slurm batch job: `sbatch --parsable` of a script that runs the command in
/// the stage's workspace, followed by polling the scheduler (one `squeue` for every job this
/// process follows, per interval: `sbatch --wait` polls at 2, 10 and 42 s), then `scontrol show
/// job` once for the exit code, node and times. The workspace must be on storage the compute
/// nodes share (docs/scaling.md); on a single-node cluster it is.
///
/// The job is named after the stage's fingerprint, and a job of that name still pending or
/// running when a stage is about to be submitted is followed instead of submitting a second one.
/// A stage's timeout is enforced here (the job is cancelled) and, rounded up to minutes, as the
/// job's own time limit. Ctrl-C and SIGTERM of plumb cancel every job it follows.
package final class SlurmRunner: StageRunner, OrphanAdopting, Sendable {
    private let tools: SlurmTools
    private let monitor: SlurmMonitor

    /// `interval`: seconds between polls (`PLUMB_SLURM_POLL`, default 1).
    package init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        tools = try SlurmTools(environment: environment)
        let interval = environment["PLUMB_SLURM_POLL"].flatMap(Double.init).map { min(max($0, 0.1), 60) } ?? 1
        monitor = SlurmMonitor(tools: tools, interval: interval)
    }

    package func run(_ request: ProcessRequest) throws -> ProcessOutcome {
        guard let job = request.job else { throw PlumbError("the Slurm runner needs a stage's job description") }
        let name = Self.jobName(job)
        let output = request.logFile + ".slurm-out"
        let started = Date()
        let id: String
        if let running = try tools.liveJob(named: name, in: request.workingDirectory) {
            id = running
        } else {
            try? FileManager.default.removeItem(atPath: output)
            id = try tools.submit(request, job: job, name: name, script: request.logFile + ".sbatch", output: output)
        }
        monitor.follow(id)
        defer { monitor.forget(id) }

        let log = try StageProcess.openLog(request.logFile)
        let lines = LineSink(log: log.rawValue, redactor: Redactor(secrets: request.redactions).merging(.process), onLine: request.onLine)
        var tail = OutputTail(path: output)
        var cancelled: CancelReason?
        var state = "PENDING"
        while true {
            state = monitor.next(id, after: state)
            tail.feed(into: lines)
            if SlurmMonitor.finalStates.contains(state) { break }
            if cancelled == nil {
                if Interruption.requested {
                    cancelled = .interrupted
                } else if let timeout = request.timeout, Date().timeIntervalSince(started) > timeout {
                    cancelled = .timedOut
                }
                if cancelled != nil { tools.cancel(id) }
            }
        }
        let details = tools.details(id)
        // The job's file may lag behind its end on a shared file system: one more read.
        tail.feed(into: lines)
        lines.finish()
        try? FileManager.default.removeItem(atPath: output)
        return Self.outcome(state: state, details: details, cancelled: cancelled, job: id, duration: Date().timeIntervalSince(started))
    }

    package func adoptOrphans(_ jobs: [JobRequest], workspace: String) -> [AdoptedJob] {
        let live = jobs.compactMap { job in (try? tools.liveJob(named: Self.jobName(job), in: workspace)).flatMap { $0 }.map { (job, $0) } }
        for (_, id) in live { monitor.follow(id) }
        defer { for (_, id) in live { monitor.forget(id) } }
        let started = Date()
        return live.map { job, id in
            var state = "PENDING"
            var cancelled: CancelReason?
            while !SlurmMonitor.finalStates.contains(state) {
                state = monitor.next(id, after: state)
                if cancelled == nil, Interruption.requested { cancelled = .interrupted; tools.cancel(id) }
            }
            let details = tools.details(id)
            return AdoptedJob(stage: job.stage, outcome: Self.outcome(state: state, details: details, cancelled: cancelled, job: id,
                                                                       duration: Date().timeIntervalSince(started)),
                              output: details.output)
        }
    }

    /// `plumb-<fingerprint prefix>-<stage>`: the fingerprint finds the job again; the stage name is for people reading squeue.
    static func jobName(_ job: JobRequest) -> String { "plumb-\(job.fingerprint.hex.prefix(16))-\(job.stage)" }

    enum CancelReason { case timedOut, interrupted }

    /// A job's final state as the executor sees a process end.
    static func outcome(state: String, details: SlurmJobDetails, cancelled: CancelReason?, job: String, duration: Double) -> ProcessOutcome {
        let placement = Placement(runner: ExecutorKind.slurm.rawValue, job: job, node: details.node, queued: details.queued, ran: details.ran, state: state)
        var outcome = ProcessOutcome(exitCode: details.exitCode, signal: details.signal, timedOut: false, duration: duration, placement: placement)
        switch (state, cancelled) {
        case ("COMPLETED", _):
            outcome.exitCode = details.exitCode ?? 0
        case ("TIMEOUT", _), (_, .timedOut?):
            outcome.timedOut = true
        case (_, .interrupted?):
            outcome.exitCode = nil
            outcome.signal = SIGTERM
        default:
            // FAILED, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, CANCELLED by someone else…: a failure, which
            // the executor retries per `retries`. A zero exit code would read as success: it is not one.
            if outcome.exitCode == 0 || (outcome.exitCode == nil && outcome.signal == nil) { outcome.exitCode = 1 }
        }
        return outcome
    }
}

/// What `scontrol show job` says of a finished job.
struct SlurmJobDetails: Sendable {
    var exitCode: Int32?
    var signal: Int32?
    var node: String?
    var queued: Double?
    var ran: Double?
    /// The file the job's output went to.
    var output: String?

    /// Parses the one-line form (`scontrol -o show job ID`): space-separated `Key=Value` pairs.
    init(scontrolLine line: String) {
        var fields: [String: String] = [:]
        for token in line.split(separator: " ") {
            guard let eq = token.firstIndex(of: "=") else { continue }
            fields[String(token[..<eq])] = String(token[token.index(after: eq)...])
        }
        if let code = fields["ExitCode"] {
            let parts = code.split(separator: ":").compactMap { Int32($0) }
            if parts.count == 2 {
                exitCode = parts[1] == 0 ? parts[0] : nil
                signal = parts[1] == 0 ? nil : parts[1]
            }
        }
        output = fields["StdOut"]
        node = fields["BatchHost"].flatMap { $0 == "(null)" ? nil : $0 } ?? fields["NodeList"].flatMap { $0 == "(null)" ? nil : $0 }
        let dates = DateFormatter()
        dates.locale = Locale(identifier: "en_US_POSIX")
        dates.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        func date(_ key: String) -> Date? { fields[key].flatMap { dates.date(from: $0) } }
        if let submit = date("SubmitTime"), let start = date("StartTime") { queued = max(0, start.timeIntervalSince(submit)) }
        if let start = date("StartTime"), let end = date("EndTime") { ran = max(0, end.timeIntervalSince(start)) }
    }

    init() {}
}

/// Reads what a job has written to its output file so far, from where the last read stopped.
struct OutputTail {
    let path: String
    private var offset: off_t = 0

    init(path: String) { self.path = path }

    mutating func feed(into sink: LineSink) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            guard n > 0 else { return }
            offset += off_t(n)
            buffer.withUnsafeBytes { sink.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }
}
