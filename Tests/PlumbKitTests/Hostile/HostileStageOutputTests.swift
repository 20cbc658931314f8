import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// What one process used, from `wait4`: its own figures, whatever other tests run meanwhile.
struct MeasuredRun {
    var status: Int32
    /// Peak resident set size, in KiB (of the process itself or its largest waited-for descendant).
    var maximumRSSKiB: Int
    /// User plus system CPU seconds of the process and its waited-for descendants.
    var cpuSeconds: Double
    var stdout: String
    var stderr: String
}

/// Runs the built `plumb` with `arguments` in `directory` (environment: this process's, NO_COLOR,
/// plus `environment`) and measures it with `wait4`, which Foundation's `Process` does not expose.
func measuredPlumb(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> MeasuredRun {
    let outputs = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: outputs) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputs + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, outputs + "/err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    _ = GNU.addchdir!(&actions, directory)
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (k, v) in environment { env[k] = v }
    let executable = plumbExecutable()
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) }
    let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") }
    defer { (argv + envp).forEach { free($0) } }
    var pid: pid_t = 0
    let rc = (argv + [nil]).withUnsafeBufferPointer { a in
        (envp + [nil]).withUnsafeBufferPointer { e in posix_spawn(&pid, executable, &actions, nil, a.baseAddress!, e.baseAddress!) }
    }
    guard rc == 0 else { throw PlumbError("cannot start \(executable): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    let exit = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return MeasuredRun(status: exit, maximumRSSKiB: usage.ru_maxrss, cpuSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
                       stdout: (try? String(contentsOfFile: outputs + "/out", encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: outputs + "/err", encoding: .utf8)) ?? "")
}

/// CPU seconds the calling thread has used.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

@Suite struct HostileStageOutputTests {
    /// 300 MB of output once took 881 MB of memory: the whole log was read back (as Data, then as a
    /// String, then split) to store it and take its tail. Now it streams to disk and into the cache,
    /// and only the log's last 64 KiB are read for the record. A resource bound, not a timing one.
    @Test func aStageThatPrintsHundredsOfMegabytesLeavesPlumbsMemoryBounded() throws {
        let megabytes = 200
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          chatty:
            cmd: yes 'a line of chatter, as a training loop prints it every step' | head -c \(megabytes)000000; exit 1
        """)
        let run = try measuredPlumb(["reconcile", "--quiet"], in: h.root)
        #expect(run.status == 1, "the stage fails, so its tail is taken: \(run.stderr)")
        let stage = try #require(try h.state()?.stages["chatty"])
        #expect(stage.status == .failed)
        let runID = try #require(try h.state()?.lastRun)
        let record = try #require(try RunRecord.read(runID, environment: EnvironmentSpec.implicitName, at: try h.scratch.head, in: h.repository))
        let tail = try #require(record.stages["chatty"]?.logTail)
        #expect(tail.hasSuffix("a line of chatter") || tail.contains("a line of chatter, as a training loop"))
        #expect(tail.utf8.count < 64 * 1024)
        // The whole log still reaches the cache.
        let log = try #require(record.stages["chatty"]?.log)
        var s = stat()
        #expect(stat(try h.project().cache.objectPath(log), &s) == 0 && s.st_size >= megabytes * 1_000_000)
        // Well below the size of the output (which was read back whole, twice over, before). Not under a
        // sanitizer (scripts/sanitize.sh says which): its allocator quarantines freed memory, so the peak
        // measures the sanitizer (ASan 640 MiB, TSan 230 MiB here), not Plumb.
        if ProcessInfo.processInfo.environment["PLUMB_SANITIZER"] == nil {
            // Alone it peaks far lower; on a loaded 2-core machine 120–128 MiB was seen, so the bound
            // is set to catch reading the output whole (≥ 200 MB), not the load.
            #expect(run.maximumRSSKiB < 160 * 1024, "plumb peaked at \(run.maximumRSSKiB / 1024) MiB for \(megabytes) MB of output")
        }
    }

    /// A stage that closes its output (`exec >/dev/null`) made the reader loop spin on end-of-file
    /// until the stage exited: a full core for a stage that sleeps. Measured as CPU time of the
    /// thread that runs the stage: a resource bound (generous), not a timing assertion.
    @Test func aStageThatClosesItsOutputDoesNotKeepPlumbBusy() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let before = threadCPUSeconds()
        let outcome = try StageProcess.run(ProcessRequest(
            command: "echo started; exec >/dev/null 2>&1; sleep 3", workingDirectory: folder,
            environment: ["PATH": "/usr/bin:/bin"], logFile: folder + "/stage.log"))
        let used = threadCPUSeconds() - before
        #expect(outcome.succeeded)
        #expect(outcome.duration >= 2.9, "the stage really ran for its 3 s")
        #expect(used < 0.5, "plumb used \(used) s of CPU while a stage slept 3 s with its output closed")
        #expect(try String(contentsOfFile: folder + "/stage.log", encoding: .utf8) == "started\n")
    }
}
