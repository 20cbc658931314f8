import Foundation
import Testing
@testable import PlumbEngine

/// A real single-node Slurm cluster (scripts/slurm-cluster.sh) on loopback, started once for the
/// test process and stopped by its PIDs when the process exits.
final class SlurmCluster: Sendable {
    let folder: String
    /// `SLURM_CONF`, which the client commands need.
    let configuration: String

    /// The cluster, or nil when Slurm is not installed and cannot be (the script exits 3).
    static let shared: SlurmCluster? = {
        let folder = (try? temporaryFolder()) ?? NSTemporaryDirectory() + "plumb-slurm"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/slurm-cluster.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, "start", folder]
        // To a file, not a pipe: the daemons it starts must not hold the test's pipe open.
        let printed = folder + ".out"
        _ = FileManager.default.createFile(atPath: printed, contents: nil)
        guard let out = try? FileHandle(forWritingTo: URL(fileURLWithPath: printed)) else { return nil }
        process.standardOutput = out
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        try? out.close()
        guard process.terminationStatus == 0,
              let text = try? String(contentsOfFile: printed, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("SLURM_CONF=") }) else { return nil }
        let cluster = SlurmCluster(folder: folder, configuration: String(line.dropFirst("SLURM_CONF=".count)))
        stopAtExit = (script, folder)
        atexit {
            guard let (script, folder) = SlurmCluster.stopAtExit else { return }
            let stop = Process()
            stop.executableURL = URL(fileURLWithPath: "/bin/bash")
            stop.arguments = [script, "stop", folder]
            try? stop.run()
            stop.waitUntilExit()
        }
        return cluster
    }()

    nonisolated(unsafe) private static var stopAtExit: (String, String)?

    private init(folder: String, configuration: String) {
        self.folder = folder
        self.configuration = configuration
    }

    /// Plumb's environment for this cluster: the client's configuration and a quick poll.
    var environment: [String: String] {
        ProcessInfo.processInfo.environment.merging(["SLURM_CONF": configuration, "PLUMB_SLURM_POLL": "0.2"]) { $1 }
    }

    /// A runner that sends `executor: slurm` stages to this cluster.
    var runner: RoutingRunner {
        let environment = environment
        return RoutingRunner(slurm: { try SlurmRunner(environment: environment) })
    }

    /// Jobs still pending or running, as `squeue` lists them.
    func liveJobs() throws -> [String] {
        let run = try SlurmTools.run("/usr/bin/squeue", ["-h", "-o", "%i %T %j"], environment: environment)
        return run.stdout.split(separator: "\n").map(String.init)
    }
}
