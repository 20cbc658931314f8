import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbEngine

/// Runs by short names (RunReference, RunResolver): parsing, matching, and every command that takes a run.
@Suite(.serialized) struct RunNameTests {
    @Test(arguments: [
        ("latest", RunReference.latest(back: 0)),
        ("latest~1", .latest(back: 1)),
        ("latest~", .latest(back: 1)),
        ("latest~12", .latest(back: 12)),
        ("20261203-132813-ef17cd", .name("20261203-132813-ef17cd")),
        ("ef17cd", .name("ef17cd")),
        ("HEAD~1", .name("HEAD~1")),
    ])
    func parses(text: String, want: RunReference) throws {
        #expect(try RunReference(parsing: text) == want)
    }

    @Test(arguments: ["../x", "a/b", "", "x y", "ef\u{1b}[2J", "latest~x", "latest~-1", String(repeating: "a", count: 129)])
    func refuses(text: String) throws {
        let error = try #require(throws: PlumbError.self) { try RunReference(parsing: text) }
        #expect(error.kind == .usage)
        #expect(error.message.contains("cannot name a run"))
        #expect(!error.message.contains("\u{1b}"))
    }

    @Test(arguments: [
        ("20261203-132813-ef17cd", true),  // the id
        ("20261203-13", true),             // a prefix
        ("ef17cd", true),                  // the random suffix
        ("ef17", true),                    // the start of it
        ("17cd", false),                   // not the start of either
        ("132813", false),                 // the time alone is no name
        ("20261203-132813-ef17cd0", false),
    ])
    func matches(name: String, want: Bool) {
        #expect(RunReference.matches(name, run: "20261203-132813-ef17cd") == want)
    }

    /// dev ran twice (v1 is promoted to staging; v2 fails staging's gate), through the built binary.
    @Test func everyCommandTakesShortNames() throws {
        let world = try PromotionWorld()
        #expect(try world.mainPipeline() == (0, 0, 0))
        let first = try #require(try world.state("dev")?.lastRun)
        try world.developerCommits("spec/params.yaml", promotionParams(version: 2, accuracy: "0.8"))
        #expect(try world.plumb("reconcile", "--env", "dev", "--pull", "--push").status == 0)
        let last = try #require(try world.state("dev")?.lastRun)
        #expect(first != last)
        func shows(_ arguments: String..., run: String, env: String = "dev") throws {
            let out = try runProcess(plumbExecutable(), ["show"] + arguments, in: world.ci.root)
            #expect(out.status == 0 && out.stdout.hasPrefix("Run \(run) of \(env):"), "show \(arguments): \(out.status) \(out.stderr)")
        }
        try shows(last, run: last)
        try shows(String(last.dropLast()), run: last)
        try shows(String(last.suffix(6)), run: last)
        try shows(String(last.suffix(6).prefix(5)), "--env", "dev", run: last)
        try shows("latest", run: last)  // dev: the default environment
        try shows("latest", "--env", "dev", run: last)
        try shows("latest~1", "--env", "dev", run: first)
        let stagingRun = try #require(try world.state("staging")?.lastRun)
        try shows("latest", "--env", "staging", run: stagingRun, env: "staging")

        func fails(_ arguments: String..., saying: String...) throws {
            let out = try runProcess(plumbExecutable(), arguments, in: world.ci.root)
            #expect(out.status == 64, "\(arguments): \(out.status) \(out.stderr)")
            for text in saying { #expect(out.stderr.contains(text), "\(arguments): \(out.stderr)") }
        }
        try fails("show", "latest~99", "--env", "dev", saying: "latest~99 goes back further than dev's runs")
        let common = String(zip(first, last).prefix { $0 == $1 }.map(\.0))
        try fails("show", common, "--env", "dev", saying: "'\(common)' matches 2 runs", first, last, "type more")
        try fails("show", "zzzz", saying: "no run matches 'zzzz'", "plumb history")
        try fails("show", "../x", saying: "cannot name a run")
        try fails("logs", "../x", "deploy", saying: "cannot name a run")
        // Text that cannot name a run may still name a commit (a branch a/b) where a command takes one.
        try fails("metrics", "--run", "a/b", saying: "'a/b' is no environment, run or commit")

        // logs and metrics, by the same names.
        #expect(try world.plumb("logs", "latest", "deploy", "--env", "dev").status == 0)
        let logs = try world.plumb("logs", String(first.suffix(6)), "nosuch")
        #expect(logs.status == 64 && logs.stderr.contains("run \(first) has no stage 'nosuch'"), "\(logs.stderr)")
        let metrics = try world.plumb("metrics", "--run", "latest~1")
        #expect(metrics.status == 0 && metrics.stdout.contains("evaluate.accuracy  0.85"), "\(metrics.stdout) \(metrics.stderr)")
        let diff = try world.plumb("metrics", "diff", "latest~1", String(last.suffix(6)), "--env", "dev")
        #expect(diff.status == 0 && diff.stdout.contains("dev run \(first)") && diff.stdout.contains("dev run \(last)"), "\(diff.stdout) \(diff.stderr)")
        #expect(diff.stdout.contains(/evaluate\.accuracy +0\.85 +0\.8 +-0\.05 +-5\.88%/), "\(diff.stdout)")
        // A commit is still a commit.
        #expect(try world.plumb("metrics", "diff", "HEAD~1", "HEAD", "--env", "dev").status == 0)
    }

    /// rollback --to takes the pinned run by a short name; `latest` is the pin's source environment's.
    @Test func rollbackToAShortName() throws {
        let (world, _, _) = try PromotionEndToEndTests().twoPromotions()
        let pinned = try #require(try world.pin("staging"))
        let devRuns = try HistoryReader(repository: world.origin.repository, commit: try world.originMain).runs(of: "dev").map(\.run)
        #expect(devRuns.count == 2 && devRuns.contains(pinned.run))
        let earlier = try #require(devRuns.first { $0 != pinned.run })
        for name in [String(earlier.suffix(6)), String(earlier.dropLast(2)), "latest~1"] {
            let out = try world.plumb("rollback", "staging", "--to", name, "--dry-run", "--json")
            #expect(out.status == 0, "\(name): \(out.stderr)")
            let outcome = try RecordJSON.decode(Rollback.Outcome.self, from: Data(out.stdout.utf8))
            #expect(outcome.to.run == earlier && outcome.from.run == pinned.run, "\(name)")
        }
        let current = try world.plumb("rollback", "staging", "--to", "latest", "--dry-run")
        #expect(current.status == 1 && current.stderr.contains("already pins dev run \(pinned.run)"), "\(current.stderr)")
        let unknown = try world.plumb("rollback", "staging", "--to", "../x", "--dry-run")
        // Not a run's name, so taken as a commit, and no commit either.
        #expect(unknown.status == 64 && unknown.stderr.contains("no commit '../x'"), "\(unknown.status) \(unknown.stderr)")
    }
}
