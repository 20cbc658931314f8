import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Item 9 of issue 10: gc and the writers exclude each other, a lock whose pid was reused blocks
/// nothing, promote and rollback stop cleanly on SIGINT/SIGTERM, and a kill at any moment never
/// leaves an index whose next `git commit` reverts what Plumb committed.
@Suite struct HostileConcurrencyTests {
    // MARK: - gc against a running reconcile

    @Test func gcAndAReconcileNeverRunAtOnce() throws {
        let world = try GateWorld()
        let h = world.harness

        // A reconcile stored a's output and waits in b: gc must not collect under it.
        let reconcile = try PlumbProcess(["reconcile", "--quiet"], in: h.root)
        #expect(eventually(timeout: 30) { world.ran().contains("b-start") }, "b never started: \(reconcile.text)")
        let refused = try runProcess(plumbExecutable(), ["gc"], in: h.root)
        #expect(refused.status == 1, "gc ran under a running reconcile: \(refused.stdout)")
        world.open()
        #expect(reconcile.wait() == 0, "\(reconcile.text)")
        #expect(try world.missingRecordedOutputs() == [])

        // gc is collecting (frozen just after it took its lock): a reconcile must not store anything meanwhile.
        world.close()
        try h.edit("spec/in.txt", "2\n")
        world.open()
        try world.clearRan()
        let gc = try world.frozenGC()
        defer { gc.signal(SIGKILL) }
        let blocked = try runProcess(plumbExecutable(), ["reconcile", "--quiet"], in: h.root)
        #expect(blocked.status == 1, "a reconcile ran while gc was collecting")
        #expect(blocked.stderr.contains("plumb gc"), "\(blocked.stderr)")
        #expect(world.ran() == [], "stages ran while gc was collecting")
        gc.signal(SIGCONT)
        #expect(gc.wait() == 0, "\(gc.text)")

        let after = try runProcess(plumbExecutable(), ["reconcile", "--quiet"], in: h.root)
        #expect(after.status == 0, "\(after.stderr)")
        #expect(try world.missingRecordedOutputs() == [])
    }

