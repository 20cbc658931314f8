import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Records are untrusted input (issue 10, item 1): whatever a commit or a remote says in
/// `history/` or a pin, Plumb refuses it where it is decoded, with `<file>: error: …` and a hint,
/// and touches nothing.

/// Rewrites `history/<env>/state.json` in the working tree at `root` through `edit` (on the parsed
/// JSON) and commits it with `commit`, as a hostile contributor would.
func craftState(at root: String, env: String = EnvironmentSpec.implicitName, commit: () throws -> Void,
                _ edit: (inout [String: Any]) -> Void) throws {
    let path = root + "/" + RecordedState.path(for: env)
    var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    edit(&json)
    try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
    try commit()
}

func craftState(_ h: PipelineHarness, _ edit: (inout [String: Any]) -> Void) throws {
    try craftState(at: h.root, commit: { try h.scratch.commit("tweak the record") }, edit)
}

/// Sets `stages.<stage>.outputs.<path>` (or renames an output key with `newKey`).
func setOutput(_ json: inout [String: Any], stage: String, path: String, digest: String? = nil, newKey: String? = nil) {
    var stages = json["stages"] as! [String: Any]
    var record = stages[stage] as! [String: Any]
    var outputs = record["outputs"] as! [String: Any]
    let value = digest ?? (outputs[path] as! String)
    outputs[path] = nil
    outputs[newKey ?? path] = value
    record["outputs"] = outputs
    stages[stage] = record
    json["stages"] = stages
}

/// A digest-shaped text that, joined to the cache's folder, names `file` anywhere on the machine.
func climbingDigest(to file: String, from shard: String = "..") -> String {
    shard + String(repeating: "/..", count: 40) + file
}

/// Every file under `folder` with its bytes, to show a command changed nothing there.
func snapshotFiles(_ folder: String) -> [String: Data] {
    var out: [String: Data] = [:]
    for case let path as String in FileManager.default.enumerator(atPath: folder) ?? FileManager.DirectoryEnumerator() {
        if let data = FileManager.default.contents(atPath: folder + "/" + path) { out[path] = data }
    }
    return out
}

@Suite struct HostileRecordTests {
    @Test func craftedDigestInStateNeverUnlinksOutsideTheCache() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        let outside = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let notes = outside + "/notes.txt"
        let clean = try #require(try h.state()?.stages["prepare"]?.outputs["build/clean.txt"])
        // Two shapes: `..…` (what gc and checkout unlink as a corrupt manifest) and `<shard>/..…`
        // (an upstream output reconcile copies into the workspace, then unlinks as corrupt).
        try craftState(h) { json in
            setOutput(&json, stage: "prepare", path: "build/clean.txt", digest: climbingDigest(to: notes, from: String(clean.hex.prefix(2))))
            setOutput(&json, stage: "lint", path: "build/lint.txt", digest: climbingDigest(to: notes))
        }
        // train must run, so that reconcile needs prepare's (crafted) output.
        try h.edit("spec/params.yaml", fourStagesParams.replacingOccurrences(of: "depth: 4", with: "depth: 5"))
        let head = try h.scratch.head
        let cache = snapshotFiles(h.root + "/.plumb/cache/objects")

