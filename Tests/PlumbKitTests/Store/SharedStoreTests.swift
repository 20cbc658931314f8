import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine

/// The shared artifact store end to end (issue 14's "Must show"): clones that share only a bare
/// git remote and a real nginx store, each with its own `.plumb/`, driving the built binary.
@Suite(.serialized) struct SharedStoreTests {
    static let pipeline = """
    version: 1
    stages:
      prepare:
        cmd: mkdir -p build && tr a-z A-Z < spec/data.txt > build/clean.txt && echo prepare >> "$SIDE"
        deps: [spec/data.txt]
        outs: [build/clean.txt]
      train:
        cmd: >-
          mkdir -p build/model && (cat build/clean.txt; date +%s%N) > build/model/weights.txt &&
          env | grep -c '^PLUMB_CACHE' > build/model/cache-variables.txt; echo train >> "$SIDE"
        deps: [build/clean.txt]
        outs: [build/model]
    """

    static func startStore() throws -> StoreServer {
        try #require(try StoreServer.start(), "nginx is not installed and could not be installed; scripts/setup.sh installs it")
    }

    @Test func aFreshCloneFindsEveryOutputInTheStoreAndRunsNothing() throws {
        let store = try Self.startStore()
        let seed = try PipelineHarness(pipeline: Self.pipeline, files: ["spec/data.txt": "hello\n"])
        let remote = try SharedRemote(seed)

        // Clone A builds and uploads before it records; its history commit reaches the remote.
        let a = try ScratchClone(of: remote.origin.root)
        let built = try measuredPlumb(["reconcile", "--push"], in: a.root, environment: store.environment())
        #expect(built.status == 0, "\(built.stderr)")
        let weights = try String(contentsOfFile: a.root + "/.plumb/work/default/build/model/weights.txt", encoding: .utf8)
        let state = try #require(try remote.state("default"))
        let recorded = Set(state.stages.values.flatMap(\.outputs.values))
        for digest in recorded {
            #expect(store.objects("cas").contains(digest.hex) || store.objects("ac").contains(digest.hex), "\(digest.short) is in the store")
        }
        for stage in state.stages.values { #expect(store.objects("ac").contains(stage.fingerprint.hex), "the run-cache entry of \(stage.fingerprint.short)") }
        // The store's credentials never reach a stage.
        #expect(try String(contentsOfFile: a.root + "/.plumb/work/default/build/model/cache-variables.txt", encoding: .utf8) == "0\n")

        // Clone B, fresh (no .plumb): planning finds everything in the store and nothing runs.
        let b = try ScratchClone(of: remote.origin.root)
        let plan = try measuredPlumb(["plan", "--json"], in: b.root, environment: store.environment())
        #expect(plan.status == 0, "\(plan.stderr)")
        let stages = try #require((try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["stages"] as? [[String: Any]])
        #expect(stages.map { $0["action"] as? String } == ["unchanged", "unchanged"], "\(plan.stdout)")
        let ran = try measuredPlumb(["reconcile"], in: b.root, environment: store.environment())
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stdout.contains("Nothing to do"), "\(ran.stdout)")
        #expect(try String(contentsOfFile: seed.sideFile, encoding: .utf8) == "prepare\ntrain\n", "only clone A ran the stages")
        let checkout = try measuredPlumb(["checkout"], in: b.root, environment: store.environment())
        #expect(checkout.status == 0, "\(checkout.stderr)")
        #expect(try String(contentsOfFile: b.root + "/build/model/weights.txt", encoding: .utf8) == weights, "A's bytes, fetched by digest")

        // Without the store, the same fresh clone would have to run everything.
        let c = try ScratchClone(of: remote.origin.root)
        let alone = try measuredPlumb(["plan"], in: c.root, environment: ["PLUMB_CACHE_URL": ""])
        #expect(alone.stdout.contains("2 to run"), "\(alone.stdout)")
    }

