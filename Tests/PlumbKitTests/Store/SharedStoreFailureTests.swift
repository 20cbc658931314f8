import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine

/// What goes wrong with a shared store, against a real nginx: refused credentials, a corrupt
/// object, the server going down mid-reconcile, two clones uploading the same objects at once.
@Suite(.serialized) struct SharedStoreFailureTests {
    @Test func wrongCredentialsAreRefusedNamingTheVariablesAndNothingIsUploadedOrRecorded() throws {
        let store = try SharedStoreTests.startStore()
        let seed = try PipelineHarness(pipeline: SharedStoreTests.pipeline, files: ["spec/data.txt": "hello\n"])
        let head = try seed.repository.head().commit
        let secret = "not-the-password-7f3a9c"
        let refused = try measuredPlumb(["reconcile"], in: seed.root, environment: store.environment(password: secret))
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("PLUMB_CACHE_USER and PLUMB_CACHE_PASSWORD"), "\(refused.stderr)")
        #expect(refused.stderr.contains("HTTP 401"), "\(refused.stderr)")
        #expect(!(refused.stdout + refused.stderr).contains(secret), "the password is never printed")
        #expect(store.objects().isEmpty && store.objects("ac").isEmpty, "nothing uploaded")
        #expect(try seed.repository.head().commit == head, "nothing recorded that the store lacks")
        #expect(try seed.ran().isEmpty, "refused before any stage ran")
        let plan = try measuredPlumb(["plan"], in: seed.root, environment: store.environment(password: secret))
        #expect(plan.stderr.contains("warning:") && plan.stderr.contains("HTTP 401"), "\(plan.stderr)")

