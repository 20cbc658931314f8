import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbEngine

/// A real nginx store (scripts/store-server.sh) on 127.0.0.1, stopped by its PID when the test ends.
final class StoreServer {
    let folder: String
    let url: String
    let password: String

    /// Nil when nginx is not installed and cannot be (the script exits 3).
    static func start() throws -> StoreServer? {
        let folder = try temporaryFolder()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/store-server.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, "start", folder]
        // To a file, not a pipe: nginx inherits the script's stdout, and a pipe would never reach end of file.
        let printed = folder + ".url"
        _ = FileManager.default.createFile(atPath: printed, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: printed))
        defer { try? out.close(); try? FileManager.default.removeItem(atPath: printed) }
        process.standardOutput = out
        try process.run()
        process.waitUntilExit()
        let url = try String(contentsOfFile: printed, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        if process.terminationStatus == 3 { return nil }
        #expect(process.terminationStatus == 0, "store-server.sh start failed")
        let password = try String(contentsOfFile: folder + "/password", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return StoreServer(folder: folder, url: url, password: password, script: script)
    }

    private let script: String
    private init(folder: String, url: String, password: String, script: String) {
        self.folder = folder; self.url = url; self.password = password; self.script = script
    }

    deinit {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, "stop", folder]
        try? process.run()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: folder)
    }

    func environment(password: String? = nil) -> [String: String] {
        ["PLUMB_CACHE_URL": url, "PLUMB_CACHE_USER": "plumb", "PLUMB_CACHE_PASSWORD": password ?? self.password]
    }
}

/// Two clones that share only a bare git remote and the nginx store.
@Suite struct SharedStoreTests {
    static let pipeline = """
    version: 1
    stages:
      prepare:
        cmd: mkdir -p build && tr a-z A-Z < spec/data.txt > build/clean.txt && echo prepare >> "$SIDE"
        deps: [spec/data.txt]
        outs: [build/clean.txt]
      train:
        cmd: mkdir -p build/model && (cat build/clean.txt; date +%s%N) > build/model/weights.txt && echo train >> "$SIDE"
        deps: [build/clean.txt]
        outs: [build/model]
    """

    @Test func aFreshCloneFindsEveryOutputInTheStoreAndRunsNothing() throws {
        guard let store = try StoreServer.start() else {
            Issue.record("nginx is not installed and could not be installed; scripts/setup.sh installs it")
            return
        }
        let seed = try PipelineHarness(pipeline: Self.pipeline, files: ["spec/data.txt": "hello\n"])
        let remote = try SharedRemote(seed)

        // Clone A builds and uploads; its history commit reaches the remote.
        let a = try ScratchClone(of: remote.origin.root)
        let built = try measuredPlumb(["reconcile", "--push"], in: a.root, environment: store.environment())
        #expect(built.status == 0, "\(built.stderr)")
        let weights = try String(contentsOfFile: a.root + "/.plumb/work/default/build/model/weights.txt", encoding: .utf8)
        let objects = try FileManager.default.subpathsOfDirectory(atPath: store.folder + "/data/cas")
        #expect(objects.count >= 3, "outputs and logs are in the store: \(objects)")

        // Clone B, fresh (no .plumb): planning finds everything in the store and nothing runs.
        let b = try ScratchClone(of: remote.origin.root)
        let plan = try measuredPlumb(["plan", "--json"], in: b.root, environment: store.environment())
        #expect(plan.status == 0, "\(plan.stderr)")
        let stages = try #require((try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["stages"] as? [[String: Any]])
        #expect(stages.map { $0["action"] as? String } == ["unchanged", "unchanged"], "\(plan.stdout)")
        let ran = try measuredPlumb(["reconcile"], in: b.root, environment: store.environment())
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(try String(contentsOfFile: seed.sideFile, encoding: .utf8) == "prepare\ntrain\n", "only clone A ran the stages")
        let checkout = try measuredPlumb(["checkout"], in: b.root, environment: store.environment())
        #expect(checkout.status == 0, "\(checkout.stderr)")
        #expect(try String(contentsOfFile: b.root + "/build/model/weights.txt", encoding: .utf8) == weights, "A's bytes, fetched by digest")

        // Wrong credentials: refused, naming the variables, and nothing recorded.
        let c = try ScratchClone(of: remote.origin.root)
        try c.write("spec/data.txt", "changed\n")
        let head = try c.commit("new data")
        let refused = try measuredPlumb(["reconcile"], in: c.root, environment: store.environment(password: "wrong"))
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("PLUMB_CACHE_USER and PLUMB_CACHE_PASSWORD"), "\(refused.stderr)")
        #expect(try c.repository.head().commit == head, "nothing recorded that the store lacks")
        _ = a
    }
}