    /// dev is built on one runner; staging is promoted and deployed on another that shares only
    /// the git remote and the store, and deploys the very bytes dev built.
    @Test func promotionAcrossMachinesDeploysTheDigestsDevBuilt() throws {
        let store = try Self.startStore()
        let world = try PromotionWorld()
        let a = world.ci
        func plumb(_ clone: ScratchClone, _ arguments: String...) throws -> MeasuredRun {
            try measuredPlumb(arguments, in: clone.root, environment: store.environment())
        }

        // Runner A records dev without uploading (a laptop's --no-upload, or an old cache).
        let dev = try plumb(a, "reconcile", "--env", "dev", "--pull", "--push", "--no-upload")
        #expect(dev.status == 0, "\(dev.stderr)")
        #expect(store.objects().isEmpty)
        let model = try #require(try world.state("dev")?.stages["train"]?.outputs["build/model.txt"])

        // Runner B cannot promote what the store lacks, and says what is missing.
        let b = try ScratchClone(of: world.origin.root)
        let before = try world.originMain
        let refused = try plumb(b, "promote", "dev", "staging", "--pull", "--push")
        #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("lacks"), "\(refused.stderr)")
        #expect(refused.stderr.contains("train: build/model.txt \(model.short)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("plumb push --env dev"), "\(refused.stderr)")
        #expect(try world.originMain == before, "no pin was written")

        // A seeds the store from its cache.
        let pushed = try plumb(a, "push", "--env", "dev")
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(store.objects().contains(model.hex))
        let again = try plumb(a, "push", "--env", "dev", "--json")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect(report["uploaded"] as? Int == 0, "a second push sends nothing: \(again.stdout)")

        // B plans dev as done, checks out A's model, promotes and deploys it.
        let plan = try plumb(b, "plan", "--env", "dev")
        #expect(plan.stdout.contains("0 to run"), "\(plan.stdout)")
        let checkout = try plumb(b, "checkout", "--env", "dev")
        #expect(checkout.status == 0, "\(checkout.stderr)")
        #expect(try b.read("build/model.txt") == (try String(contentsOfFile: a.root + "/.plumb/work/dev/build/model.txt", encoding: .utf8)))
        let promote = try plumb(b, "promote", "dev", "staging", "--pull", "--push")
        #expect(promote.status == 0, "\(promote.stderr)")
        let staging = try plumb(b, "reconcile", "--env", "staging", "--pull", "--push")
        #expect(staging.status == 0, "\(staging.stderr)")
        let stagingState = try #require(try world.state("staging"))
        let lastRun = try #require(stagingState.lastRun)
        let record = try #require(try world.runRecord("staging", lastRun))
        #expect(record.stages.mapValues(\.status) == ["train": .pinned, "evaluate": .pinned, "deploy": .succeeded], "only deploy ran")
        #expect(sha256(try b.read("deployments/staging/model.txt")) == model.hex, "staging deploys the digest dev built")

        // Pulling brings everything the current states name; nothing is left to fetch.
        let pull = try plumb(b, "pull", "--json")
        #expect(pull.status == 0, "\(pull.stderr)")
        let pulled = try #require(try JSONSerialization.jsonObject(with: Data(pull.stdout.utf8)) as? [String: Any])
        #expect((pulled["missing"] as? [Any])?.isEmpty == true, "\(pull.stdout)")
    }
}

