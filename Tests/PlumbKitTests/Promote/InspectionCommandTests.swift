import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// status, history, show, logs, metrics and report on a world where dev ran twice and staging runs dev's first model.
@Suite(.serialized) struct InspectionCommandTests {
    @Test func statusMetricsHistoryShowLogsAndReport() throws {
        let world = try PromotionWorld()
        #expect(try world.mainPipeline() == (0, 0, 0))
        let pin = try #require(try world.pin("staging"))
        let model = try #require(pin.stages["train"]?.outputs["build/model.txt"])
        try world.developerCommits("spec/params.yaml", promotionParams(version: 2, accuracy: "0.8"))
        #expect(try world.plumb("reconcile", "--env", "dev", "--pull", "--push").status == 0)
        let devRun = try #require(try world.state("dev")?.lastRun)

        // status: the pin and its model digest, last runs, pending work, and the drift probe.
        let status = try world.plumb("status", "--check", "--wide")
        #expect(status.status == 0, "\(status.stderr)")
        let lines = status.stdout.split(separator: "\n").map(String.init)
        let staging = try #require(lines.first { $0.hasPrefix("  staging") })
        #expect(staging.contains("dev run \(pin.run)") && staging.contains(model.short) && staging.contains("up to date") && staging.contains("in-sync"))
        let prod = try #require(lines.first { $0.hasPrefix("  prod") })
        #expect(prod.contains("not promoted yet") && prod.contains("never reconciled") && prod.contains("awaits a promotion"))
        #expect(!status.stdout.contains("plan error"), "a prod waiting for its first promotion is not in error")
        #expect(lines.contains("  prod: not promoted yet; `plumb promote staging prod` pins what staging validated"), "\(status.stdout)")
        #expect(lines.firstIndex { $0.hasPrefix("  dev") }! < lines.firstIndex { $0.hasPrefix("  staging") }!)
        // Tampering with the deployment is drift.
        try world.ci.write("deployments/staging/model.txt", "tampered\n")
        let drifted = try RecordJSON.decode([EnvironmentStatus].self, from: Data(try world.plumb("status", "--check", "--json").stdout.utf8))
        #expect(drifted.first { $0.environment == "staging" }?.drift == .drifted)
        #expect(drifted.first { $0.environment == "dev" }?.drift == .inSync)
        #expect(drifted.first { $0.environment == "staging" }?.modelDigest == model)
        #expect(try world.plumb("status").stdout.contains("not checked"))

        // metrics diff between environments: absolute and relative change.
        let diff = try world.plumb("metrics", "diff", "staging", "dev")
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout.contains("evaluate.accuracy  0.85     0.8  -0.05   -5.88%"), "\(diff.stdout)")
        let md = try world.plumb("metrics", "diff", "staging", devRun, "--md")
        #expect(md.stdout.contains("| evaluate.accuracy | 0.85 | 0.8 | -0.05 | -5.88% |"), "\(md.stdout)")
        let json = try RecordJSON.decode(MetricsDiff.self, from: Data(try world.plumb("metrics", "diff", pin.run, "dev", "--json").stdout.utf8))
        #expect(json.rows == [MetricsDiff.Row(metric: "evaluate.accuracy", a: 0.85, b: 0.8, change: -0.05, relative: -0.058824)])
        #expect(try world.plumb("metrics", "--env", "staging").stdout.contains("evaluate.accuracy  0.85"))
        let nope = try world.plumb("metrics", "diff", "nope", "dev")
        #expect(nope.status == 64, "\(nope.status): \(nope.stderr)")

        // history: runs and the promotion, newest first.
        let history = try world.plumb("history", "--limit", "3", "--wide")
        #expect(history.status == 0)
        // Each entry's line; the line under it says what happened.
        let h = history.stdout.split(separator: "\n").dropFirst().map(String.init).filter { !$0.hasPrefix("    ") }
        #expect(h.count == 3)
        #expect(h[0].contains("dev") && h[0].contains(devRun) && h[0].contains("succeeded"))
        #expect(h.contains { $0.contains("promotion") && $0.contains(pin.run) })

        // show and logs.
        let show = try world.plumb("show", devRun)
        #expect(show.stdout.hasPrefix("Run \(devRun) of dev: succeeded"))
        #expect(show.stdout.contains("evaluate.accuracy  0.8"))
        #expect(try world.plumb("logs", devRun, "deploy").status == 0)
        let noLog = try world.plumb("logs", devRun, "nosuch")
        #expect(noLog.status == 64 && noLog.stderr.contains("has no stage 'nosuch'"), "\(noLog.status): \(noLog.stderr)")
        try FileManager.default.removeItem(atPath: world.ci.root + "/.plumb/cache")
        let gone = try world.plumb("logs", devRun, "deploy")
        #expect(gone.status == 1 && gone.stderr.contains("is not in this machine's cache"))

        // report: plan, metrics diff against staging, staging's gates (max_drop fails: 0.85 → 0.8).
        let report = try world.plumb("report", "--md", "--env", "dev")
        #expect(report.status == 3)
        #expect(report.stdout.hasPrefix("## Plumb: dev → staging"))
        #expect(report.stdout.contains("| evaluate.accuracy | max_drop 0.02 | 0.8 | 0.85 | ❌ FAIL |"))
        #expect(report.stdout.contains("| evaluate.accuracy | min 0.78 | 0.8 | 0.85 | ✅ pass |"))
    }
}
