import Foundation
import PlumbCore

/// One writer per repository and environment: an exclusive `flock` on `.plumb/locks/<env>.lock`.
/// Also the cache-wide lock (`_cache.lock`) that writers hold shared and `plumb gc` exclusive.
///
/// The kernel releases the lock when the holding process dies, however it dies, so a crash never
/// leaves a stale lock behind, and whether a lock is held is always the kernel's word (a flock, or
/// its table in `/proc/locks`), never a pid written in a file: pids are reused. The lock file is
/// never deleted: removing it while another process waits on it would let two processes lock two
/// different files of the same name.
package final class RepositoryLock {
    /// How a lock is held: one holder, or any number of holders that exclude only an exclusive one.
    package enum Mode: Sendable {
        case exclusive
        /// Holders write no details (they would overwrite each other's) and never truncate the file.
        case shared
    }

    /// The name of the cache-wide lock. It cannot be an environment's: those start with a letter.
    package static let cacheName = "_cache"

    /// Who holds a lock, written into the lock file so that a second writer can say who is in its way.
    package struct Holder: Codable, Sendable, Equatable {
        package var pid: Int32
        package var host: String
        var since: Date
        /// The command line that took the lock (`plumb reconcile --env dev`).
        package var command: String

        package init(pid: Int32, host: String, since: Date, command: String) {
            self.pid = pid
            self.host = host
            self.since = since
            self.command = command
        }
    }

    /// What this lock wrote into its file.
    package let holder: Holder
    /// The lock file.
    package let path: String
    package let mode: Mode
    private var fd: Int32
    /// Locks taken together with this one and released with it (the shared cache lock of a writer).
    private var companions: [RepositoryLock] = []

    private init(fd: Int32, path: String, holder: Holder, mode: Mode) {
        self.fd = fd
        self.path = path
        self.holder = holder
        self.mode = mode
    }

    deinit { release() }

    /// Keeps `other` until this lock is released, so that a caller holds one value for both.
    package func releasesAlso(_ other: RepositoryLock) { companions.append(other) }

    /// Takes the lock for `name` (an environment) in `directory` (`.plumb/locks`).
    ///
    /// With `wait` nil, fails at once when someone else holds it; otherwise retries with backoff
    /// for up to `wait` seconds. The error names the holder: pid, host, since when, and command.
    /// `stopWaiting` is asked between retries; when it says so the wait ends with an `interrupted`
    /// error (Ctrl-C must not leave a command waiting for a lock, only to run once it has it).
    package static func acquire(directory: URL, name: String, command: String, wait: Double?, mode: Mode = .exclusive,
                                stopWaiting: () -> Bool = { false }) throws -> RepositoryLock {
        switch try take(directory: directory, name: name, command: command, wait: wait, mode: mode, stopWaiting: stopWaiting) {
        case let .taken(lock): return lock
        case let .held(holder): throw lockedError(name: name, holder: holder, waited: wait)
        }
    }

    /// Takes the lock if no one else holds it; nil when someone does. Other failures throw.
    package static func attempt(directory: URL, name: String, command: String, mode: Mode = .exclusive) throws -> RepositoryLock? {
        if case let .taken(lock) = try take(directory: directory, name: name, command: command, wait: nil, mode: mode) { return lock }
        return nil
    }

    /// Releases the lock (idempotent). Also done in deinit and, if the process dies, by the kernel.
    package func release() {
        companions.forEach { $0.release() }
        companions = []
        guard fd >= 0 else { return }
        // Clear the holder first, so that no one reads our details after we let go. A shared holder
        // wrote none, and must not erase an exclusive holder's that it never owned.
        if mode == .exclusive { _ = ftruncate(fd, 0) }
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    /// Who holds the lock for `name`, or nil when no one does.
    ///
    /// The file keeps the details of a holder that was killed (nothing could clear them), and the
    /// pid it names may since belong to an unrelated process; so whether the lock is held is asked
    /// of the kernel's lock table. Where that cannot be read, a holder on this host counts only if
    /// its pid is alive and that process started before the lock was taken.
    package static func holder(directory: URL, name: String) -> Holder? {
        guard let path = try? lockPath(directory: directory, name: name, create: false),
              let data = FileManager.default.contents(atPath: path),
              let holder = decode(data) else { return nil }
        if let held = ProcessTable.isFlocked(path) { return held ? holder : nil }
        guard holder.host == hostName() else { return holder }
        if kill(holder.pid, 0) != 0, errno == ESRCH { return nil }
        // `since` is rounded down to the second: a process started a second after it is not the holder.
        if let started = ProcessTable.startTime(of: holder.pid), started > holder.since.addingTimeInterval(1) { return nil }
        return holder
    }

    // MARK: - Internals

    private enum Taken {
        case taken(RepositoryLock)
        /// Someone else holds it; their details when the file has them (an exclusive holder's).
        case held(Holder?)
    }

    private static func take(directory: URL, name: String, command: String, wait: Double?, mode: Mode,
                             stopWaiting: () -> Bool = { false }) throws -> Taken {
        let path = try lockPath(directory: directory, name: name)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw PlumbError("cannot open lock file \(path): \(String(cString: strerror(errno)))", hint: writableHint)
        }
        let deadline = wait.map { Date().addingTimeInterval(max(0, $0)) }
        var delay = 0.05
        while true {
            if flock(fd, (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0 { break }
            let reason = errno
            if reason == EINTR { continue }
            guard reason == EWOULDBLOCK else {
                close(fd)
                throw PlumbError("cannot lock \(path): \(String(cString: strerror(reason)))")
            }
            let remaining = deadline.map { $0.timeIntervalSinceNow } ?? 0
            guard remaining > 0 else {
                // Read through our own descriptor: the holder rewrites the file in place, never replaces it.
                // Blocked by shared holders, the file names no one of them (what it has is stale).
                let holder = mode == .exclusive && name == cacheName ? nil : readHolder(fd: fd)
                close(fd)
                return .held(holder)
            }
            if stopWaiting() {
                close(fd)
                throw PlumbError("interrupted while waiting for the lock '\(name)'", kind: .interrupted)
            }
            // Backoff keeps many waiters from spinning; the cap keeps the handover prompt.
            Thread.sleep(forTimeInterval: min(delay, remaining))
            delay = min(delay * 2, 1.0)
        }
        // Whole seconds, so that what is read back from the file equals what was written.
        let since = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let holder = Holder(pid: getpid(), host: hostName(), since: since, command: command)
        let lock = RepositoryLock(fd: fd, path: path, holder: holder, mode: mode)
        if mode == .exclusive { lock.writeHolder() }
        return .taken(lock)
    }

    private static let writableHint = "Plumb keeps its cache, locks and workspaces in .plumb/ of the working tree: it must be writable"

    private static func lockPath(directory: URL, name: String, create: Bool = true) throws -> String {
        // The name becomes a file name: keep it inside the locks folder.
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else {
            throw PlumbError("invalid lock name '\(name)'", hint: "environment names may not contain '/' or start with '.'")
        }
        if create {
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw PlumbError(fileSystem: error, doing: "cannot create", path: directory.path)
            }
        }
        return directory.appendingPathComponent("\(name).lock").path
    }

    private func writeHolder() {
        guard let data = try? Self.encoder.encode(holder) else { return }
        // In place rather than through AtomicFile: the lock lives on this inode, so it must not be
        // replaced. A torn write only costs the details in someone else's error message.
        _ = ftruncate(fd, 0)
        data.withUnsafeBytes { bytes in _ = pwrite(fd, bytes.baseAddress, bytes.count, 0) }
    }

    private static func readHolder(fd: Int32) -> Holder? {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return decode(Data(buffer[0..<n]))
    }

    private static func decode(_ data: Data) -> Holder? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(Holder.self, from: data)
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    private static func lockedError(name: String, holder: Holder?, waited: Double?) -> PlumbError {
        var message = name == cacheName ? "the cache is locked" : "environment '\(name)' is locked"
        if let holder {
            let since = ISO8601DateFormatter().string(from: holder.since)
            message += " by pid \(holder.pid) on host \(holder.host) since \(since) (\(holder.command))"
        } else {
            // The holder has the lock but has not written its details yet (or could not).
            message += " by another process"
        }
        if let waited { message += "; still locked after waiting \(formatSeconds(waited))" }
        if name == cacheName {
            // Only `plumb gc` holds it exclusively: it is removing unrecorded objects.
            return PlumbError(message + ": plumb gc is removing cache objects no record refers to",
                              hint: "run again when it has finished, or pass --wait-for-lock[=DURATION]")
        }
        return PlumbError(message, hint: "wait for it to finish, or pass --wait-for-lock[=DURATION]")
    }

    private static func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%.1fs", seconds)
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
