import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct RepositoryLockTests {
    /// A shell that locks `file` and then becomes `sleep`, so that exactly one process, the
    /// returned one, holds the lock: killing it must release it.
    func lockHolder(_ file: String, seconds: Double) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // flock(1) on fd 9 locks the open file description the shell owns; `exec sleep` keeps it.
        process.arguments = ["-c", "exec 9>>\"$1\" && flock 9 && exec sleep \"$2\"", "sh", file, String(seconds)]
        try process.run()
        return process
    }

    /// Waits until someone other than us holds the lock (the child has started and locked).
    func waitUntilLocked(_ directory: URL, _ name: String) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            do {
                let probe = try RepositoryLock.acquire(directory: directory, name: name, command: "probe", wait: nil)
                probe.release()
                Thread.sleep(forTimeInterval: 0.02)
            } catch is PlumbError { return }
        }
        Issue.record("the child never took the lock")
    }

    @Test func aSecondWriterIsToldWhoHoldsTheLock() throws {
        let base = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let directory = URL(fileURLWithPath: base).appendingPathComponent(".plumb/locks")
        let first = try RepositoryLock.acquire(directory: directory, name: "dev", command: "plumb reconcile --env dev", wait: nil)
        #expect(first.holder.pid == getpid())
        #expect(RepositoryLock.holder(directory: directory, name: "dev") == first.holder)

        // flock belongs to the open file description: a second open in the same process conflicts.
        do {
            _ = try RepositoryLock.acquire(directory: directory, name: "dev", command: "plumb reconcile --env dev --push", wait: nil)
            Issue.record("a second writer got the lock")
        } catch let error as PlumbError {
            let since = ISO8601DateFormatter().string(from: first.holder.since)
            #expect(error.message == "environment 'dev' is locked by pid \(getpid()) on host \(first.holder.host) since \(since) (plumb reconcile --env dev)")
            #expect(error.hint == "wait for it to finish, or pass --wait-for-lock[=DURATION]")
        }

        // Environments lock independently.
        let prod = try RepositoryLock.acquire(directory: directory, name: "prod", command: "plumb reconcile --env prod", wait: nil)
        prod.release()

        first.release()
        #expect(RepositoryLock.holder(directory: directory, name: "dev") == nil)
        let again = try RepositoryLock.acquire(directory: directory, name: "dev", command: "again", wait: nil)
        #expect(RepositoryLock.holder(directory: directory, name: "dev")?.command == "again")
        again.release()
    }

    @Test func releasedWhenTheValueGoesAway() throws {
        let directory = URL(fileURLWithPath: try temporaryFolder())
        defer { try? FileManager.default.removeItem(at: directory) }
        do { _ = try RepositoryLock.acquire(directory: directory, name: "dev", command: "scoped", wait: nil) }
        let next = try RepositoryLock.acquire(directory: directory, name: "dev", command: "next", wait: nil)
        next.release()
    }

    @Test func theKernelReleasesTheLockOfAKilledProcess() throws {
        let directory = URL(fileURLWithPath: try temporaryFolder())
        defer { try? FileManager.default.removeItem(at: directory) }
        let holder = try lockHolder(directory.appendingPathComponent("dev.lock").path, seconds: 30)
        try waitUntilLocked(directory, "dev")
        do {
            _ = try RepositoryLock.acquire(directory: directory, name: "dev", command: "second", wait: nil)
            Issue.record("got a lock another process holds")
        } catch let error as PlumbError {
            // The child wrote no holder details: the message still says the environment is locked.
            #expect(error.message.hasPrefix("environment 'dev' is locked"))
        }
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        let lock = try RepositoryLock.acquire(directory: directory, name: "dev", command: "after the crash", wait: nil)
        #expect(lock.holder.command == "after the crash")
        lock.release()
    }

    @Test func waitingSucceedsOnceTheHolderLetsGoAndFailsAtTheDeadline() throws {
        let directory = URL(fileURLWithPath: try temporaryFolder())
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("dev.lock").path

        let long = try lockHolder(file, seconds: 30)
        try waitUntilLocked(directory, "dev")
        let start = Date()
        do {
            _ = try RepositoryLock.acquire(directory: directory, name: "dev", command: "impatient", wait: 0.3)
            Issue.record("got a lock another process holds")
        } catch let error as PlumbError {
            #expect(error.message.contains("still locked after waiting 0.3s"))
        }
        #expect(Date().timeIntervalSince(start) >= 0.3)
        kill(long.processIdentifier, SIGKILL)
        long.waitUntilExit()

        let short = try lockHolder(file, seconds: 0.5)
        try waitUntilLocked(directory, "dev")
        let lock = try RepositoryLock.acquire(directory: directory, name: "dev", command: "patient", wait: 20)
        #expect(lock.holder.command == "patient")
        lock.release()
        short.waitUntilExit()
    }

    @Test func detailsLeftBehindByADeadProcessNameNoHolder() throws {
        let directory = URL(fileURLWithPath: try temporaryFolder())
        defer { try? FileManager.default.removeItem(at: directory) }
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        // What a holder killed by SIGKILL leaves: its details, but no lock.
        let lock = try RepositoryLock.acquire(directory: directory, name: "dev", command: "crashed", wait: nil)
        var stale = lock.holder
        stale.pid = gone.processIdentifier
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        lock.release()
        try encoder.encode(stale).write(to: directory.appendingPathComponent("dev.lock"))
        #expect(RepositoryLock.holder(directory: directory, name: "dev") == nil)
        let next = try RepositoryLock.acquire(directory: directory, name: "dev", command: "next", wait: nil)
        #expect(RepositoryLock.holder(directory: directory, name: "dev") == next.holder)
        next.release()
    }

    @Test func lockNamesStayInsideTheLocksFolder() throws {
        let directory = URL(fileURLWithPath: try temporaryFolder())
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: PlumbError.self) { try RepositoryLock.acquire(directory: directory, name: "../x", command: "c", wait: nil) }
        #expect(throws: PlumbError.self) { try RepositoryLock.acquire(directory: directory, name: "", command: "c", wait: nil) }
    }

    @Test func atomicWriteReplacesTheFileAndLeavesNoTemporaryFiles() throws {
        let directory = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/cache/objects/ab/state.json"
        try AtomicFile.write(Data("old".utf8), to: path)
        try AtomicFile.write(Data("new".utf8), to: path)
        #expect(FileManager.default.contents(atPath: path) == Data("new".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/cache/objects/ab") == ["state.json"])
        #expect(throws: PlumbError.self) { try AtomicFile.write(Data(), to: path + "/inside-a-file") }
    }
}
