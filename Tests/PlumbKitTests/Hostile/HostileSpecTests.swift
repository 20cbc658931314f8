import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Hostile specs, command lines and records (issue 10, item 10): overflowing durations, NUL bytes,
/// the YAML merge key, deps that are not files, alias bombs. Each is an error with a location or a
/// clear message, never a trap, a hang or a silently different meaning.
@Suite struct HostileSpecTests {
    /// Loads `files` laid over a valid one-stage spec.
    static func load(_ files: [String: String], onDisk: Set<String> = []) -> SpecLoadResult {
        var all = [SpecPaths.pipeline: "version: 1\nstages:\n  a:\n    cmd: echo a > out\n    outs: [out]\n",
                   SpecPaths.params: "p: 1\n"]
        for (path, content) in files { all[path] = content }
        return SpecLoader.load(from: MemorySpecSource(all, onDisk: onDisk))
    }

    static func errors(_ result: SpecLoadResult) -> [String] {
        result.diagnostics.filter { $0.severity == .error }.map(\.description)
    }

    // MARK: durations

    @Test func overflowingWatchIntervalIsAUsageErrorNotATrap() throws {
        let h = try PipelineHarness(pipeline: "version: 1\nstages:\n  a:\n    cmd: echo a > out\n    outs: [out]\n")
        for arguments in [["--watch", "--interval", "99999999999999999999d"], ["--wait-for-lock=99999999999999999999d"],
                          ["--watch", "--interval", String(repeating: "9", count: 400) + "s"]] {
            let r = try runProcess(plumbExecutable(), ["reconcile"] + arguments, in: h.root)
            #expect(r.status == 64, "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("expects a duration of at most 365d"), "\(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"))
        }
    }