        // A token where the store wants Basic: refused too, naming the token's variable.
        let bearer = try measuredPlumb(["reconcile"], in: seed.root, environment: ["PLUMB_CACHE_URL": store.url, "PLUMB_CACHE_TOKEN": secret])
        #expect(bearer.status == 1)
        #expect(bearer.stderr.contains("PLUMB_CACHE_TOKEN was refused"), "\(bearer.stderr)")
        #expect(!(bearer.stdout + bearer.stderr).contains(secret))
        // Both kinds at once is a usage error, before anything runs.
        var both = store.environment()
        both["PLUMB_CACHE_TOKEN"] = secret
        let ambiguous = try measuredPlumb(["reconcile"], in: seed.root, environment: both)
        #expect(ambiguous.status == 64, "\(ambiguous.stderr)")
        #expect(try seed.ran().isEmpty)
    }

    @Test func httpsVerifiesTheCertificateAgainstTheSystemOrPLUMB_CACHE_CA_FILE() throws {
        let store = try #require(try StoreServer.start(tls: true))
        #expect(store.url.hasPrefix("https://"))
        let seed = try PipelineHarness(pipeline: SharedStoreTests.pipeline, files: ["spec/data.txt": "hello\n"])
        let head = try seed.repository.head().commit
        // Its certificate is its own: not trusted by the system, so nothing is sent and nothing runs.
        let untrusted = try measuredPlumb(["reconcile"], in: seed.root, environment: store.environment())
        #expect(untrusted.status == 1)
        #expect(untrusted.stderr.contains("certificate"), "\(untrusted.stderr)")
        #expect(untrusted.stderr.contains("PLUMB_CACHE_CA_FILE"), "the hint names the variable: \(untrusted.stderr)")
        #expect(try seed.ran().isEmpty && (try seed.repository.head().commit) == head)
        #expect(store.objects().isEmpty)

        var trusted = store.environment()
        trusted["PLUMB_CACHE_CA_FILE"] = store.certificate
        let run = try measuredPlumb(["reconcile"], in: seed.root, environment: trusted)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(store.objects().count >= 2)
    }

    @Test func anObjectCorruptedOnTheServerIsDetectedAndNeverUsed() throws {
        let store = try SharedStoreTests.startStore()
        let seed = try PipelineHarness(pipeline: SharedStoreTests.pipeline, files: ["spec/data.txt": "hello\n"])
        let remote = try SharedRemote(seed)
        let a = try ScratchClone(of: remote.origin.root)
        #expect(try measuredPlumb(["reconcile", "--push"], in: a.root, environment: store.environment()).status == 0)
        let clean = try #require(try remote.state("default")?.stages["prepare"]?.outputs["build/clean.txt"])
        try Data("HELLO, tampered\n".utf8).write(to: URL(fileURLWithPath: store.path("cas", clean.hex)))

        let b = try ScratchClone(of: remote.origin.root)
        let checkout = try measuredPlumb(["checkout"], in: b.root, environment: store.environment())
        #expect(checkout.status == 1)
        #expect(checkout.stderr.contains("object \(clean.hex) from the shared store \(store.url) is corrupt"), "\(checkout.stderr)")
        #expect(!FileManager.default.fileExists(atPath: b.root + "/build/clean.txt"), "the corrupt bytes were not used")
        let cached = try FileManager.default.subpathsOfDirectory(atPath: b.root + "/.plumb/cache").filter { $0.hasSuffix(String(clean.hex.dropFirst(2))) }
        #expect(cached.isEmpty, "nor kept in the local cache: \(cached)")
    }

    @Test func theServerStoppedMidReconcileRecordsNothingAndTheNextReconcileConverges() throws {
        let store = try SharedStoreTests.startStore()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/store-server.sh").path
        // The last stage stops the server, so the upload that comes before the record fails.
        let pipeline = SharedStoreTests.pipeline + """

          outage:
            cmd: mkdir -p build && bash '\(script)' stop '\(store.folder)' && echo down > build/outage.txt && echo outage >> "$SIDE"
            deps: [build/model]
            outs: [build/outage.txt]
        """
        let seed = try PipelineHarness(pipeline: pipeline, files: ["spec/data.txt": "hello\n"])
        let head = try seed.repository.head().commit
        let failed = try measuredPlumb(["reconcile"], in: seed.root, environment: store.environment())
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("cannot reach the shared store"), "\(failed.stderr)")
        #expect(failed.stderr.contains("nothing was recorded"), "\(failed.stderr)")
        #expect(try seed.repository.head().commit == head, "no history commit names what the store lacks")
        #expect(try seed.ran() == ["prepare", "train", "outage"])

        // Back up: the next reconcile restores the results from the local cache (nothing runs
        // again), uploads them, and only then records.
        try store.start()
        let converged = try measuredPlumb(["reconcile"], in: seed.root, environment: store.environment())
        #expect(converged.status == 0, "\(converged.stderr)")
        #expect(try seed.ran().isEmpty, "nothing ran twice")
        #expect(try seed.repository.head().commit != head)
        let tip = try #require(try seed.repository.head().commit)
        let stateFile = try #require(try seed.repository.file(at: RecordedState.path(for: "default"), in: tip))
        let state = try RecordedState.decode(stateFile, path: "state.json")
        for digest in state.stages.values.flatMap(\.outputs.values) {
            #expect(store.objects().contains(digest.hex) || store.objects("ac").contains(digest.hex), "\(digest.short) is in the store")
        }
    }

    @Test func twoClonesUploadingTheSameObjectsAtOnceBothSucceed() throws {
        let store = try SharedStoreTests.startStore()
        // Deterministic outputs of a few MB, so that both clones upload the same objects together.
        let pipeline = """
        version: 1
        stages:
          make:
            cmd: mkdir -p build/parts && for i in 1 2 3 4 5 6 7 8; do yes "$i" | head -c 3000000 > build/parts/$i.bin; done
            deps: [spec/data.txt]
            outs: [build/parts]
        """
        let seed = try PipelineHarness(pipeline: pipeline, files: ["spec/data.txt": "x\n"])
        let remote = try SharedRemote(seed)
        let a = try ScratchClone(of: remote.origin.root), b = try ScratchClone(of: remote.origin.root)
        let results = Locked<[Int32]>([])
        let roots = [a.root, b.root], environment = store.environment()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let run = try? measuredPlumb(["reconcile"], in: roots[i], environment: environment)
            results.withLock { $0.append(run?.status ?? -1) }
        }
        #expect(results.withLock { $0 } == [0, 0])
        let objects = store.objects()
        #expect(objects.count >= 8)
        for name in objects {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: store.path("cas", name)))
            #expect(sha256Hex(bytes) == name, "cas/\(name) holds the bytes it is named after")
        }
    }

    /// A 256 MiB model goes up and comes down through a file descriptor, never whole in memory (alone,
    /// each side peaks near 40 MiB; under the full suite's load up to 118 MiB was seen).
    @Test func largeObjectsStreamWithoutFillingMemory() throws {
        let store = try SharedStoreTests.startStore()
        let pipeline = """
        version: 1
        stages:
          train:
            cmd: mkdir -p build && head -c 268435456 /dev/urandom > build/model.bin
            deps: [spec/data.txt]
            outs: [build/model.bin]
        """
        let seed = try PipelineHarness(pipeline: pipeline, files: ["spec/data.txt": "x\n"])
        let remote = try SharedRemote(seed)
        let a = try ScratchClone(of: remote.origin.root)
        let up = try measuredPlumb(["reconcile", "--push"], in: a.root, environment: store.environment())
        #expect(up.status == 0, "\(up.stderr)")
        let b = try ScratchClone(of: remote.origin.root)
        let down = try measuredPlumb(["checkout"], in: b.root, environment: store.environment())
        #expect(down.status == 0, "\(down.stderr)")
        let size = try FileManager.default.attributesOfItem(atPath: b.root + "/build/model.bin")[.size] as? Int
        #expect(size == 268_435_456)
        // The stage's own `head` is a descendant too; all of them stay far below the file's size.
        #expect(up.maximumRSSKiB < 160 * 1024 && up.maximumRSSKiB > 0, "upload peak \(up.maximumRSSKiB) KiB")
        #expect(down.maximumRSSKiB < 160 * 1024, "download peak \(down.maximumRSSKiB) KiB")
    }

    @Test func aSharedFolderTakesManyWritersOfOneBlob() throws {
        let root = try temporaryFolder()
        let folder = try FolderRemoteStore(root: root)
        let source = try temporaryFolder() + "/blob"
        let bytes = Data((0..<2_000_000).map { UInt8($0 % 251) })
        try bytes.write(to: URL(fileURLWithPath: source))
        let digest = Digest(hex: sha256Hex(bytes))!
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            #expect(throws: Never.self) { try folder.upload(.content(digest), from: source) }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/cas/" + digest.hex)) == bytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty, "no temporary file is left")
        #expect(try folder.exists(.content(digest)))
        #expect(try !folder.exists(.action(digest)))
    }
}

func sha256Hex(_ data: Data) -> String {
    let hasher = SHA256Hasher()
    hasher.update(data)
    return hasher.finish().hex
}
