import Foundation
@testable import PlumbCore
@testable import PlumbEngine

/// A stage runner that runs nothing: each request gets the reply its script gives (an exit code,
/// files written into the working folder, log text), and every request is kept for the test to read.
/// For engine tests of what the executor asks and does with the answer — retries, timeouts,
/// blocking, the environment — where a real process would be slow or flaky; the real runner is
/// exercised by StageProcessTests and every end-to-end test.
final class ScriptedRunner: StageRunner {
    struct Reply: Sendable {
        var exitCode: Int32? = 0
        var signal: Int32? = nil
        var timedOut = false
        /// Written into the working folder before replying (outputs the stage is to leave).
        var files: [String: String] = [:]
        var log = ""
    }

    private let script: @Sendable (_ stage: String, _ attempt: Int) -> Reply
    private let requests = Locked<[ProcessRequest]>([])

    /// `script` gets the stage (its PLUMB_STAGE) and which attempt of it this is, from 1.
    init(_ script: @escaping @Sendable (_ stage: String, _ attempt: Int) -> Reply) { self.script = script }

    var received: [ProcessRequest] { requests.withLock { $0 } }
    func received(for stage: String) -> [ProcessRequest] { received.filter { $0.environment["PLUMB_STAGE"] == stage } }

    func run(_ request: ProcessRequest) throws -> ProcessOutcome {
        let stage = request.environment["PLUMB_STAGE"] ?? "?"
        let attempt = requests.withLock { list in
            list.append(request)
            return list.filter { $0.environment["PLUMB_STAGE"] == stage }.count
        }
        let reply = script(stage, attempt)
        let fm = FileManager.default
        for (path, content) in reply.files {
            let full = request.workingDirectory + "/" + path
            try fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: full))
        }
        try fm.createDirectory(atPath: (request.logFile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let redactor = Redactor(secrets: request.redactions)
        try Data(redactor.redact(reply.log).utf8).write(to: URL(fileURLWithPath: request.logFile))
        for line in reply.log.split(separator: "\n") { request.onLine?(redactor.redact(String(line))) }
        return ProcessOutcome(exitCode: reply.exitCode, signal: reply.signal, timedOut: reply.timedOut, duration: 0.01)
    }
}
