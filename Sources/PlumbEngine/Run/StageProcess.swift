import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
#if canImport(Glibc)
import Glibc
#endif

/// How to run one stage command.
package struct ProcessRequest: Sendable {
    /// Shell text, run as `/bin/sh -c command`.
    package var command: String
    /// The folder the command starts in (the stage's workspace).
    package var workingDirectory: String
    /// The complete environment: nothing is inherited that is not listed here, so a run is reproducible.
    package var environment: [String: String]
    /// Seconds before the process group is sent SIGTERM (then SIGKILL 3 s later); nil for no limit.
    package var timeout: Double?
    /// stdout and stderr, interleaved as written, appended to this file (created with its folders).
    package var logFile: String
    /// Secret values, each replaced by `***` in the log and in streamed lines (as is every secret
    /// `Redactor.process` knows: Plumb's credentials and other stages' secrets).
    package var redactions: [String]
    /// Called with each output line (without its newline, redacted), on the thread running the process.
    package var onLine: (@Sendable (String) -> Void)?
    /// Which stage this is and what it asks of the machine, for runners that place work elsewhere
    /// (a batch job is named after the fingerprint); nil for drift probes.
    package var job: JobRequest?

    package init(command: String, workingDirectory: String, environment: [String: String], timeout: Double? = nil,
                logFile: String, redactions: [String] = [], onLine: (@Sendable (String) -> Void)? = nil, job: JobRequest? = nil) {
        self.command = command
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.timeout = timeout
        self.logFile = logFile
        self.redactions = redactions
        self.onLine = onLine
        self.job = job
    }
}

/// How a stage process ended.
package struct ProcessOutcome: Sendable, Codable, Hashable {
    /// The exit status, if the process exited (rather than being killed by a signal).
    package var exitCode: Int32?
    /// The signal that killed the process, if one did.
    package var signal: Int32?
    /// Whether Plumb stopped the process because its timeout passed.
    package var timedOut: Bool
    /// Wall-clock seconds from start to exit.
    package var duration: Double
    /// Where it ran, when not as a local process (a batch job's id, node and times).
    package var placement: Placement?
    /// Exit status 0 within the time allowed.
    package var succeeded: Bool { exitCode == 0 && !timedOut }

    package init(exitCode: Int32?, signal: Int32?, timedOut: Bool, duration: Double, placement: Placement? = nil) {
        self.exitCode = exitCode
        self.signal = signal
        self.timedOut = timedOut
        self.duration = duration
        self.placement = placement
    }
}

/// Runs stage commands as processes in their own process groups.
///
/// A process group is what lets Plumb stop a stage completely: `python train.py` may start workers,
/// `make` may start compilers, a shell may leave `sleep &` behind. Signals go to the whole group
/// (`kill(-pgid)`), on timeout and, with SIGKILL, after the main process exits, so no stray process of a
/// stage outlives it and keeps writing into a workspace or holding a GPU. (Foundation's `Process` cannot
/// set a process group, hence posix_spawn.)
enum StageProcess {
    /// Seconds between SIGTERM and SIGKILL when a stage times out.
    static let killGrace = 3.0
    /// Seconds to keep reading output after the group was killed, for a process that escaped the group
    /// (setsid) but still holds the pipe: its output is dropped rather than waited for.
    static let drainGrace = 2.0

    /// Runs the request to completion, blocking the calling thread. Safe to call from many threads at once.
    /// Throws only if the process cannot be started (missing working directory, no /bin/sh, no log file).
    package static func run(_ request: ProcessRequest) throws -> ProcessOutcome {
        ProcessHardening.apply()
        let log = try openLog(request.logFile)

        var fds: [Int32] = [-1, -1]
        // O_CLOEXEC: a stage spawned concurrently by another thread must not inherit this pipe, or our
        // reader would not see end-of-file until that other stage finished.
        guard GNU.pipe2(&fds, O_CLOEXEC) == 0 else { throw PlumbError("cannot create a pipe: \(errnoText())") }
        let readEnd = FileDescriptor(owning: fds[0])
        let writeEnd = FileDescriptor(owning: fds[1])

        let started = monotonicSeconds()
        let spawned = Result { try spawn(request, output: writeEnd.rawValue) }
        // Only the child holds the write end now: end of file means every writer in its group is done.
        writeEnd.close()
        let pid = try spawned.get()
        RunningProcessGroups.register(pid)
        defer { RunningProcessGroups.unregister(pid) }

        let lines = LineSink(log: log.rawValue, redactor: Redactor(secrets: request.redactions).merging(.process), onLine: request.onLine)
        var status: Int32? = nil
        var timedOut = false
        var termSentAt: Double? = nil
        var killSent = false
        var drainUntil: Double? = nil
        var endOfFile = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }

