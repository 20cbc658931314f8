import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Issue 13, items 6 and 9, through the built binary on scratch repositories: params diff, the
/// defaults of metrics diff, logs -f, doctor, and the words people bring from other tools.
@Suite struct EverydayCommandTests {
    /// `train` reads params, dev overrides one of them; `evaluate` copies spec/metrics.json as its metrics.
    static let pipeline = """
    version: 1
    stages:
      train:
        cmd: echo train >> $SIDE
        params: [train]
      evaluate:
        cmd: cp spec/metrics.json metrics.json
        deps: [spec/metrics.json]
        metrics: [metrics.json]
    """

    static func world() throws -> PipelineHarness {
        try PipelineHarness(pipeline: pipeline, params: "train:\n  lr: 0.1\n  depth: 3\n  tags: [a, b]\n",
                            files: ["environments/dev.yaml": "params:\n  train:\n    depth: 5\n", "environments/prod.yaml": "{}\n",
                                    "spec/metrics.json": #"{"accuracy": 0.5, "loss": 1}"#])
    }

    func plumb(_ h: PipelineHarness, _ arguments: String..., environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(plumbExecutable(), arguments, in: h.root, environment: environment)
    }

    @Test func paramsDiffComparesTheLastRunsCommitWithHeadInTheEnvironmentsEffectiveParams() throws {
        let h = try Self.world()
        let none = try plumb(h, "params", "diff", "--env", "dev")
        #expect(none.status == 64 && none.stderr.contains("dev has no run yet") && none.stderr.contains("plumb params diff HEAD~1"), "\(none.stderr)")
        #expect(try plumb(h, "reconcile", "-q", "--env", "dev").status == 0)
        let ran = try #require(try h.state("dev")?.lastRun)
        let runCommit = try #require(try RunRecord.read(ran, environment: "dev", at: try h.scratch.head, in: h.repository)).commit
        #expect(try plumb(h, "params", "diff", "--env", "dev").stdout.contains("No params of dev changed"))

        try h.edit("spec/params.yaml", "train:\n  lr: 0.2\n  depth: 3\n  tags: [a, b, c]\n  seed: 7\n")
        let text = try plumb(h, "params", "diff", "--env", "dev")
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
        #expect(lines.first?.hasPrefix("param") == true && lines[0].contains("last run (\(runCommit.short))") && lines[0].contains("HEAD ("))
        #expect(lines.contains { $0.hasPrefix("train.lr") && $0.contains("0.1") && $0.contains("0.2") && $0.hasSuffix("+0.1") }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("train.tags") && $0.contains(#"["a","b"]"#) && $0.hasSuffix("changed") })
        #expect(lines.contains { $0.hasPrefix("train.seed") && $0.hasSuffix("added") })
        #expect(!lines.contains { $0.hasPrefix("train.depth") }, "unchanged params are left out")

        // --all shows the unchanged ones, with dev's override (5), not spec/params.yaml's 3.
        let all = try RecordJSON.decode(ParamsDiff.self, from: Data(try plumb(h, "params", "diff", "--env", "dev", "--all", "--json").stdout.utf8))
        #expect(all.environment == "dev")
        #expect(all.rows.map(\.param) == ["train.depth", "train.lr", "train.seed", "train.tags"])
        #expect(all.rows[0] == ParamsDiff.Row(param: "train.depth", a: .int(5), b: .int(5), changed: false))
        #expect(all.rows[2] == ParamsDiff.Row(param: "train.seed", a: nil, b: .int(7), changed: true))
        // prod has no overrides, and no run: two revisions named.
        let prod = try RecordJSON.decode(ParamsDiff.self, from: Data(try plumb(h, "params", "diff", "HEAD~1", "HEAD", "--env", "prod", "--all", "--json").stdout.utf8))
        #expect(prod.rows.first { $0.param == "train.depth" }?.a == .int(3))
        let md = try plumb(h, "params", "diff", "HEAD~1", "--env", "dev", "--md")
        #expect(md.stdout.contains("| train.lr | 0.1 | 0.2 | +0.1 |"), "\(md.stdout)")
        let bad = try plumb(h, "params", "diff", "nope", "--env", "dev")
        #expect(bad.status == 64 && bad.stderr.contains("'nope' names no commit"), "\(bad.stderr)")

        // Without diff: the effective params at HEAD.
        let shown = try plumb(h, "params", "--env", "dev").stdout
        #expect(shown.contains("train.depth  5") && shown.contains("train.lr     0.2"), "\(shown)")
    }

    @Test func metricsDiffDefaultsToTheLastRunAgainstTheOneBeforeAndShowsChangedRowsOnly() throws {
        let h = try Self.world()
        #expect(try plumb(h, "reconcile", "-q", "--env", "dev").status == 0)
        let once = try plumb(h, "metrics", "diff", "--env", "dev")
        #expect(once.status == 64 && once.stderr.contains("latest~1 goes back further"), "\(once.stderr)")
        let first = try #require(try h.state("dev")?.lastRun)
        try h.edit("spec/metrics.json", #"{"accuracy": 0.75, "loss": 1}"#)
        #expect(try plumb(h, "reconcile", "-q", "--env", "dev").status == 0)
        let second = try #require(try h.state("dev")?.lastRun)

        let diff = try plumb(h, "metrics", "diff", "--env", "dev")
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout.contains("dev run \(first)") && diff.stdout.contains("dev run \(second)"))
        #expect(diff.stdout.contains("evaluate.accuracy  0.5") && diff.stdout.contains("+50.00%"), "\(diff.stdout)")
        #expect(!diff.stdout.contains("evaluate.loss"))
        #expect(try plumb(h, "metrics", "diff", "--env", "dev", "--all").stdout.contains("evaluate.loss"))
        // One named: it against the last run.
        let json = try RecordJSON.decode(MetricsDiff.self, from: Data(try plumb(h, "metrics", "diff", first, "--env", "dev", "--json").stdout.utf8))
        #expect(json.rows == [MetricsDiff.Row(metric: "evaluate.accuracy", a: 0.5, b: 0.75, change: 0.25, relative: 0.5)])
        #expect(try plumb(h, "metrics", "diff", "latest", "latest", "--env", "dev").stdout.contains("No metric changed"))
        #expect(try plumb(h, "metrics", "--all").status == 64)
    }

    @Test func logsFollowPrintsARunningStagesLogAndEndsWithTheStage() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          slow:
            cmd: 'for i in 1 2 3; do echo line $i; sleep 0.5; done; printf last; echo x > a.txt'
            outs: [a.txt]
          later:
            cmd: 'sleep 3; echo y > b.txt'
            deps: [a.txt]
            outs: [b.txt]
        """)
        let reconcile = configuredProcess(plumbExecutable(), ["reconcile", "-q"], in: h.root)
        reconcile.standardOutput = FileHandle.nullDevice
        reconcile.standardError = FileHandle.nullDevice
        try reconcile.run()
        defer { reconcile.waitUntilExit() }
        let logs = h.root + "/.plumb/logs"
        let deadline = Date().addingTimeInterval(20)
        while ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let running = try #require(try FileManager.default.contentsOfDirectory(atPath: logs).first)

        let followed = try plumb(h, "logs", "-f", "latest", "slow")
        #expect(followed.status == 0, "\(followed.stderr)")
        #expect(followed.stdout == "line 1\nline 2\nline 3\nlast\n", "\(followed.stdout)")
        // It ended with the stage, while `later` (3 s) still runs.
        #expect(reconcile.isRunning, "logs -f waited for the run instead of the stage")
        // A stage that has not finished yet is followed by its suffix too, until the run is recorded.
        let suffix = String(running.split(separator: "-").last!)
        #expect(try plumb(h, "logs", "--follow", suffix, "later").status == 0)
        reconcile.waitUntilExit()
        #expect(reconcile.terminationStatus == 0)
        // Recorded: -f prints the stored log and ends.
        let recorded = try plumb(h, "logs", "-f", running, "slow")
        #expect(recorded.status == 0 && recorded.stdout.hasPrefix("line 1\nline 2\nline 3\nlast"), "\(recorded.stdout)")
        #expect(try plumb(h, "logs", "-f", "--json", running, "slow").status == 64)
        // The folder of a run killed before it was recorded is no run in progress: no reconcile holds a lock.
        try h.scratch.write(".plumb/logs/29991231-235959-aaaaaa/slow.log", "stale\n")
        let stale = try plumb(h, "logs", "-f", "latest", "slow")
        #expect(stale.status == 0 && stale.stdout.hasPrefix("line 1\n"), "\(stale.stdout)\(stale.stderr)")
    }

    @Test func doctorSaysOkWarnOrFailPerCheckAndNamesCredentialsWithoutValues() throws {
        let h = try Self.world()
        let healthy = try plumb(h, "doctor", environment: ["PLUMB_CACHE_TOKEN": "s3cr3t-value"])
        #expect(healthy.status == 0, "\(healthy.stdout)\(healthy.stderr)")
        let lines = healthy.stdout.split(separator: "\n").map(String.init)
        for check in ["libraries", "repository", "git identity", "spec", "local cache", "shared store", "git remotes", "credentials"] {
            #expect(lines.contains { $0.dropFirst(6).hasPrefix(check) }, "\(check) in \(healthy.stdout)")
        }
        #expect(lines.contains { $0.hasPrefix("ok    libraries") && $0.contains("libgit2 ") && $0.contains("libyaml ") && $0.contains("libcurl/") })
        #expect(lines.contains { $0.hasPrefix("warn  git remotes") })
        #expect(lines.contains { $0.hasPrefix("ok    credentials") && $0.contains("PLUMB_CACHE_TOKEN") })
        #expect(!healthy.stdout.contains("s3cr3t-value"))
        #expect(!lines.contains { $0.contains("virtual environment") }, "no stage uses .venv")

        // A shared store folder that exists is reachable; one that does not is a fail with a fix.
        let store = try temporaryFolder()
        let reachable = try plumb(h, "doctor", environment: ["PLUMB_CACHE_URL": "file://\(store)"]).stdout.split(separator: "\n")
        #expect(reachable.contains { $0.hasPrefix("ok    shared store") && $0.hasSuffix("file://\(store) reachable") }, "\(reachable)")
        let missing = try plumb(h, "doctor", "--json", environment: ["PLUMB_CACHE_URL": "file:///nonexistent/plumb-store"])
        #expect(missing.status == 1)
        struct Report: Decodable { struct Check: Decodable { var name: String; var status: String; var fix: String? }; var ok: Bool; var checks: [Check] }
        let report = try JSONDecoder().decode(Report.self, from: Data(missing.stdout.utf8))
        #expect(!report.ok)
        #expect(report.checks.first { $0.name == "shared store" }?.status == "fail")
        #expect(report.checks.first { $0.name == "shared store" }?.fix != nil)

        // A broken spec and a missing virtual environment fail; the venv, once there, is ok.
        try h.scratch.write("spec/pipeline.yaml", "version: 1\nstages:\n  a:\n    cmd: '$PLUMB_REPO/.venv/bin/python x.py'\n    deps: [missing.txt]\n")
        let broken = try plumb(h, "doctor")
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("fail  spec") && broken.stdout.contains("fix: plumb validate"), "\(broken.stdout)")
        try h.scratch.write("missing.txt", "now here\n")
        let noVenv = try plumb(h, "doctor")
        #expect(noVenv.stdout.contains("fail  virtual environment") && noVenv.stdout.contains("scripts/setup.sh"), "\(noVenv.stdout)")
        try h.scratch.write(".venv/bin/python", "#!/bin/sh\n", executable: true)
        let withVenv = try plumb(h, "doctor")
        #expect(withVenv.stdout.contains("ok    virtual environment"), "\(withVenv.stdout)")

        // Outside a repository.
        let outside = try runProcess(plumbExecutable(), ["doctor"], in: try temporaryFolder())
        #expect(outside.status == 1 && outside.stdout.contains("fail  repository"))
    }

    @Test(arguments: CommandWords.table.map(\.word)) func otherToolsWordsNameThePlumbCommand(_ word: String) throws {
        let want = CommandWords.table.first { $0.word == word }!.command
        let run = try runProcess(plumbExecutable(), [word], in: try temporaryFolder())
        #expect(run.status == 64)
        #expect(run.stderr.contains("unknown command '\(word)'") && run.stderr.contains("did you mean 'plumb \(want)'?"), "\(run.stderr)")
    }

    @Test func aMistypedVersionSuggestsVersion() throws {
        let run = try runProcess(plumbExecutable(), ["--verison"], in: try temporaryFolder())
        #expect(run.status == 64 && run.stderr.contains("did you mean '--version'?"), "\(run.stderr)")
    }

    /// `-n` is `--dry-run` in every command that has either, so no one types `-n 5` and gets a dry run.
    @Test func dashNMeansDryRunEverywhere() {
        for command in PlumbCommands.all {
            let short = command.arguments.first { $0.names.contains("-n") }
            let dryRun = command.arguments.first { $0.key == "--dry-run" }
            #expect(short?.key == dryRun?.key, "\(command.name): -n is \(short?.key ?? "nothing"), --dry-run is \(dryRun?.names.joined(separator: ", ") ?? "absent")")
        }
    }
}
