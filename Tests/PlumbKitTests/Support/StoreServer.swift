import Foundation
import Testing

/// A real nginx store (scripts/store-server.sh) on 127.0.0.1 with WebDAV PUT and Basic auth,
/// stopped by its PID when the test is done with it.
final class StoreServer {
    let folder: String
    let password: String
    /// Changes on `start()` after `stop()`: the script picks a free port each time.
    private(set) var url: String
    private let script: String

    /// Nil when nginx is not installed and cannot be (the script exits 3).
    /// `tls`: https with a certificate of its own (`certificate`), which clients must be told to trust.
    static func start(tls: Bool = false) throws -> StoreServer? {
        let folder = try temporaryFolder()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/store-server.sh").path
        guard let url = try run(script, "start", folder, tls: tls) else { return nil }
        let password = try String(contentsOfFile: folder + "/password", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return StoreServer(folder: folder, url: url, password: password, script: script)
    }

    private init(folder: String, url: String, password: String, script: String) {
        self.folder = folder; self.url = url; self.password = password; self.script = script
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Runs the script; its printed URL, or nil when it exits 3 (no nginx).
    private static func run(_ script: String, _ arguments: String..., tls: Bool = false) throws -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        if tls { process.environment = ProcessInfo.processInfo.environment.merging(["STORE_TLS": "1"]) { $1 } }
        // To a file, not a pipe: a pipe would be held open by whatever the script leaves running.
        let printed = try temporaryFolder() + "/out"
        _ = FileManager.default.createFile(atPath: printed, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: printed))
        defer { try? out.close(); try? FileManager.default.removeItem(atPath: (printed as NSString).deletingLastPathComponent) }
        process.standardOutput = out
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus == 3 { return nil }
        #expect(process.terminationStatus == 0, "store-server.sh \(arguments.joined(separator: " ")) failed")
        return try String(contentsOfFile: printed, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() { _ = try? Self.run(script, "stop", folder) }

    /// Starts it again on the same folder (same objects, a new port).
    func start() throws { url = try #require(try Self.run(script, "start", folder)) }

    /// The variables a clone needs to use the store.
    func environment(password: String? = nil) -> [String: String] {
        ["PLUMB_CACHE_URL": url, "PLUMB_CACHE_USER": "plumb", "PLUMB_CACHE_PASSWORD": password ?? self.password]
    }

    /// Names of the blobs under `cas/` or `ac/`.
    func objects(_ kind: String = "cas") -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: folder + "/data/" + kind)) ?? [])
    }

    /// The server's own certificate (with `tls`).
    var certificate: String { folder + "/cert.pem" }

    /// The file holding a blob on the server.
    func path(_ kind: String, _ hex: String) -> String { "\(folder)/data/\(kind)/\(hex)" }
}