    /// The holder file of a reconcile that was SIGKILLed still names its pid, and that pid now
    /// belongs to an unrelated live process. The lock is free (the kernel says so): gc runs.
    @Test func aLockWhosePidWasReusedBlocksNothing() throws {
        let h = try PipelineHarness(pipeline: oneStagePipeline, files: ["spec/in.txt": "1\n"])
        #expect(try runProcess(plumbExecutable(), ["reconcile", "--quiet"], in: h.root).status == 0)
        let unrelated = Process()
        unrelated.executableURL = URL(fileURLWithPath: "/bin/sleep")
        unrelated.arguments = ["60"]
        try unrelated.run()
        defer { kill(unrelated.processIdentifier, SIGKILL); unrelated.waitUntilExit() }

        let locks = h.root + "/.plumb/locks"
        try FileManager.default.createDirectory(atPath: locks, withIntermediateDirectories: true)
        let stale = RepositoryLock.Holder(pid: unrelated.processIdentifier, host: Self.hostName(),
                                          since: Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 3600).rounded(.down)),
                                          command: "plumb reconcile (killed an hour ago)")
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(stale).write(to: URL(fileURLWithPath: locks + "/default.lock"))

        #expect(RepositoryLock.holder(directory: URL(fileURLWithPath: locks), name: "default") == nil)
        let gc = try runProcess(plumbExecutable(), ["gc"], in: h.root)
        #expect(gc.status == 0, "a dead holder's reused pid blocked gc: \(gc.stderr)")
        let again = try runProcess(plumbExecutable(), ["reconcile", "--quiet", "--force", "s"], in: h.root)
        #expect(again.status == 0, "\(again.stderr)")
    }

    // MARK: - Signals and kills around the moment the branch moves

    /// SIGTERM at seeded moments of a promotion and of a rollback: the command handles it (it
    /// stops at a safe point, exit 130, or finishes, exit 0), is never killed by it, and leaves
    /// index and working tree equal to HEAD.
    @Test func promoteAndRollbackStopCleanlyOnSIGTERM() throws {
        let world = try PromoteWorld()
        var rng = SeededGenerator(seed: 20_261_202)
        for (name, arguments) in [("promote", ["promote", "dev", "staging", "--quiet"]), ("rollback", ["rollback", "staging", "--quiet"])] {
            let template = name == "promote" ? world.readyToPromote : world.readyToRollBack
            let runTime = try world.timeOf(arguments, in: template)
            var handled = 0
            for iteration in 0..<10 {
                let copy = try world.copy(template)
                defer { try? FileManager.default.removeItem(atPath: copy) }
                let victim = try PlumbProcess(arguments, in: copy)
                // Wait until its handler is installed: a signal before that is the kernel's to deliver.
                let deadline = Date().addingTimeInterval(20)
                while victim.process.isRunning && !Self.handlesSIGTERM(victim.pid) && Date() < deadline { usleep(500) }
                guard victim.process.isRunning else { victim.wait(); continue }
                handled += 1
                let context = "\(name) iteration \(iteration)"
                Thread.sleep(forTimeInterval: Double.random(in: 0...runTime, using: &rng))
                victim.signal(SIGTERM)
                let status = victim.wait()
                #expect(victim.process.terminationReason == .exit, "\(context): killed by the signal")
                #expect(status == 0 || status == 130, "\(context): exit \(status): \(victim.text)")
                let porcelain = try hostileGit(["status", "--porcelain"], in: copy).stdout
                #expect(porcelain.isEmpty, "\(context): index or working tree differ from HEAD:\n\(porcelain)")
            }
            print("sigterm: \(name): \(handled) of 10 runs signalled after their handler was installed")
            #expect(handled > 0, "\(name) never installed a SIGTERM handler while running")
        }
    }

    /// SIGKILL at seeded moments just after the branch moves (the test watches the ref file and kills
    /// 0–3 ms after it is replaced), during a promotion and during a reconcile, then the user's next
    /// ordinary commit of an unrelated file: the user's commit keeps Plumb's pin or record. (Before,
    /// the branch moved first and the index followed: a kill in between left the old content in the
    /// index, and `git commit` reverted the record.)
    @Test func aKillJustAfterTheBranchMovesNeverLeavesAnIndexThatRevertsTheRecord() throws {
        let world = try PromoteWorld()
        var rng = SeededGenerator(seed: 30_261_202)
        let cases: [(String, [String], String, String, String)] = [
            ("promote", ["promote", "dev", "staging", "--quiet"], world.readyToPromote, "plumb(promote)", "environments/staging.pin.json"),
            ("reconcile", ["reconcile", "--env", "dev", "--quiet"], world.readyToReconcile, "plumb(dev)", "history/dev"),
        ]
        var reverted = 0
        for (name, arguments, template, subject, owned) in cases {
            for iteration in 0..<20 {
                let copy = try world.copy(template)
                defer { try? FileManager.default.removeItem(atPath: copy) }
                let ref = copy + "/.git/refs/heads/main"
                let before = Self.inode(ref)
                let offset = Double.random(in: 0...0.003, using: &rng)
                let victim = try PlumbProcess(arguments, in: copy)
                // libgit2 moves a ref by renaming its lock file over it: a new inode.
                while victim.process.isRunning && Self.inode(ref) == before {}
                let moved = Date()
                while Date().timeIntervalSince(moved) < offset {}
                victim.signal(SIGKILL)
                victim.wait()
                let context = "\(name) iteration \(iteration), killed \(String(format: "%.4f", offset))s after the branch moved"

                // The user follows git's advice about locks a killed process left, then commits.
                for lock in ["index.lock", "refs/heads/main.lock"] { try? FileManager.default.removeItem(atPath: copy + "/.git/" + lock) }
                try Data("mine\n".utf8).write(to: URL(fileURLWithPath: copy + "/unrelated.txt"))
                try hostileGit(["add", "unrelated.txt"], in: copy)
                try hostileGit(["commit", "-qm", "an unrelated change"], in: copy)

                let repo = try Repository(at: copy)
                let head = try #require(try repo.head().commit)
                let plumbs = try #require(try repo.log(to: head).first(where: { $0.summary.hasPrefix(subject) }),
                                          "\(context): the branch moved, yet holds no \(subject) commit")
                let kept = try repo.entry(at: owned, in: head)?.id == repo.entry(at: owned, in: plumbs.id)?.id
                if !kept { reverted += 1 }
                #expect(kept, "\(context): the user's commit reverted \(owned)")
            }
        }
        print("kill: 40 kills just after the branch moved; the next git commit reverted \(reverted)")
    }

    static func inode(_ path: String) -> UInt64 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : 0
    }

    // MARK: - Support

    /// Whether `pid` ignores SIGTERM or catches it (`/proc/<pid>/status`): its handler is installed.
    static func handlesSIGTERM(_ pid: pid_t) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        let bit = UInt64(1) << UInt64(SIGTERM - 1)
        for line in status.split(separator: "\n") where line.hasPrefix("SigIgn:") || line.hasPrefix("SigCgt:") {
            if let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16), mask & bit != 0 { return true }
        }
        return false
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

let oneStagePipeline = """
version: 1
stages:
  s:
    cmd: mkdir -p build && cat spec/in.txt > build/o.txt
    deps: [spec/in.txt]
    outs: [build/o.txt]
"""

/// Stage a stores an output; stage b, after it, waits for a gate file that the test opens.
private final class GateWorld {
    let harness: PipelineHarness
    let folder: String
    var gate: String { folder + "/open" }
    var side: String { folder + "/ran" }

