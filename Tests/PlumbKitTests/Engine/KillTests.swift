import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct KillTests {
    /// `kill -9` of plumb while a stage runs: no commit, no corrupt cache object, and the next
    /// reconcile converges (reusing what the first one finished).
    @Test func aKilledReconcileLeavesNoTraceAndTheNextOneConverges() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          quick:
            cmd: echo quick >> $SIDE && mkdir -p build && echo fast > build/quick.txt
            outs: [build/quick.txt]
          slow:
            cmd: echo slow >> $SIDE && sleep 2 && mkdir -p build && cat build/quick.txt > build/slow.txt
            deps: [build/quick.txt]
            outs: [build/slow.txt]
        """)
        let before = try h.scratch.head
        let process = Process()
        process.executableURL = URL(fileURLWithPath: plumbExecutable())
        process.arguments = ["reconcile", "--jobs", "1"]
        process.currentDirectoryURL = URL(fileURLWithPath: h.root)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until the slow stage has started, then kill plumb outright.
        for _ in 0..<1000 {  // up to 20 s: a loaded CI machine starts slowly
            if let text = try? String(contentsOfFile: h.sideFile, encoding: .utf8), text.contains("slow") { break }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(try h.ran() == ["quick", "slow"])

        // No commit, and every cache object is intact.
        #expect(try h.scratch.head == before)
        let project = try h.project()
        for digest in try cacheObjects(project) { #expect(project.cache.verify(digest), "object \(digest) is corrupt") }

        // The next reconcile restores quick from the cache (its fingerprint finished) and runs slow.
        let outcome = try h.reconcile()
        #expect(outcome.result?.status == .succeeded)
        #expect(outcome.result?.outcomes["quick"]?.status == .restored)
        #expect(try h.ran() == ["slow"])
        #expect(try h.state()?.stages.keys.sorted() == ["quick", "slow"])
    }
}

/// Digests of every file object in the cache.
func cacheObjects(_ project: Project) throws -> [Digest] {
    let objects = project.cache.root.appendingPathComponent("objects").path
    var out: [Digest] = []
    for prefix in (try? FileManager.default.contentsOfDirectory(atPath: objects)) ?? [] {
        for rest in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + prefix) where !rest.contains(".") {
            if let digest = Digest(hex: prefix + rest) { out.append(digest) }
        }
    }
    return out
}