        for command in [["gc"], ["checkout"], ["reconcile"], ["plan"]] {
            try Data("my notes\n".utf8).write(to: URL(fileURLWithPath: notes))
            let r = try runProcess(plumbExecutable(), command, in: h.root)
            #expect(r.status == 1, "\(command): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.hasPrefix("history/default/state.json: error: "), "\(command): \(r.stderr)")
            #expect(r.stderr.contains("SHA-256 digest") && r.stderr.contains("hint:"), "\(command): \(r.stderr)")
            #expect(FileManager.default.contents(atPath: notes) == Data("my notes\n".utf8), "\(command) touched a file outside the cache")
        }
        #expect(try h.scratch.head == head, "nothing was recorded")
        #expect(snapshotFiles(h.root + "/.plumb/cache/objects") == cache, "no cache object was removed")
        #expect(!FileManager.default.fileExists(atPath: h.root + "/build"), "checkout wrote nothing")
    }

    @Test func anOutputKeyOutsideTheRepositoryIsRefusedAndNothingIsDeleted() throws {
        let h = try fourStageHarness()
        try h.reconcile()
        let victim = FileManager.default.temporaryDirectory.appendingPathComponent("victim-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: victim) }
        try FileManager.default.createDirectory(atPath: victim + "/important", withIntermediateDirectories: true)
        try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: victim + "/important/thesis.tex"))
        let key = "../" + URL(fileURLWithPath: victim).lastPathComponent + "/important"
        try craftState(h) { setOutput(&$0, stage: "prepare", path: "build/clean.txt", newKey: key) }

        let r = try runProcess(plumbExecutable(), ["checkout"], in: h.root)
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("history/default/state.json: error: "), "\(r.stderr)")
        #expect(r.stderr.contains("climbs out through '..'") && r.stderr.contains("hint:"), "\(r.stderr)")
        #expect(FileManager.default.contents(atPath: victim + "/important/thesis.tex") == Data("keep me\n".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: victim + "/important") == ["thesis.tex"])
    }

    /// One bad value per rule; each must be refused by the decoder, naming the file and the place.
    static let badStates: [(what: String, edit: @Sendable (inout [String: Any]) -> Void)] = [
        ("uppercase digest", { setOutput(&$0, stage: "s", path: "build/a", digest: String(repeating: "A", count: 64)) }),
        ("short digest", { setOutput(&$0, stage: "s", path: "build/a", digest: "abc") }),
        ("absolute output", { setOutput(&$0, stage: "s", path: "build/a", newKey: "/etc/passwd") }),
        ("output climbing out", { setOutput(&$0, stage: "s", path: "build/a", newKey: "build/../../x") }),
        ("output with a dot part", { setOutput(&$0, stage: "s", path: "build/a", newKey: "./build/a") }),
        ("output with an empty part", { setOutput(&$0, stage: "s", path: "build/a", newKey: "build//a") }),
        ("output in .git", { setOutput(&$0, stage: "s", path: "build/a", newKey: ".git/hooks/pre-commit") }),
        ("output in .plumb", { setOutput(&$0, stage: "s", path: "build/a", newKey: ".plumb/cache/objects/ab/cd") }),
        ("output in history", { setOutput(&$0, stage: "s", path: "build/a", newKey: "history/prod/state.json") }),
        ("output with NUL", { setOutput(&$0, stage: "s", path: "build/a", newKey: "build/a\u{0}b") }),
        ("environment name", { $0["environment"] = "../prod" }),
        ("last run id", { $0["lastRun"] = "../../spec/pipeline" }),
        ("stage run id", { json in
            var stages = json["stages"] as! [String: Any]; var s = stages["s"] as! [String: Any]
            s["run"] = "a/b"; stages["s"] = s; json["stages"] = stages
        }),
        ("stage name", { json in
            var stages = json["stages"] as! [String: Any]; stages["../s"] = stages["s"]; json["stages"] = stages
        }),
        ("last commit", { $0["lastCommit"] = "HEAD~1" }),
        ("fingerprint", { json in
            var stages = json["stages"] as! [String: Any]; var s = stages["s"] as! [String: Any]
            s["fingerprint"] = "../x"; stages["s"] = s; json["stages"] = stages
        }),
        ("input key climbing out", { json in
            var stages = json["stages"] as! [String: Any]; var s = stages["s"] as! [String: Any]
            s["inputs"] = ["../secrets.txt": "git:" + String(repeating: "1", count: 40)]; stages["s"] = s; json["stages"] = stages
        }),
        ("input id", { json in
            var stages = json["stages"] as! [String: Any]; var s = stages["s"] as! [String: Any]
            s["inputs"] = ["spec/a.txt": "git:../../x"]; stages["s"] = s; json["stages"] = stages
        }),
    ]

    static func validState() -> RecordedState {
        let d = Digest(hex: String(repeating: "a", count: 64))!
        let record = StageRecord(status: .succeeded, fingerprint: d, command: "make", env: ["MODE": "fast"], params: [:],
                                 inputs: ["spec/a.txt": "git:" + String(repeating: "1", count: 40), "/data/big.csv": "sha256:" + d.hex,
                                          "build/out/x.txt": "sha256:\(d.hex):x.txt"],
                                 outputs: ["build/a": d, "build/deep/b.bin": d], metrics: [:], run: "20261125-091502-3fa9c1")
        return RecordedState(environment: "dev", stages: ["s": record], lastRun: "20261125-091502-3fa9c1",
                             lastCommit: ObjectID(hex: String(repeating: "2", count: 40))!)
    }

    @Test(arguments: badStates.indices)
    func aStateFileBreakingARuleIsRefusedWhenDecoded(_ i: Int) throws {
        var json = try #require(try JSONSerialization.jsonObject(with: RecordJSON.encode(Self.validState())) as? [String: Any])
        Self.badStates[i].edit(&json)
        let data = try JSONSerialization.data(withJSONObject: json)
        #expect(throws: PlumbError.self, "\(Self.badStates[i].what)") { try RecordedState.decode(data, path: "history/dev/state.json") }
        do { _ = try RecordedState.decode(data, path: "history/dev/state.json") } catch let e as PlumbError {
            #expect(e.file == "history/dev/state.json")
            #expect(e.hint != nil)
            #expect(!e.message.contains("\u{0}"), "untrusted text is escaped in messages")
        }
    }

    @Test func validRecordsStillRoundTrip() throws {
        let state = Self.validState()
        #expect(try RecordedState.decode(RecordJSON.encode(state), path: "s") == state)
        let outcome = StageOutcome(action: .run, reasons: [], status: .succeeded, log: state.stages["s"]!.fingerprint,
                                   inputs: state.stages["s"]!.inputs, outputs: state.stages["s"]!.outputs)
        let run = RunRecord(run: "20261125-091502-3fa9c1", environment: "dev", commit: state.lastCommit!, branch: "main",
                            startedAt: Date(timeIntervalSince1970: 1_795_000_000), finishedAt: Date(timeIntervalSince1970: 1_795_000_010),
                            status: .succeeded, summary: "1 ran", dropped: ["old"], stages: ["s": outcome], metrics: [:],
                            pin: PinReference(source: "dev", commit: state.lastCommit!, run: "r1"))
        #expect(try RunRecord.decode(RecordJSON.encode(run), path: "r") == run)
        let pin = Promotion.pin(source: "dev", state: state, gates: [], promotedBy: "me", at: Date(timeIntervalSince1970: 1_795_000_000))
        #expect(try Pin.decode(RecordJSON.encode(pin), path: "p") == pin)
    }

    @Test func runRecordsPinsAndTheFingerprintIndexAreCheckedToo() throws {
        let d = String(repeating: "a", count: 64), c = String(repeating: "1", count: 40)
        let badRun = #"{"formatVersion":1,"run":"../../../../etc/x","environment":"dev","commit":"\#(c)","startedAt":"2026-01-01T00:00:00Z","finishedAt":"2026-01-01T00:00:00Z","status":"succeeded","summary":"","dropped":[],"stages":{},"metrics":{}}"#
        do { _ = try RunRecord.decode(Data(badRun.utf8), path: "history/dev/runs/x.json"); Issue.record("a run id with slashes was accepted") }
        catch let e as PlumbError { #expect(e.file == "history/dev/runs/x.json" && e.message.contains("run id")) }
        let badPin = #"{"formatVersion":1,"source":"dev","commit":"\#(c)","run":"r1","stages":{"train":{"fingerprint":"\#(d)","outputs":{"../../victim":"\#(d)"},"metrics":{}}},"gates":[],"promotedBy":"me","promotedAt":"2026-01-01T00:00:00Z"}"#
        do { _ = try Pin.decode(Data(badPin.utf8), path: "environments/prod.pin.json"); Issue.record("a pin output outside the repository was accepted") }
        catch let e as PlumbError { #expect(e.file == "environments/prod.pin.json" && e.message.contains("climbs out")) }

        // A fingerprint-index entry in the cache naming an output outside is no outcome at all.
        let h = try PipelineHarness(pipeline: "version: 1\nstages:\n  s:\n    cmd: mkdir -p build && echo x > build/a\n    outs: [build/a]\n")
        try h.reconcile()
        let project = try h.project()
        let fingerprint = try #require(try h.state()?.stages["s"]?.fingerprint)
        let index = FingerprintIndex(store: project.store)
        let good = try #require(index.outcome(for: fingerprint))
        try Data(#"{"outputs":{"../../outside":"\#(good.outputs["build/a"]!.hex)"},"metrics":{},"run":"r1"}"#.utf8)
            .write(to: URL(fileURLWithPath: project.cache.outcomePath(fingerprint)))
        #expect(index.outcome(for: fingerprint) == nil)
    }

    @Test func aManifestFromTheCacheCannotWriteOutsideItsFolder() throws {
        let h = try PipelineHarness(pipeline: "version: 1\nstages:\n  s:\n    cmd: mkdir -p build && echo x > build/a\n    outs: [build/a]\n")
        let project = try h.project()
        let evil = try project.cache.storeData(Data("evil\n".utf8))
        let outside = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        // Materialized at <outside>/in/out, an entry `../../escaped.txt` would land in <outside>/../.
        let escapeName = "escaped-\(UUID().uuidString).txt"
        for entries in [[("f", "../../\(escapeName)")], [("f", "/tmp/\(escapeName)")], [("f", "b"), ("f", "a")]] {
            var bytes = Array("plumb-manifest 1\n".utf8)
            for (kind, path) in entries { bytes += Array(kind.utf8) + Array(path.utf8) + [0] + Array(evil.hex.utf8) + [0] }
            let data = Data(bytes)
            let digest = SHA256Hasher.digest(data)
            let path = project.cache.manifestPath(digest)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: path))
            #expect(throws: (any Error).self, "\(entries)") { try DirectoryManifest(canonicalEncoding: data) }
            #expect(throws: (any Error).self) { try project.cache.materialize(digest, at: outside + "/in/out") }
        }
        let parent = (outside as NSString).deletingLastPathComponent
        #expect(!FileManager.default.fileExists(atPath: outside + "/" + escapeName))
        #expect(!FileManager.default.fileExists(atPath: parent + "/" + escapeName))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/" + escapeName))
    }

    @Test func aPullBringingACraftedStateIsRefusedWithoutTouchingFiles() throws {
        let origin = try ScratchRepository(bare: true)
        let upstream = try fourStageHarness()
        try upstream.repository.addRemote(name: "origin", url: origin.root)
        #expect(try RemoteSync(repository: upstream.repository).pushOnce(branch: "main") == .pushed)

        // The victim reconciles and shares its record; its cache now holds the outputs.
        let victim = try ScratchClone(of: origin.root)
        let reconciled = try runProcess(plumbExecutable(), ["reconcile", "--push"], in: victim.root)
        #expect(reconciled.status == 0, "\(reconciled.stderr)")
        let before = try victim.head
        let stateBefore = try victim.read("history/default/state.json")
        let outside = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let notes = outside + "/notes.txt"
        try Data("my notes\n".utf8).write(to: URL(fileURLWithPath: notes))
        let cache = snapshotFiles(victim.root + "/.plumb/cache/objects")

        // A hostile clone pushes a record aiming at the victim's files.
        let hostile = try ScratchClone(of: origin.root)
        let state = try RecordedState.decode(Data(try hostile.read("history/default/state.json").utf8), path: "s")
        let clean = try #require(state.stages["prepare"]?.outputs["build/clean.txt"])
        try craftState(at: hostile.root, commit: { try hostile.commit("tweak the record") }) { json in
            setOutput(&json, stage: "prepare", path: "build/clean.txt", digest: climbingDigest(to: notes, from: String(clean.hex.prefix(2))))
            setOutput(&json, stage: "lint", path: "build/lint.txt", newKey: "../victim/important")
        }
        #expect(try RemoteSync(repository: hostile.repository).pushOnce(branch: "main") == .pushed)

        let pulled = try runProcess(plumbExecutable(), ["reconcile", "--pull"], in: victim.root)
        #expect(pulled.status == 1, "\(pulled.stdout)")
        #expect(pulled.stderr.hasPrefix("history/default/state.json: error: "), "\(pulled.stderr)")
        #expect(pulled.stderr.contains("origin/main") && pulled.stderr.contains("hint:"), "\(pulled.stderr)")
        #expect(try victim.head == before, "the branch did not move")
        #expect(try victim.read("history/default/state.json") == stateBefore, "the working tree was not touched")
        // Everything still works from the last good record, and nothing outside was touched.
        for command in [["checkout"], ["gc"]] {
            let r = try runProcess(plumbExecutable(), command, in: victim.root)
            #expect(r.status == 0, "\(command): \(r.stderr)")
        }
        #expect(FileManager.default.contents(atPath: notes) == Data("my notes\n".utf8))
        #expect(snapshotFiles(victim.root + "/.plumb/cache/objects") == cache)
    }
}
