import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// One writer per repository and environment, as `plumb reconcile` users see it.
@Suite struct LoopLockingTests {
    @Test func aSecondReconcileNamesTheHolderAndExits1_aDryRunIgnoresTheLock() throws {
        let h = try fourStageHarness()
        let lock = try h.project().lock(environment: "default", command: "plumb reconcile --from-test", wait: nil)
        defer { lock.release() }

        let blocked = try runProcess(plumbExecutable(), ["reconcile", "--quiet"], in: h.root)
        #expect(blocked.status == 1)
        #expect(blocked.stderr.contains("environment 'default' is locked by pid \(getpid())"))
        #expect(blocked.stderr.contains("plumb reconcile --from-test"))
        #expect(blocked.stderr.contains("--wait-for-lock"))
        #expect(try h.ran() == [], "nothing may run without the lock")
        #expect(try h.state() == nil)

        let plan = try runProcess(plumbExecutable(), ["reconcile", "--dry-run"], in: h.root)
        #expect(plan.status == 0, "a dry run takes no lock: \(plan.stderr)")
        #expect(plan.stdout.contains("Plan: 4 to run"))

        let waited = Date()
        let timedOut = try runProcess(plumbExecutable(), ["reconcile", "--quiet", "--wait-for-lock=1s"], in: h.root)
        #expect(timedOut.status == 1)
        #expect(timedOut.stderr.contains("still locked after waiting 1s"))
        #expect(Date().timeIntervalSince(waited) >= 1)
    }

    @Test func waitForLockWithoutDurationWaitsUntilTheHolderLetsGo() throws {
        let h = try fourStageHarness()
        let lock = try h.project().lock(environment: "default", command: "holder", wait: nil)
        let waiter = try PlumbProcess(["reconcile", "--quiet", "--wait-for-lock"], in: h.root)
        Thread.sleep(forTimeInterval: 0.7)
        #expect(waiter.process.isRunning, "it must wait, not fail")
        #expect(try h.state() == nil)
        lock.release()
        #expect(waiter.wait() == 0, "\(waiter.text)")
        #expect(try h.state()?.stages.count == 4)
    }

    @Test func waitForLockRejectsANonDuration() throws {
        let h = try fourStageHarness()
        let r = try runProcess(plumbExecutable(), ["reconcile", "--wait-for-lock=soon"], in: h.root)
        #expect(r.status == 64)
        #expect(r.stderr.contains("--wait-for-lock expects a duration"))
    }
}
