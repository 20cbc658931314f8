import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Bad state a long-running reconciler meets, and secrets it must never leak.
@Suite struct LoopBadStateTests {
    @Test func aHandEditedStateJsonIsAClearErrorThroughTheCLI() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        try h.scratch.write("history/default/state.json", "{\"formatVersion\": 1, \"stages\": ")
        try h.scratch.commit("hand edit")
        let r = try runProcess(plumbExecutable(), ["reconcile"], in: h.root)
        #expect(r.status == 1)
        #expect(r.stderr.contains("history/default/state.json"), "\(r.stderr)")
        #expect(r.stderr.contains("hint:"), "\(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"))
        let plan = try runProcess(plumbExecutable(), ["plan"], in: h.root)
        #expect(plan.status == 1 && plan.stderr.contains("history/default/state.json"))
    }

    @Test func aRefLockLeftByAKilledWriterIsClearedButALiveOneIsRespected() throws {
        let h = try fourStageHarness()
        let lock = h.repository.gitDirectory.appendingPathComponent("refs/heads/main.lock").path
        _ = FileManager.default.createFile(atPath: lock, contents: Data())
        var old = [timeval(tv_sec: time(nil) - 60, tv_usec: 0), timeval(tv_sec: time(nil) - 60, tv_usec: 0)]
        utimes(lock, &old)
        #expect(try h.reconcile().commit != nil, "an abandoned main.lock must not block recording")
        #expect(!FileManager.default.fileExists(atPath: lock))
        #expect(Repository.isAbandonedLock(lock) == false, "absent is not abandoned")
        // Open in this process: someone is writing, whatever its age.
        _ = FileManager.default.createFile(atPath: lock, contents: Data())
        utimes(lock, &old)
        let fd = open(lock, O_RDONLY)
        defer { close(fd); unlink(lock) }
        #expect(Repository.isAbandonedLock(lock) == false)
    }

    @Test func aCorruptCacheObjectIsDetectedNeverUsedAndRebuiltByRerunningItsStage() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        _ = try h.ran()
        // Corrupt prepare's output in the cache (what train reads when it next runs).
        let clean = try #require(try h.state()?.stages["prepare"]?.outputs["build/clean.txt"])
        let object = h.root + "/.plumb/cache/objects/\(clean.hex.prefix(2))/\(clean.hex.dropFirst(2))"
        chmod(object, 0o644)
        try Data("TAMPERED\n".utf8).write(to: URL(fileURLWithPath: object))
        // A param change makes train run, which needs prepare's output from the cache.
        try h.edit("spec/params.yaml", fourStagesParams.replacingOccurrences(of: "depth: 4", with: "depth: 5"))
        let outcome = try h.reconcile()
        #expect(outcome.record?.status == .succeeded)
        let ran = try h.ran()
        #expect(ran.contains("prepare"), "the producer of the corrupt object is rerun: \(ran)")
        #expect(ran.contains("train"))
        #expect(try h.state()?.stages["prepare"]?.outputs["build/clean.txt"] == clean, "rebuilt with the right content")
        #expect(try h.project().cache.verify(clean))
        // train consumed the real bytes, never the tampered ones.
        let model = try #require(try h.state()?.stages["train"]?.outputs["build/model.txt"])
        #expect(String(decoding: try h.project().cache.data(model), as: UTF8.self) == "ABC\n")
    }

    @Test func anOutputThatIsASymlinkLeadingOutOfTheWorkspaceIsRejected() throws {
        let outside = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try Data("secret outside\n".utf8).write(to: URL(fileURLWithPath: outside + "/target.txt"))
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          escape:
            cmd: mkdir -p build && ln -s \(outside)/target.txt build/out.txt
            outs: [build/out.txt]
        """)
        let outcome = try h.reconcile()
        #expect(outcome.record?.status == .failed)
        let stage = try #require(outcome.record?.stages["escape"])
        #expect(stage.status == .failed)
        #expect(stage.logTail?.contains("leads out of the workspace") == true, "\(stage.logTail ?? "")")
        #expect(stage.outputs.isEmpty)
        #expect(try RepositoryInvariants.cacheObjectsMatch(h.root).checked <= 1, "only the log may be stored")
    }

    @Test func secretsReachTheStageButNoHistoryPlanJsonOrLog() throws {
        let secret = "s3cr3t-\(UUID().uuidString)"
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          deploy:
            cmd: echo "token is $API_TOKEN" && test "$API_TOKEN" = "$EXPECTED" && echo ok > done.txt
            env: {MODE: fast}
            secrets: [API_TOKEN, EXPECTED]
            outs: [done.txt]
        """)
        let env = ["API_TOKEN": secret, "EXPECTED": secret]
        let plan = try runProcess(plumbExecutable(), ["plan", "--json"], in: h.root, environment: env)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("API_TOKEN"), "the name may show")
        let run = try runProcess(plumbExecutable(), ["reconcile", "--json"], in: h.root, environment: env)
        #expect(run.status == 0, "the stage saw the secret's value: \(run.stdout) \(run.stderr)")
        let log = try runProcess(plumbExecutable(), ["reconcile", "--verbose", "--force", "deploy"], in: h.root, environment: env)
        #expect(log.status == 0)
        #expect(log.stdout.contains("token is ***"), "\(log.stdout)")

        var leaks: [String] = []
        for (name, text) in [("plan --json", plan.stdout + plan.stderr), ("reconcile --json", run.stdout + run.stderr),
                             ("streamed log", log.stdout + log.stderr)] where text.contains(secret) { leaks.append(name) }
        for entry in try h.repository.blobs(under: "history", in: try h.scratch.head)
        where String(decoding: try h.repository.blob(entry.id), as: UTF8.self).contains(secret) { leaks.append(entry.path) }
        // Every file Plumb keeps: cache objects (logs included), fingerprint index, stat cache, workspaces.
        if let walker = FileManager.default.enumerator(atPath: h.root + "/.plumb") {
            for case let path as String in walker {
                if let data = FileManager.default.contents(atPath: h.root + "/.plumb/" + path),
                   String(decoding: data, as: UTF8.self).contains(secret) { leaks.append(".plumb/" + path) }
            }
        }
        #expect(leaks == [])
        // A secret is not an input: changing its value plans nothing.
        let other = try runProcess(plumbExecutable(), ["plan", "--detailed-exitcode"], in: h.root,
                                   environment: ["API_TOKEN": "another", "EXPECTED": "another"])
        #expect(other.status == 0, "\(other.stdout)")
    }
}
