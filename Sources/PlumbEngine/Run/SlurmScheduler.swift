import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// Slurm's client commands, found on PATH, run with the client's own environment (`SLURM_CONF`
/// and the other `SLURM_*` settings of Plumb's environment).
struct SlurmTools: Sendable {
    let sbatch: String, squeue: String, scontrol: String, scancel: String
    /// `PATH` and the `SLURM_*` variables: what the commands need to reach the controller.
    let client: [String: String]

    init(environment: [String: String]) throws {
        let path = environment["PATH"] ?? "/usr/bin:/bin"
        func find(_ tool: String) throws -> String {
            for folder in path.split(separator: ":") where access("\(folder)/\(tool)", X_OK) == 0 { return "\(folder)/\(tool)" }
            throw PlumbError("\(tool) is not on PATH, and a stage with executor: slurm is submitted with it",
                             hint: "run plumb where Slurm's client commands are (a login node), or install slurm-client; docs/scaling.md")
        }
        sbatch = try find("sbatch"); squeue = try find("squeue"); scontrol = try find("scontrol"); scancel = try find("scancel")
        client = environment.filter { $0.key == "PATH" || $0.key.hasPrefix("SLURM_") }
    }

    /// Writes the batch script and submits it; returns the job id.
    func submit(_ request: ProcessRequest, job: JobRequest, name: String, script: String, output: String) throws -> String {
        let text = """
        #!/bin/sh
        # plumb: stage \(job.stage) of \(job.environment), fingerprint \(job.fingerprint.hex)
        cd \(Self.quoted(request.workingDirectory)) || exit 1
        exec /bin/sh -c \(Self.quoted(request.command))

        """
        try PlumbError.wrap("cannot write the batch script \(script)") {
            try FileManager.default.createDirectory(atPath: (script as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: script))
        }
        var arguments = ["--parsable", "--job-name=\(name)", "--output=\(output)", "--chdir=\(request.workingDirectory)", "--export=ALL"]
        arguments += Self.options(job.resources, timeout: request.timeout)
        arguments.append(script)
        // The job gets exactly the stage's environment (and the client's SLURM_* settings), as a
        // local process would: --export=ALL exports sbatch's own.
        let run = try Self.run(sbatch, arguments, environment: request.environment.merging(client) { stage, _ in stage })
        let id = run.stdout.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard run.status == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw PlumbError("sbatch refused stage '\(job.stage)': \(Self.firstLine(run.stderr.isEmpty ? run.stdout : run.stderr))",
                             hint: "check the stage's resources (partition, account, memory, time) against `sinfo`; docs/scaling.md")
        }
        return id
    }

    /// `resources:` as sbatch options. The time limit is the stage's timeout rounded up to whole
    /// minutes unless `time` says otherwise; Plumb cancels at the timeout itself.
    static func options(_ r: StageResources, timeout: Double?) -> [String] {
        var out: [String] = []
        if let cpus = r.cpus { out.append("--cpus-per-task=\(cpus)") }
        if let memory = r.memory { out.append("--mem=\(memory)") }
        if let gpus = r.gpus, gpus > 0 { out.append("--gpus=" + (r.gpuType.map { "\($0):\(gpus)" } ?? "\(gpus)")) }
        if let limit = r.time ?? timeout { out.append("--time=\(max(1, Int((limit / 60).rounded(.up))))") }
        if let partition = r.partition { out.append("--partition=\(partition)") }
        if let account = r.account { out.append("--account=\(account)") }
        return out + r.sbatch
    }

    /// A job of this name still pending or running in `workspace` (a reconcile that was killed
    /// left it). The name alone is not enough: another clone may run the same stage right now.
    func liveJob(named name: String, in workspace: String) throws -> String? {
        let run = try Self.run(squeue, ["-h", "-n", name, "-t", "PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED,REQUEUED", "-o", "%i|%Z"],
                               environment: client)
        guard run.status == 0 else { return nil }
        let here = URL(fileURLWithPath: workspace).resolvingSymlinksInPath().path
        for line in run.stdout.split(separator: "\n") {
            let parts = line.split(separator: "|", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy(\.isNumber),
                  URL(fileURLWithPath: parts[1]).resolvingSymlinksInPath().path == here else { continue }
            return parts[0]
        }
        return nil
    }

    /// The state of each job, in one query; jobs the controller no longer knows are absent.
    func states(_ ids: [String]) -> [String: String]? {
        guard let run = try? Self.run(squeue, ["-h", "-t", "all", "-j", ids.joined(separator: ","), "-o", "%i|%T"], environment: client) else { return nil }
        // squeue exits 1 when none of the ids is known any more: every one of them is gone.
        if run.status != 0 { return run.stderr.contains("Invalid job id") ? [:] : nil }
        var out: [String: String] = [:]
        for line in run.stdout.split(separator: "\n") {
            let parts = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { out[parts[0]] = parts[1] }
        }
        return out
    }

    func details(_ id: String) -> SlurmJobDetails {
        guard let run = try? Self.run(scontrol, ["-o", "show", "job", id], environment: client), run.status == 0 else { return SlurmJobDetails() }
        return SlurmJobDetails(scontrolLine: run.stdout)
    }

    /// The controller's state of a job it may already have forgotten in squeue.
    func finalState(_ id: String) -> String {
        guard let run = try? Self.run(scontrol, ["-o", "show", "job", id], environment: client), run.status == 0,
              let token = run.stdout.split(separator: " ").first(where: { $0.hasPrefix("JobState=") }) else { return "UNKNOWN" }
        return String(token.dropFirst("JobState=".count))
    }

    func cancel(_ id: String) { _ = try? Self.run(scancel, [id], environment: client) }

    static func quoted(_ text: String) -> String { Escape.shellQuoted(text) }

    static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n").first ?? "").trimmingCharacters(in: .whitespaces)
    }

    /// Runs a short client command to its end and returns what it printed.
    static func run(_ tool: String, _ arguments: [String], environment: [String: String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

/// Follows every job of this process with one `squeue` per interval, whoever waits for them.
final class SlurmMonitor: @unchecked Sendable {
    /// States after which a job does nothing more.
    static let finalStates: Set<String> = ["COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "CANCELLED", "NODE_FAIL",
                                           "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT", "UNKNOWN"]
    private let tools: SlurmTools
    private let interval: Double
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var followed: Set<String> = []
    private var states: [String: String] = [:]
    private var generation = 0
    private var polling = false

    init(tools: SlurmTools, interval: Double) {
        self.tools = tools
        self.interval = interval
    }

    func follow(_ id: String) {
        condition.lock()
        followed.insert(id)
        if !polling {
            polling = true
            let thread = Thread { [self] in poll() }
            thread.start()
        }
        condition.unlock()
    }

    func forget(_ id: String) {
        condition.lock()
        followed.remove(id)
        states[id] = nil
        condition.unlock()
    }

    /// The job's state after the next poll.
    func next(_ id: String, after previous: String) -> String {
        condition.lock()
        defer { condition.unlock() }
        let seen = generation
        while generation == seen { condition.wait() }
        return states[id] ?? previous
    }

    private func poll() {
        while true {
            condition.lock()
            let ids = followed.sorted()
            if ids.isEmpty { polling = false; condition.unlock(); return }
            condition.unlock()

            var found = tools.states(ids)
            if found != nil {
                // Gone from squeue (older than MinJobAge): the controller may still know how it ended.
                for id in ids where found?[id] == nil { found?[id] = tools.finalState(id) }
            }
            condition.lock()
            if let found { states.merge(found) { _, new in new } }
            generation += 1
            condition.broadcast()
            condition.unlock()
            Thread.sleep(forTimeInterval: interval)
        }
    }
}
