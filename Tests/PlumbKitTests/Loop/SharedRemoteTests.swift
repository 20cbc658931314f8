import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Several reconcilers sharing one bare `origin`, through the built binary.
@Suite(.serialized) struct LoopSharedRemoteTests {
    func localRuns(_ clone: ScratchClone, _ env: String) throws -> Set<String> {
        Set(try clone.repository.blobs(under: "history/\(env)/runs", in: try clone.head).map(\.path))
    }

    @Test func twoClonesReconcilingDifferentEnvironmentsConcurrentlyLoseNoRecord() throws {
        let remote = try SharedRemote(try sleepyHarness(environments: ["dev", "staging"]))
        let clones = [("dev", try ScratchClone(of: remote.origin.root)), ("staging", try ScratchClone(of: remote.origin.root))]
        let rounds = 20
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var failures: [String] = []
            var recorded: [String: Set<String>] = [:]
        }
        let results = Results()
        let started = Date()
        let done = DispatchGroup()
        for (env, clone) in clones {
            let root = clone.root
            done.enter()
            Thread {
                defer { done.leave() }
                for round in 0..<rounds {
                    // --force c: every round is a real run with its own record (c's output comes out the same, so d is cut off).
                    guard let r = try? runProcess(plumbExecutable(), ["reconcile", "--env", env, "--force", "c", "--pull", "--push", "--quiet"], in: root) else { continue }
                    if r.status != 0 {
                        results.lock.lock(); results.failures.append("\(env) round \(round): \(r.stderr)"); results.lock.unlock()
                    }
                }
            }.start()
        }
        done.wait()
        let elapsed = Date().timeIntervalSince(started)
        #expect(results.failures == [])
        for (env, clone) in clones {
            let local = try localRuns(clone, env)
            let onRemote = Set(try remote.runs(env))
            #expect(local.count == rounds, "\(env)")
            #expect(local.isSubset(of: onRemote), "\(env): records missing on the remote: \(local.subtracting(onRemote).sorted())")
            #expect(onRemote.count == rounds, "\(env)")
            #expect(try RepositoryInvariants.historyParses(remote.origin.repository, at: try remote.tip) == [])
        }
        print("shared remote: 2 clones × \(rounds) rounds (pull, run, record, push) in \(String(format: "%.1f", elapsed))s, \(try remote.runs("dev").count + remote.runs("staging").count) records on origin")
    }

    @Test func twoClonesReconcilingTheSameEnvironment_oneRecordsTheOtherReportsTheConflictAndConvergesNextCycle() throws {
        let remote = try SharedRemote(try sleepyHarness(environments: ["dev"]))
        let a = try ScratchClone(of: remote.origin.root)
        let b = try ScratchClone(of: remote.origin.root)
        let first = [try PlumbProcess(["reconcile", "--env", "dev", "--push", "--quiet"], in: a.root),
                     try PlumbProcess(["reconcile", "--env", "dev", "--push", "--quiet"], in: b.root)]
        let statuses = first.map { $0.wait() }
        #expect(statuses.sorted() == [0, 1], "\(first.map(\.text))")
        #expect(try remote.runs("dev").count == 1, "exactly one run is recorded on the remote")
        let loserIndex = statuses.firstIndex(of: 1) ?? 1
        let loser = [a, b][loserIndex]
        #expect(first[loserIndex].text.contains("conflict: origin/main changed history/dev/"))
        #expect(first[loserIndex].text.contains("hint: your run's outputs are in the local cache"))
        let losersRecord = try localRuns(loser, "dev")
        #expect(losersRecord.count == 1)

        // The loser's next cycle: its record gives way to the remote's, kept aside; nothing reruns.
        let next = try runProcess(plumbExecutable(), ["reconcile", "--env", "dev", "--pull", "--push"], in: loser.root)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stdout.contains("another writer recorded the same environment first; dropped the local record"))
        #expect(next.stdout.contains("Plan: 0 to run"), "\(next.stdout)")
        #expect(try loser.head == remote.tip)
        #expect(try remote.runs("dev").count == 1)
        let kept = loser.root + "/.plumb/conflicts"
        let keptFiles = (FileManager.default.enumerator(atPath: kept)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".json") }
        #expect(keptFiles.contains { $0.hasSuffix(losersRecord.first!) }, "\(keptFiles)")
        #expect(keptFiles.contains { $0.hasSuffix("history/dev/state.json") })
        // And the working tree's history/ follows the branch.
        #expect(try loser.repository.workingTreeChanges(against: try loser.head, paths: ["history"]).isEmpty)
    }
}
