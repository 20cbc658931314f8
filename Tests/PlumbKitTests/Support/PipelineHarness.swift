import Foundation
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// A scratch Plumb repository with shell stages that append their name to a side-effect file
/// outside the repository, so a test can see exactly what ran and in what order.
final class PipelineHarness {
    let scratch: ScratchRepository
    let sideDirectory: String
    var sideFile: String { sideDirectory + "/ran" }

    init(pipeline: String, params: String = "{}\n", files: [String: String] = [:]) throws {
        scratch = try ScratchRepository()
        sideDirectory = try temporaryFolder()
        try scratch.write(".gitignore", ".plumb/\n")
        try scratch.write("spec/pipeline.yaml", pipeline.replacingOccurrences(of: "$SIDE", with: sideFile))
        try scratch.write("spec/params.yaml", params)
        for (path, content) in files { try scratch.write(path, content) }
        try scratch.commit("initial spec")
    }

    deinit { try? FileManager.default.removeItem(atPath: sideDirectory) }

    var root: String { scratch.root }
    var repository: Repository { scratch.repository }

    func project() throws -> Project { try Project(path: root) }

    /// Reconciles through the library, as `plumb reconcile` does, quietly.
    @discardableResult
    func reconcile(environment: String? = nil, jobs: Int = 2, forced: Set<String> = [],
                   runner: StageRunner = RoutingRunner()) throws -> Reconciler.Outcome {
        try Reconciler(project: try project(), runner: runner)
            .reconcile(ref: nil, environment: environment, forced: forced, jobs: jobs)
    }

    func plan(environment: String? = nil) throws -> Plan {
        try Reconciler(project: try project()).plan(ref: nil, environment: environment).1
    }

    /// Stage names in the order they ran since the last call (and clears the record).
    func ran() throws -> [String] {
        guard FileManager.default.fileExists(atPath: sideFile) else { return [] }
        let lines = try String(contentsOfFile: sideFile, encoding: .utf8).split(separator: "\n").map(String.init)
        try FileManager.default.removeItem(atPath: sideFile)
        return lines
    }

    func edit(_ path: String, _ content: String, commit message: String = "edit") throws {
        try scratch.write(path, content)
        try scratch.commit(message)
    }

    func state(_ env: String = EnvironmentSpec.implicitName) throws -> RecordedState? {
        guard let data = try repository.file(at: RecordedState.path(for: env), in: try scratch.head) else { return nil }
        return try RecordedState.decode(data, path: "state.json")
    }

    func commitCount() throws -> Int { try repository.log(to: try scratch.head).count }
}

/// The built `plumb` executable, next to the test bundle.
func plumbExecutable() -> String {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = url.appendingPathComponent("plumb").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        url.deleteLastPathComponent()
    }
    let debug = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug/plumb").path
    return debug
}

/// Runs a command to completion and returns its exit status and output.
@discardableResult
func runProcess(_ executable: String, _ arguments: [String], in directory: String,
                environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = configuredProcess(executable, arguments, in: directory, environment: environment)
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting so a large output cannot fill the pipe and stall the child.
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// A process ready to run `executable` in `directory`, with this process's environment plus
/// `environment`, and colour off so output can be compared as text.
func configuredProcess(_ executable: String, _ arguments: [String], in directory: String,
                       environment: [String: String] = [:]) -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (k, v) in environment { env[k] = v }
    process.environment = env
    return process
}