    init() throws {
        folder = try temporaryFolder()
        harness = try PipelineHarness(pipeline: """
            version: 1
            stages:
              a:
                cmd: mkdir -p build && cat spec/in.txt > build/a.txt && echo a >> \(folder)/ran
                deps: [spec/in.txt]
                outs: [build/a.txt]
              b:
                cmd: >-
                  echo b-start >> \(folder)/ran && while [ ! -f \(folder)/open ]; do sleep 0.02; done &&
                  cp build/a.txt build/b.txt
                deps: [build/a.txt]
                outs: [build/b.txt]
            """, files: ["spec/in.txt": "1\n"])
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    func open() { _ = FileManager.default.createFile(atPath: gate, contents: nil) }
    func close() { try? FileManager.default.removeItem(atPath: gate) }
    func ran() -> [String] { ((try? String(contentsOfFile: side, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
    func clearRan() throws { try? FileManager.default.removeItem(atPath: side) }

    /// Recorded outputs (state and run records at HEAD) that the cache does not have.
    func missingRecordedOutputs() throws -> [String] {
        let project = try harness.project()
        let repo = harness.repository
        let head = try harness.scratch.head
        var missing: [String] = []
        for entry in try repo.blobs(under: "history", in: head) where entry.path.contains("/runs/") {
            let record = try RunRecord.decode(try repo.blob(entry.id), path: entry.path)
            for (stage, outcome) in record.stages {
                for (path, digest) in outcome.outputs where !project.cache.contains(digest) { missing.append("\(stage): \(path)") }
            }
        }
        return missing.sorted()
    }

    /// `plumb gc`, stopped (SIGSTOP) as soon as it has written itself into a lock file, so that it
    /// holds its lock without finishing. Unreferenced objects give it something to remove.
    func frozenGC() throws -> PlumbProcess {
        let locks = harness.root + "/.plumb/locks"
        for _ in 0..<20 {
            let objects = harness.root + "/.plumb/cache/objects"
            for i in 0..<400 {
                let hex = String(format: "%064x", 0xdead_0000 + i)
                let shard = objects + "/" + hex.prefix(2)
                try FileManager.default.createDirectory(atPath: shard, withIntermediateDirectories: true)
                _ = FileManager.default.createFile(atPath: shard + "/" + hex.dropFirst(2), contents: Data("junk\n".utf8))
            }
            let gc = try PlumbProcess(["gc"], in: harness.root)
            let marker = "\"pid\":\(gc.pid)"
            while gc.process.isRunning {
                let held = ((try? FileManager.default.contentsOfDirectory(atPath: locks)) ?? []).contains { name in
                    (try? String(contentsOfFile: locks + "/" + name, encoding: .utf8))?.contains(marker) == true
                }
                if held {
                    gc.signal(SIGSTOP)
                    return gc
                }
            }
            gc.wait()
        }
        throw PlumbError("gc always finished before it could be stopped")
    }
}

/// Repositories ready for a promotion, a rollback and a reconcile, copied afresh for each attempt.
private final class PromoteWorld {
    let harness: PipelineHarness
    let folder: String
    /// dev reconciled, staging never promoted.
    let readyToPromote: String
    /// staging promoted twice (runs of two dev versions).
    let readyToRollBack: String
    /// a new spec committed, dev not yet reconciled.
    let readyToReconcile: String

    init() throws {
        folder = try temporaryFolder()
        harness = try PipelineHarness(pipeline: promotionPipeline, params: promotionParams(version: 1, accuracy: "0.9"), files: [
            ".gitignore": ".plumb/\ndeployments/\n",
            "spec/train.sh": "true\n",
            "environments/dev.yaml": "params: {}\n",
            "environments/staging.yaml": "from: dev\nruns: [deploy]\n",
        ])
        let root = harness.root
        func plumb(_ arguments: String...) throws {
            let r = try runProcess(plumbExecutable(), arguments, in: root)
            if r.status != 0 { throw PlumbError("plumb \(arguments.joined(separator: " ")): \(r.stderr)") }
        }
        try plumb("reconcile", "--env", "dev", "--quiet")
        readyToPromote = folder + "/promote"
        try Self.copy(root, to: readyToPromote)
        try plumb("promote", "dev", "staging", "--quiet")
        try harness.edit("spec/params.yaml", promotionParams(version: 2, accuracy: "0.9"))
        readyToReconcile = folder + "/reconcile"
        try Self.copy(root, to: readyToReconcile)
        try plumb("reconcile", "--env", "dev", "--quiet")
        try plumb("promote", "dev", "staging", "--quiet")
        readyToRollBack = folder + "/rollback"
        try Self.copy(root, to: readyToRollBack)
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    func copy(_ template: String) throws -> String {
        let target = folder + "/try-" + UUID().uuidString
        try Self.copy(template, to: target)
        return target
    }

    /// How long the command takes, uninterrupted, on a copy of `template`.
    func timeOf(_ arguments: [String], in template: String) throws -> Double {
        let copy = try copy(template)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let started = Date()
        let r = try runProcess(plumbExecutable(), arguments, in: copy)
        #expect(r.status == 0, "\(arguments): \(r.stderr)")
        return Date().timeIntervalSince(started)
    }

    static func copy(_ source: String, to target: String) throws {
        let r = try runProcess("/bin/cp", ["-a", source, target], in: "/")
        if r.status != 0 { throw PlumbError("cp -a \(source) \(target): \(r.stderr)") }
    }
}