        while true {
            if endOfFile {
                // The stage closed its end of the pipe (`exec >/dev/null`) but lives on: wait for its
                // exit by sleeping between checks, not by spinning on a pipe that has nothing to say.
                if status == nil { _ = poll(nil, 0, 20) }
            } else {
                var p = pollfd(fd: readEnd.rawValue, events: Int16(POLLIN), revents: 0)
                // Short while the process lives: exit is noticed by polling waitid, not by a signal
                // (a SIGCHLD handler would be process-wide state that other code may also want).
                let rc = poll(&p, 1, status == nil ? 20 : 50)
                if rc > 0 {
                    switch Result(catching: { () throws(POSIXFailure) in try readEnd.read(into: buffer) }) {
                    case let .success(n) where n > 0: lines.feed(UnsafeRawBufferPointer(start: buffer.baseAddress, count: n))
                    case .failure(let failure) where failure.code == EAGAIN: break
                    default: endOfFile = true
                    }
                }
            }
            let now = monotonicSeconds()
            if status == nil {
                if hasExited(pid) {
                    // Kill the group while the main process is still a zombie: its pid, which is the
                    // group id, cannot be reused until it is reaped, so the kill cannot hit a stranger.
                    RunningProcessGroups.unregister(pid)
                    kill(-pid, SIGKILL)
                    status = reap(pid)
                    drainUntil = monotonicSeconds() + drainGrace
                } else if let timeout = request.timeout, termSentAt == nil, now - started >= timeout {
                    timedOut = true
                    termSentAt = now
                    kill(-pid, SIGTERM)
                } else if let sent = termSentAt, !killSent, now - sent >= killGrace {
                    killSent = true
                    kill(-pid, SIGKILL)
                }
            }
            if status != nil, endOfFile || monotonicSeconds() >= drainUntil! { break }
        }
        lines.finish()