/// `plumb gc --remote`, on the nginx store and on a shared folder.
@Suite(.serialized) struct RemoteGCTests {
    @Test(arguments: ["http", "file"]) func removesWhatNoRecordNamesAndSparesWhatIsNew(kind: String) throws {
        let server = kind == "http" ? try SharedStoreTests.startStore() : nil
        let folder = try temporaryFolder()
        let environment = server?.environment() ?? ["PLUMB_CACHE_URL": "file://" + folder]
        let data = server.map { $0.folder + "/data" } ?? folder
        let seed = try PipelineHarness(pipeline: SharedStoreTests.pipeline, files: ["spec/data.txt": "hello\n"])
        #expect(try measuredPlumb(["reconcile"], in: seed.root, environment: environment).status == 0)
        try seed.scratch.write("spec/data.txt", "world\n")
        try seed.scratch.commit("new data")
        #expect(try measuredPlumb(["reconcile"], in: seed.root, environment: environment).status == 0)
        let recorded = try FileManager.default.contentsOfDirectory(atPath: data + "/cas").count

        // Blobs no record names: two written two days ago, one just now (a run not yet recorded).
        func blob(_ text: String, age: Double) throws -> String {
            let bytes = Data(text.utf8)
            let name = sha256Hex(bytes)
            let path = "\(data)/cas/\(name)"
            try bytes.write(to: URL(fileURLWithPath: path))
            let then = Date().addingTimeInterval(-age).timeIntervalSince1970
            var times = [timespec(tv_sec: Int(then), tv_nsec: 0), timespec(tv_sec: Int(then), tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
            return name
        }
        let old = [try blob("orphan one", age: 2 * 86_400), try blob("orphan two", age: 2 * 86_400)]
        let fresh = try blob("in flight", age: 60)
        try Data("not a digest".utf8).write(to: URL(fileURLWithPath: data + "/cas/README"))

        let dry = try measuredPlumb(["gc", "--remote", "--dry-run", "--json"], in: seed.root, environment: environment)
        #expect(dry.status == 0, "\(dry.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
        #expect(report["removed"] as? Int == 2 && report["spared"] as? Int == 1, "\(dry.stdout)")
        #expect(old.allSatisfy { FileManager.default.fileExists(atPath: "\(data)/cas/\($0)") }, "a dry run removes nothing")

        let gc = try measuredPlumb(["gc", "--remote"], in: seed.root, environment: environment)
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(gc.stdout.contains("Removed 2 objects"), "\(gc.stdout)")
        #expect(old.allSatisfy { !FileManager.default.fileExists(atPath: "\(data)/cas/\($0)") })
        #expect(FileManager.default.fileExists(atPath: "\(data)/cas/\(fresh)"), "newer than the grace period")
        #expect(FileManager.default.fileExists(atPath: "\(data)/cas/README"), "what is not a digest is not Plumb's to remove")
        #expect(try FileManager.default.contentsOfDirectory(atPath: data + "/cas").count == recorded + 2)

        // Both recorded runs' outputs stay: a fresh clone finds the current ones.
        let clone = try ScratchClone(of: seed.root)
        let plan = try measuredPlumb(["plan"], in: clone.root, environment: environment)
        #expect(plan.stdout.contains("0 to run"), "\(plan.stdout)")
        let zero = try measuredPlumb(["gc", "--remote", "--grace", "30s"], in: seed.root, environment: environment)
        #expect(zero.stdout.contains("Removed 1 object"), "\(zero.stdout)")
    }

    @Test func aStoreThatCannotListIsRefusedWithTheReason() throws {
        let store = try SharedStoreTests.startStore()
        let seed = try PipelineHarness(pipeline: SharedStoreTests.pipeline, files: ["spec/data.txt": "hello\n"])
        // A base where nginx has no index, as bazel-remote has none: a 404 for the listing.
        var environment = store.environment()
        environment["PLUMB_CACHE_URL"] = store.url + "/unlisted"
        let refused = try measuredPlumb(["gc", "--remote"], in: seed.root, environment: environment)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("cannot list its objects"), "\(refused.stderr)")
        #expect(refused.stderr.contains("hint:"), "\(refused.stderr)")

        let none = try measuredPlumb(["gc", "--remote"], in: seed.root, environment: ["PLUMB_CACHE_URL": ""])
        #expect(none.status == 64 && none.stderr.contains("no shared store is configured"), "\(none.stderr)")
        let usage = try measuredPlumb(["gc", "--grace", "1h"], in: seed.root)
        #expect(usage.status == 64, "\(usage.stderr)")
    }
}
