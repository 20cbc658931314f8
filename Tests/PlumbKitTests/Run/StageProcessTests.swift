import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Collects streamed lines from the process-running thread.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    var lines: [String] { lock.withLock { storage } }
    func add(_ line: String) { lock.withLock { storage.append(line) } }
}

@Suite struct StageProcessTests {
    let baseEnvironment = ["PATH": "/usr/local/bin:/usr/bin:/bin"]

    func request(_ command: String, in folder: String, env: [String: String] = [:], timeout: Double? = nil,
                 redactions: [String] = [], collector: LineCollector? = nil) -> ProcessRequest {
        var onLine: (@Sendable (String) -> Void)? = nil
        if let collector { onLine = { line in collector.add(line) } }
        return ProcessRequest(command: command, workingDirectory: folder, environment: baseEnvironment.merging(env) { $1 },
                              timeout: timeout, logFile: folder + "/logs/stage.log", redactions: redactions, onLine: onLine)
    }

    func log(_ folder: String) throws -> String {
        try String(contentsOfFile: folder + "/logs/stage.log", encoding: .utf8)
    }

    /// Whether a process with this pid still exists (and is not a zombie awaiting its parent).
    func alive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !status.contains(") Z ")
    }

    /// Whether the process is gone within a few seconds (a killed process dies asynchronously).
    func gone(_ pid: pid_t) -> Bool {
        for _ in 0..<300 {
            if !alive(pid) { return true }
            usleep(10_000)
        }
        return false
    }

    func pids(in file: String) throws -> [pid_t] {
        try String(contentsOfFile: file, encoding: .utf8).split(whereSeparator: \.isWhitespace).compactMap { pid_t($0) }
    }

    @Test(arguments: [("true", Int32(0)), ("false", 1), ("exit 42", 42), ("exit 255", 255)])
    func reportsExitCodes(command: String, code: Int32) throws {
        let folder = try temporaryFolder()
        let outcome = try StageProcess.run(request(command, in: folder))
        #expect(outcome.exitCode == code)
        #expect(outcome.signal == nil)
        #expect(outcome.succeeded == (code == 0))
        #expect(!outcome.timedOut)
    }

    @Test func reportsTheKillingSignal() throws {
        let folder = try temporaryFolder()
        let outcome = try StageProcess.run(request("kill -9 $$", in: folder))
        #expect(outcome.exitCode == nil)
        #expect(outcome.signal == SIGKILL)
        #expect(!outcome.succeeded)
    }

    @Test func capturesStdoutAndStderrInOrderAndAppends() throws {
        let folder = try temporaryFolder()
        let collector = LineCollector()
        _ = try StageProcess.run(request("echo one; echo two >&2; printf 'no newline'", in: folder, collector: collector))
        #expect(collector.lines == ["one", "two", "no newline"])
        #expect(try log(folder) == "one\ntwo\nno newline\n")
        _ = try StageProcess.run(request("echo retry", in: folder))
        #expect(try log(folder) == "one\ntwo\nno newline\nretry\n")
    }

    @Test func passesExactlyTheGivenEnvironmentAndFolder() throws {
        let folder = try temporaryFolder()
        setenv("PLUMB_TEST_LEAK", "leaked", 1)
        let collector = LineCollector()
        let outcome = try StageProcess.run(request("echo \"$PLUMB_STAGE|${PLUMB_TEST_LEAK:-none}|$(pwd)\"; cat; echo done",
                                                   in: folder, env: ["PLUMB_STAGE": "train"], collector: collector))
        #expect(outcome.succeeded)
        // stdin is /dev/null: `cat` returns at once instead of waiting for a terminal.
        #expect(collector.lines == ["train|none|\(folder)", "done"])
    }

    @Test func redactsSecretsInLogAndStream() throws {
        let folder = try temporaryFolder()
        let collector = LineCollector()
        _ = try StageProcess.run(request("echo \"token=$TOKEN and $TOKEN_LONG\"", in: folder,
                                         env: ["TOKEN": "s3cr3t", "TOKEN_LONG": "s3cr3t-extended"],
                                         redactions: ["s3cr3t", "s3cr3t-extended", ""], collector: collector))
        #expect(collector.lines == ["token=*** and ***"])
        #expect(try !log(folder).contains("s3cr3t"))
    }

    @Test func aMissingWorkingDirectoryThrows() throws {
        let folder = try temporaryFolder()
        var r = request("true", in: folder)
        r.workingDirectory = folder + "/missing"
        #expect(throws: PlumbError.self) { try StageProcess.run(r) }
    }

    @Test func timeoutKillsTheWholeGroup() throws {
        let folder = try temporaryFolder()
        let pidFile = folder + "/pids"
        let start = ContinuousClock.now
        // Children that ignore SIGTERM survive the first signal: only the SIGKILL after the grace ends them.
        let outcome = try StageProcess.run(request(
            "sleep 100 & echo $! >> \(pidFile); (trap '' TERM; sleep 100) & echo $! >> \(pidFile); echo $$ >> \(pidFile); wait",
            in: folder, timeout: 0.5))
        #expect(outcome.timedOut)
        #expect(!outcome.succeeded)
        #expect(ContinuousClock.now - start < .seconds(20))
        let pids = try pids(in: pidFile)
        #expect(pids.count == 3)
        for pid in pids { #expect(gone(pid), "pid \(pid) survived") }
    }

    @Test func aStageThatIgnoresSIGTERMIsKilledAfterTheGrace() throws {
        let folder = try temporaryFolder()
        let start = ContinuousClock.now
        let outcome = try StageProcess.run(request("trap '' TERM; sleep 100", in: folder, timeout: 0.2))
        let elapsed = ContinuousClock.now - start
        #expect(outcome.timedOut)
        #expect(outcome.signal == SIGKILL)
        #expect(elapsed >= .seconds(StageProcess.killGrace) && elapsed < .seconds(15))
    }

    @Test func strayBackgroundChildrenAreKilledAfterANormalExit() throws {
        let folder = try temporaryFolder()
        let pidFile = folder + "/pids"
        let start = ContinuousClock.now
        let outcome = try StageProcess.run(request("sleep 100 & echo $! > \(pidFile); echo finished", in: folder))
        #expect(outcome.succeeded)
        // The child held the output pipe open; killing its group is what lets `run` return promptly.
        #expect(ContinuousClock.now - start < .seconds(5))
        for pid in try pids(in: pidFile) { #expect(gone(pid), "pid \(pid) survived") }
    }

    @Test func terminateAllStopsRunningStages() throws {
        let folder = try temporaryFolder()
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: ProcessOutcome?
        let marker = folder + "/started"
        let r = request("echo $$ > \(marker).tmp; mv \(marker).tmp \(marker); sleep 100", in: folder)
        Thread.detachNewThread {
            outcome = try? StageProcess.run(r)
            done.signal()
        }
        while !FileManager.default.fileExists(atPath: marker) { usleep(10_000) }
        // The shell is the group leader, so its pid is the group id. Other tests run stages in parallel,
        // so this one stops only its own group, through the same registry terminateAll uses.
        let group = try pids(in: marker)[0]
        #expect(RunningProcessGroups.running.contains(group))
        RunningProcessGroups.terminate([group], signal: SIGTERM)
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(outcome?.signal == SIGTERM)
    }

    @Test func concurrentRunsKeepTheirOutputApart() throws {
        let folder = try temporaryFolder()
        let count = 8
        let outcomes = try parallelMap(count) { i -> (ProcessOutcome, [String]) in
            let collector = LineCollector()
            var r = request("for n in 1 2 3; do echo \"$ID-$n\"; done; exit $ID", in: folder, env: ["ID": "\(i)"], collector: collector)
            r.logFile = folder + "/logs/\(i).log"
            return (try StageProcess.run(r), collector.lines)
        }
        for (i, (outcome, lines)) in outcomes.enumerated() {
            #expect(outcome.exitCode == Int32(i))
            #expect(lines == ["\(i)-1", "\(i)-2", "\(i)-3"])
            #expect(try String(contentsOfFile: folder + "/logs/\(i).log", encoding: .utf8) == "\(i)-1\n\(i)-2\n\(i)-3\n")
        }
    }

    @Test func outcomeRoundTripsAsJSON() throws {
        let outcome = ProcessOutcome(exitCode: nil, signal: 15, timedOut: true, duration: 1.5)
        #expect(try RecordJSON.decode(ProcessOutcome.self, from: RecordJSON.encode(outcome)) == outcome)
    }
}