        let raw = status!
        let duration = monotonicSeconds() - started
        if raw & 0x7f == 0 {
            return ProcessOutcome(exitCode: (raw >> 8) & 0xff, signal: nil, timedOut: timedOut, duration: duration)
        }
        return ProcessOutcome(exitCode: nil, signal: raw & 0x7f, timedOut: timedOut, duration: duration)
    }

    static func openLog(_ path: String) throws -> FileDescriptor {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try PlumbError.wrap("cannot create the log folder \(folder)") {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
        }
        do {
            return try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND)
        } catch {
            throw PlumbError("cannot open the log \(path): \(error)")
        }
    }

    private static func spawn(_ request: ProcessRequest, output: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        // Descriptors some library opened without O_CLOEXEC must not leak into stages.
        _ = GNU.addclosefrom?(&actions, 3)
        // chdir in the child only: the parent's working directory is shared by all threads.
        guard let addchdir = GNU.addchdir else { throw PlumbError("this C library cannot start a process in a folder") }
        _ = addchdir(&actions, request.workingDirectory)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Own process group (pgid = child's pid); default dispositions and an empty mask, since Plumb
        // may ignore or block signals (SIGPIPE, SIGINT) that a stage must receive normally.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)

        let argv: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", request.command].map { (s: String) in strdup(s) }
        let envp: [UnsafeMutablePointer<CChar>?] = request.environment.sorted { $0.key < $1.key }
            .map { (k, v) in strdup("\(k)=\(v)") }
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = (argv + [nil]).withUnsafeBufferPointer { a in
            (envp + [nil]).withUnsafeBufferPointer { e in
                posix_spawn(&pid, "/bin/sh", &actions, &attributes, a.baseAddress!, e.baseAddress!)
            }
        }
        guard rc == 0 else {
            var s = stat()
            if stat(request.workingDirectory, &s) != 0 || (s.st_mode & S_IFMT) != S_IFDIR {
                throw PlumbError("cannot start `\(request.command)`: working directory \(request.workingDirectory) does not exist")
            }
            throw PlumbError("cannot start `\(request.command)`: \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// Whether the process has exited, without reaping it (WNOWAIT).
    private static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        let rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        if rc != 0 { return errno == ECHILD }
        return info._sifields._sigchld.si_pid == pid
    }

    private static func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        // Failing otherwise means it was reaped elsewhere: report it as exit 127.
        guard (try? FileDescriptor.retryingInterrupts({ waitpid(pid, &status, 0) })) != nil else { return 0x7f00 }
        return status
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// glibc's GNU extensions, which Swift's Glibc module does not import (it is built without _GNU_SOURCE),
/// looked up once at run time.
enum GNU {
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
    typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32

    static let addchdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    static let addclosefrom: AddClosefrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    static let pipe2Function: Pipe2? = symbol("pipe2")

    /// pipe2 when available (atomic close-on-exec); else pipe plus FD_CLOEXEC, which leaves a small window
    /// in which a process spawned by another thread could inherit the pipe.
    static func pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32 {
        if let f = pipe2Function { return f(fds, flags) }
        guard pipe(fds) == 0 else { return -1 }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return 0
    }

    private static func symbol<T>(_ name: String) -> T? {
        guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(p, to: T.self)
    }
}

/// Splits output into lines, redacts secrets, appends to the log and streams each line.
///
/// Memory stays bounded whatever a stage prints: only the unfinished line is kept, and a line
/// longer than `maximumLine` goes out in pieces.
final class LineSink {
    private let log: Int32
    private let redactor: Redactor
    private let onLine: (@Sendable (String) -> Void)?
    private var pending: [UInt8] = []
    /// Redacted bytes of one `feed`, written to the log in one call.
    private var out: [UInt8] = []
    /// A line longer than this (a progress bar redrawn with \r, a binary dump) is flushed in pieces so
    /// memory stays bounded. Each piece stops short of any bytes that could begin a secret, so a
    /// secret straddling two pieces is still masked.
    static let maximumLine = 65536

    init(log: Int32, redactor: Redactor, onLine: (@Sendable (String) -> Void)?) {
        self.log = log
        self.redactor = redactor
        self.onLine = onLine
    }

    func feed(_ bytes: UnsafeRawBufferPointer) {
        pending.append(contentsOf: bytes)
        var start = 0
        while let nl = Self.newline(in: pending, from: start) {
            emit(redactor.redactLine(pending[start..<nl]), newline: true)
            start = nl + 1
        }
        if start > 0 { pending.removeFirst(start) }
        if pending.count > Self.maximumLine {
            let (masked, consumed) = redactor.redact(pending[...], final: false)
            emit(masked, newline: false)
            pending.removeFirst(consumed)
        }
        flush()
    }

    /// The index of the first newline at or after `start` (memchr: a stage may print gigabytes).
    private static func newline(in bytes: [UInt8], from start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            memchr(buffer.baseAddress! + start, 10, buffer.count - start).map { UnsafeRawPointer($0) - UnsafeRawPointer(buffer.baseAddress!) }
        }
    }

    /// Flushes a last line that had no newline (with one added in the log, so a retry starts on a fresh line).
    func finish() {
        if !pending.isEmpty { emit(redactor.redactLine(pending[...]), newline: true) }
        pending.removeAll()
        flush()
    }

    private func emit(_ text: [UInt8], newline: Bool) {
        onLine?(String(decoding: text, as: UTF8.self))
        out += text
        if newline { out.append(10) }
    }

    private func flush() {
        guard !out.isEmpty else { return }
        _ = try? AtomicFile.writeAll(log, Data(out), path: "log")
        out.removeAll(keepingCapacity: out.capacity <= 4 * Self.maximumLine)
    }
}

/// Process-wide settings made once, before the first stage starts.
enum ProcessHardening {
    /// PR_SET_DUMPABLE 0: a stage runs as the same user as Plumb and could otherwise read Plumb's
    /// environment (its credentials, every stage's secrets) from `/proc/<plumb's pid>/environ`, or
    /// attach a debugger to it. Stages themselves are dumpable again (`exec` resets the flag).
    private static let applied: Bool = {
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl") else { return false }
        let prctl = unsafeBitCast(p, to: Prctl.self)
        return prctl(4 /* PR_SET_DUMPABLE */, 0, 0, 0, 0) == 0
    }()

    static func apply() { _ = applied }
}

/// Every stage process group running in this process, so that a SIGINT/SIGTERM handler can stop them all.
package enum RunningProcessGroups {
    private static let groups = Locked<Set<pid_t>>([])

    /// Sends `signal` to every running stage's whole process group.
    package static func terminateAll(signal: Int32) {
        groups.withLock { groups in
            for g in groups { kill(-g, signal) }
        }
    }

    /// Sends `signal` to those of `pgids` that are running stages (never to a group that has finished,
    /// whose id may have been reused). Tests use it to stop their own stages without touching others'.
    static func terminate(_ pgids: Set<pid_t>, signal: Int32) {
        groups.withLock { groups in
            for g in groups.intersection(pgids) { kill(-g, signal) }
        }
    }

    /// The process group ids of the stages running now.
    package static var running: Set<pid_t> { groups.withLock { $0 } }

    static func register(_ pgid: pid_t) { groups.withLock { _ = $0.insert(pgid) } }
    static func unregister(_ pgid: pid_t) { groups.withLock { _ = $0.remove(pgid) } }
}
