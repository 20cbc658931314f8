import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Four shell stages that sleep a little and write deterministic outputs (a file chain, a
/// parallel branch, a directory output and metrics), for tests that kill or race reconciles.
let sleepyPipeline = """
version: 1
stages:
  a:
    cmd: sleep 0.1 && mkdir -p build && (echo A; cat spec/data.txt) > build/a.txt && echo a >> $SIDE
    deps: [spec/data.txt]
    outs: [build/a.txt]
  b:
    cmd: sleep 0.15 && tr a-z A-Z < build/a.txt > build/b.txt && echo b >> $SIDE
    deps: [build/a.txt]
    outs: [build/b.txt]
  c:
    cmd: sleep 0.05 && mkdir -p build && wc -c < spec/data.txt > build/c.txt && echo c >> $SIDE
    deps: [spec/data.txt]
    params: [c]
    outs: [build/c.txt]
  d:
    cmd: >-
      sleep 0.2 && mkdir -p build/d && cat build/b.txt build/c.txt > build/d/all.txt &&
      cp build/c.txt build/d/c.txt && echo '{"size": 3, "nested": {"x": 1}}' > build/m.json && echo d >> $SIDE
    deps: [build/b.txt, build/c.txt]
    outs: [build/d]
    metrics: [build/m.json]
"""

func sleepyHarness(environments: [String] = []) throws -> PipelineHarness {
    var files = ["spec/data.txt": "hello\n"]
    for env in environments { files["environments/\(env).yaml"] = "env: {TARGET: \(env)}\n" }
    return try PipelineHarness(pipeline: sleepyPipeline, params: "c:\n  n: 1\n", files: files)
}

/// A started `plumb` process that a test can signal.
final class PlumbProcess {
    let process: Process
    let output: String

    init(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws {
        output = FileManager.default.temporaryDirectory.appendingPathComponent("plumb-out-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process = configuredProcess(plumbExecutable(), arguments, in: directory, environment: environment)
        let handle = FileHandle(forWritingAtPath: output)!
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try handle.close()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: output)
    }

    var pid: Int32 { process.processIdentifier }
    var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit (at most `timeout` seconds, then SIGKILL) and returns the status.
    @discardableResult
    func wait(timeout: Double = 30) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    } while Date() < deadline
    return try condition()
}

/// The invariants a crash must never break, checked on a repository's files directly.
enum RepositoryInvariants {
    /// Every loose and packed reference names a commit that can be read.
    static func refsPointToCommits(_ repository: Repository) throws -> [String] {
        let git = repository.gitDirectory.path
        var problems: [String] = []
        var refs: [(String, String)] = []
        if let walker = FileManager.default.enumerator(atPath: git + "/refs") {
            for case let path as String in walker {
                let full = git + "/refs/" + path
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue else { continue }
                // A lock file left by a writer killed mid-update is no ref; the next writer clears it.
                if path.hasSuffix(".lock") { continue }
                refs.append(("refs/" + path, try String(contentsOfFile: full, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            }
        }
        if let packed = try? String(contentsOfFile: git + "/packed-refs", encoding: .utf8) {
            for line in packed.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("^") {
                let parts = line.split(separator: " ")
                if parts.count == 2 { refs.append((String(parts[1]), String(parts[0]))) }
            }
        }
        for (name, target) in refs {
            if target.hasPrefix("ref: ") { continue }
            if (ObjectID(hex: target).flatMap { try? repository.commit($0) }) == nil { problems.append("\(name) → \(target) is not a readable commit") }
        }
        let head = try repository.head()
        if head.commit == nil { problems.append("HEAD resolves to no commit") }
        return problems
    }

    /// Every file under history/ of the branch tip decodes.
    static func historyParses(_ repository: Repository, at commit: ObjectID) throws -> [String] {
        var problems: [String] = []
        for entry in try repository.blobs(under: "history", in: commit) {
            let data = try repository.blob(entry.id)
            do {
                if entry.path.hasSuffix("/state.json") { _ = try RecordedState.decode(data, path: entry.path) }
                else if entry.path.contains("/runs/") { _ = try RunRecord.decode(data, path: entry.path) }
                else { problems.append("unexpected file \(entry.path)") }
            } catch { problems.append("\(entry.path): \(error)") }
        }
        return problems
    }

    /// Every object and manifest in `.plumb/cache` hashes to its name.
    static func cacheObjectsMatch(_ root: String) throws -> (checked: Int, bad: [String]) {
        var bad: [String] = []
        var checked = 0
        for folder in ["objects", "manifests"] {
            let base = root + "/.plumb/cache/" + folder
            guard let walker = FileManager.default.enumerator(atPath: base) else { continue }
            for case let path as String in walker {
                let full = base + "/" + path
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue else { continue }
                let name = path.replacingOccurrences(of: "/", with: "")
                checked += 1
                if try SHA256Hasher.digest(fileAt: full).hex != name { bad.append(folder + "/" + path) }
            }
        }
        return (checked, bad)
    }
}

/// Fingerprints and outputs per stage: what "the same recorded result" means.
func recordedResult(_ state: RecordedState?) -> [String: String] {
    guard let state else { return [:] }
    return state.stages.mapValues { s in
        "\(s.status) \(s.fingerprint.hex) " + s.outputs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.hex)" }.joined(separator: ",")
    }
}

/// Processes of a process group that are not zombies, from /proc (Linux).
func liveProcesses(inGroup group: pid_t) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { pid_t($0) }.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        // After "pid (comm)": state, ppid, pgrp.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 2 && fields[0] != "Z" && pid_t(fields[2]) == group
    }
}