    @Test func hugeTimeoutInSpecIsAValidationErrorWithItsLocation() {
        for timeout in ["99999999999999999999d", "1e300", "400d", "9999999h"] {
            let result = Self.load([SpecPaths.pipeline: "version: 1\nstages:\n  a:\n    cmd: echo a > out\n    outs: [out]\n    timeout: \(timeout)\n"])
            #expect(result.spec == nil, "timeout \(timeout) was accepted")
            #expect(Self.errors(result) == ["spec/pipeline.yaml:6:14: error: 'timeout' in stage 'a' is longer than 365d, the longest duration Plumb accepts\n  hint: a stage that may run longer needs no timeout"],
                    "\(timeout): \(Self.errors(result))")
        }
        // The longest accepted duration still loads.
        #expect(Self.load([SpecPaths.pipeline: "version: 1\nstages:\n  a:\n    cmd: x\n    outs: [out]\n    timeout: 365d\n"]).spec?.pipeline.stages.first?.timeout == DurationParser.maximum)
    }

    @Test func hugeDurationInARunRecordIsPrintedNotTrappedOn() throws {
        let h = try PipelineHarness(pipeline: "version: 1\nstages:\n  a:\n    cmd: echo a > out\n    outs: [out]\n")
        let outcome = try h.reconcile()
        let run = try #require(outcome.record?.run)
        let path = RunRecord.path(for: EnvironmentSpec.implicitName, run: run)
        // A crafted record: a stage that "took" 1e300 seconds, and a run that ended before it began.
        var json = try #require(JSONSerialization.jsonObject(with: Data(try h.scratch.read(path).utf8)) as? [String: Any])
        var stages = try #require(json["stages"] as? [String: Any])
        var a = try #require(stages["a"] as? [String: Any])
        a["duration"] = 1e300
        stages["a"] = a
        json["stages"] = stages
        json["finishedAt"] = "1970-01-01T00:00:00Z"
        try h.scratch.write(path, String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self))
        try h.scratch.commit("crafted run record")
        let show = try runProcess(plumbExecutable(), ["show", run], in: h.root)
        #expect(show.status == 0, "\(show.status): \(show.stderr)")
        #expect(show.stdout.contains("took -"), "\(show.stdout)")
        #expect(show.stdout.contains("1e+300s"), "\(show.stdout)")
    }

    @Test func durationsForPeopleAreTotal() {
        #expect(formatDuration(.nan) == "?")
        #expect(formatDuration(.infinity) == "forever")
        #expect(formatDuration(-90) == "-1m 30s")
        #expect(formatDuration(1e300) == "1e+300s")
        #expect(formatDuration(3 * 86400 + 7200) == "3d 2h")
        #expect(WatchLoop.delay(interval: 1e300, failures: 40, maxBackoff: .infinity, jitter: 5, random: .nan) == DurationParser.maximum)
    }

    // MARK: NUL

    @Test func nulInCommandsVariablesPathsAndKeysIsAValidationError() {
        let pipeline = """
        version: 1
        stages:
          a:
            cmd: "rm -rf build\\0/important"
            env: {"K\\0": "v", V: "x\\x00y"}
            deps: ["data\\u0000.csv"]
            outs: ["build/\\0x"]
            metrics: ["m\\0.json"]
            params: ["p\\0"]

        """
        let result = Self.load([SpecPaths.pipeline: pipeline,
                                SpecPaths.params: "\"p\\0\": 1\n",
                                "environments/dev.yaml": "from: \"st\\0\"\nruns: [\"a\\0\"]\n"])
        #expect(result.spec == nil)
        let nul = result.diagnostics.filter { $0.message.contains("NUL") }.compactMap(\.location).map { "\($0.file):\($0.line):\($0.column)" }
        #expect(nul == ["environments/dev.yaml:1:7", "environments/dev.yaml:2:8",
                        "spec/params.yaml:1:1",
                        "spec/pipeline.yaml:4:10", "spec/pipeline.yaml:5:11", "spec/pipeline.yaml:5:26",
                        "spec/pipeline.yaml:6:12", "spec/pipeline.yaml:7:12", "spec/pipeline.yaml:8:15", "spec/pipeline.yaml:9:14"],
                "\(result.diagnostics.map(\.description))")
    }

    // MARK: merge key

    @Test func yamlMergeKeyIsRefusedNotReadAsALiteralKey() {
        // In params.yaml a plain `<<` used to become a literal key named "<<", the defaults never merged.
        let params = Self.load([SpecPaths.params: "base: &base {lr: 0.1, depth: 4}\ntrain:\n  <<: *base\n  depth: 6\n"])
        #expect(params.spec == nil)
        #expect(Self.errors(params) == ["spec/params.yaml:3:3: error: the YAML merge key '<<' is not supported\n  hint: write the keys out, or alias a whole value (key: *anchor); quote it ('<<') for a key named <<"])
        let stage = Self.load([SpecPaths.pipeline: "version: 1\nx: &d {outs: [out]}\nstages:\n  a:\n    !!merge <<: *d\n    cmd: x\n"])
        #expect(stage.diagnostics.contains { $0.message.contains("merge key") && $0.location?.line == 5 }, "\(stage.diagnostics.map(\.description))")
        // Quoted, `<<` is an ordinary key.
        #expect(Self.load([SpecPaths.params: "\"<<\": 1\n"]).spec?.params.value(at: "<<") == .int(1))
    }

    // MARK: deps that are not files

    @Test func absoluteDepThatIsNotARegularFileOrFolderIsRefusedByName() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fifo = folder + "/pipe"
        #expect(mkfifo(fifo, 0o600) == 0)
        var deps = [(fifo, "is a FIFO (named pipe)"), ("/dev/null", "is a character device")]
        if FileManager.default.fileExists(atPath: "/proc/self/status") { deps.append(("/proc/self/status", "is a file of proc, a kernel pseudo-file system")) }
        for (dep, what) in deps {
            let h = try PipelineHarness(pipeline: "version: 1\nstages:\n  a:\n    cmd: echo a > out\n    deps: [\(dep)]\n    outs: [out]\n")
            #expect(throws: DiagnosticsError.self) { try h.plan() }
            do { _ = try h.plan() } catch let error as DiagnosticsError {
                #expect(error.description == "spec/pipeline.yaml:5:12: error: stage 'a' depends on '\(dep)', which \(what); a dep must be a regular file or a folder\n  hint: copy the data into a regular file and depend on that")
            }
        }
    }

    @Test func untrackedDepLinkedToAProcFileIsNeverRead() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/status", withDestinationPath: "/proc/self/status")
        let digester = ContentDigester(statCache: StatCache(file: URL(fileURLWithPath: folder + "/statcache")))
        #expect(throws: PlumbError.self) { try digester.digest(of: folder + "/status") }
        do { _ = try digester.digest(of: folder + "/status") } catch {
            #expect("\(error)".contains("\(folder)/status is a file of proc, a kernel pseudo-file system; a dep must be a regular file or a folder"), "\(error)")
        }
        // A FIFO is refused by the same check, before anything opens it.
        #expect(mkfifo(folder + "/pipe", 0o600) == 0)
        #expect(DiskEntryKind.of(folder + "/pipe") == .unsupported("a FIFO (named pipe)"))
    }

    // MARK: alias bombs and nesting

    @Test func aliasBombAndDeepNestingAreBoundedNotExpanded() {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in 1...9 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        let laughs = Self.load([SpecPaths.params: lines.joined(separator: "\n") + "\n"])
        #expect(laughs.diagnostics.contains { $0.message == "aliases expand to too many nodes" })
        let deep = Self.load([SpecPaths.params: "a: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n"])
        #expect(deep.diagnostics.contains { $0.message == "YAML nested too deeply" })
    }
}
