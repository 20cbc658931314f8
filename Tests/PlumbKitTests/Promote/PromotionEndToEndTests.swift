import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// The "Must show" of issue 4, driven through the built binary with the commands of docs/ci/.
@Suite(.serialized) struct PromotionEndToEndTests {
    @Test func aPassingPromotionPinsDevsArtifactsAndStagingDeploysThemWithoutRebuilding() throws {
        let world = try PromotionWorld()
        let dev = try world.plumb("reconcile", "--env", "dev", "--pull", "--push")
        #expect(dev.status == 0, "\(dev.stderr)")
        let devState = try #require(try world.state("dev"))
        let model = try #require(devState.stages["train"]?.outputs["build/model.txt"])

        let promote = try world.plumb("promote", "dev", "staging", "--pull", "--push")
        #expect(promote.status == 0, "\(promote.stderr)")
        #expect(promote.stdout.contains("evaluate.accuracy  min 0.78"))
        #expect(promote.stdout.contains("Promoted dev run \(devState.lastRun!) → staging"))
        let pin = try #require(try world.pin("staging"))
        #expect(pin.source == "dev" && pin.run == devState.lastRun && pin.commit == devState.lastCommit)
        #expect(pin.stages["train"]?.outputs["build/model.txt"] == model)
        #expect(pin.stages["evaluate"]?.metrics["evaluate.accuracy"] == 0.85)
        #expect(pin.gates.count == 2 && pin.gates.allSatisfy(\.passed))
        // One commit on origin, made by the promotion, that CI must act on (no [skip ci]).
        let commit = try world.origin.repository.commit(try world.originMain)
        #expect(commit.summary == "plumb(promote): dev → staging, run \(pin.run)")
        #expect(!commit.message.contains("[skip ci]"))
        #expect(commit.message.contains("Plumb-Promote-From: dev\nPlumb-Promote-To: staging\nPlumb-Run: \(pin.run)"))
        #expect(try world.origin.repository.changedPaths(from: commit.parents[0], to: commit.id) == ["environments/staging.pin.json"])

        let staging = try world.plumb("reconcile", "--env", "staging", "--pull", "--push")
        #expect(staging.status == 0, "\(staging.stderr)")
        let stagingState = try #require(try world.state("staging"))
        let record = try #require(try world.runRecord("staging", stagingState.lastRun!))
        #expect(record.stages["deploy"]?.status == .succeeded)
        #expect(record.stages["train"]?.status == .pinned)
        #expect(record.stages["evaluate"]?.status == .pinned)
        #expect(record.pin == PinReference(source: "dev", commit: pin.commit, run: pin.run))
        // The deployed bytes are the ones dev evaluated, digest for digest.
        #expect(sha256(try world.deployed("staging")) == model.hex)
        #expect(try world.deployed("staging") == (try world.deployed("dev")))

        // prod through a reviewed pull request: the commit goes to a new branch on origin; main stays.
        let mainBefore = try world.originMain
        let branch = "promote/prod-\(pin.run)"
        let prod = try world.plumb("promote", "staging", "prod", "--branch", branch, "--push")
        #expect(prod.status == 0, "\(prod.stderr)")
        #expect(try world.originMain == mainBefore)
        #expect(try world.ci.repository.head().reference == "refs/heads/main")
        let prodTip = try world.origin.repository.referenceTarget("refs/heads/\(branch)")
        let prodPin = try Pin.decode(try #require(try world.origin.repository.file(at: SpecPaths.pin("prod"), in: prodTip)), path: "prod.pin.json")
        #expect(prodPin.source == "staging" && prodPin.stages["train"]?.outputs["build/model.txt"] == model)
        #expect(try world.origin.repository.commit(prodTip).parents == [mainBefore])

        // Promoting the same run again writes nothing: CI runs this on every push.
        let before = try world.originMain
        let again = try world.plumb("promote", "dev", "staging", "--pull", "--push")
        #expect(again.status == 0)
        #expect(again.stdout.contains("staging already pins dev run \(pin.run); nothing to do."))
        #expect(try world.originMain == before)
    }

    @Test func aFailingGateExitsThreeAndLeavesTheRepositoryByteIdentical() throws {
        let world = try PromotionWorld()
        #expect(try world.mainPipeline() == (0, 0, 0))
        try world.developerCommits("spec/params.yaml", promotionParams(version: 2, accuracy: "0.70"))
        #expect(try world.plumb("reconcile", "--env", "dev", "--pull", "--push").status == 0)
        let before = try world.fingerprintOfEverything()

        let promote = try world.plumb("promote", "dev", "staging", "--pull", "--push")
        #expect(promote.status == 3)
        #expect(promote.stdout.contains("evaluate.accuracy  min 0.78"))
        #expect(promote.stdout.contains("FAIL"))
        #expect(promote.stdout.contains("0.7 is below the minimum 0.78"))
        #expect(promote.stdout.contains("falls 0.15 from 0.85, more than 0.02"))
        #expect(promote.stderr.contains("2 gates failed"))
        #expect(try world.fingerprintOfEverything() == before)

        // --json says the same to a machine, with the same exit code.
        let json = try world.plumb("promote", "dev", "staging", "--json")
        #expect(json.status == 3)
        let lines = try jsonLines(json.stdout)
        try expectDocumented(lines, section: "`plumb promote --json`")
        let gates = lines.filter { $0["type"] as? String == "gate" }
        #expect(gates.count == 2 && gates.allSatisfy { $0["passed"] as? Bool == false }, "\(json.stdout)")
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary" && summary["result"] as? String == "gate-failed")
        #expect(summary["commit"] is NSNull && summary["exitCode"] as? Int == 3)
        #expect(!lines.contains { ["pin", "recorded"].contains($0["type"] as? String) })
        #expect(json.stderr.contains("2 gates failed"), "the words people read go to stderr")
        #expect(try world.fingerprintOfEverything() == before)
    }

    /// dev trains v1, then v2; both are promoted and deployed to staging.
    func twoPromotions() throws -> (world: PromotionWorld, v1: String, v2: String) {
        let world = try PromotionWorld()
        #expect(try world.mainPipeline() == (0, 0, 0))
        let v1 = try world.deployed("staging")
        try world.developerCommits("spec/params.yaml", promotionParams(version: 2, accuracy: "0.86"))
        #expect(try world.mainPipeline() == (0, 0, 0))
        let v2 = try world.deployed("staging")
        #expect(v1.contains("\"version\": 1") || v1.contains("\"version\":1"))
        #expect(v1 != v2)
        return (world, v1, v2)
    }

    @Test func rollbackPinsThePreviousArtifactsAndTheNextReconcileRedeploysThem() throws {
        let (world, v1, v2) = try twoPromotions()
        let pinV2 = try #require(try world.pin("staging"))
        let rollback = try world.plumb("rollback", "staging", "--pull", "--push")
        #expect(rollback.status == 0, "\(rollback.stderr)")
        let pinNow = try #require(try world.pin("staging"))
        #expect(pinNow.run != pinV2.run)
        #expect(pinNow.stages["train"]?.outputs["build/model.txt"]?.hex == sha256(v1))
        let commit = try world.origin.repository.commit(try world.originMain)
        #expect(commit.summary == "plumb(rollback): staging back to dev run \(pinNow.run)")

        let staging = try world.plumb("reconcile", "--env", "staging", "--pull", "--push")
        #expect(staging.status == 0, "\(staging.stderr)")
        #expect(try world.deployed("staging") == v1)
        let state = try #require(try world.state("staging"))
        #expect(try world.runRecord("staging", state.lastRun!)?.stages["train"]?.status == .pinned)

        // --to a run goes forward again just the same.
        #expect(try world.plumb("rollback", "staging", "--to", pinV2.run, "--pull", "--push").status == 0)
        #expect(try world.plumb("reconcile", "--env", "staging", "--pull", "--push").status == 0)
        #expect(try world.deployed("staging") == v2)
    }

    @Test func gitRevertOfAPromotionIsARollback() throws {
        let (world, v1, v2) = try twoPromotions()
        // Revert the last promotion commit as `git revert` would: a new commit whose tree has the
        // pin of the promotion's parent. Made by a person through the library, then pushed.
        let repo = world.developer.repository
        try RemoteSync(repository: repo).pull(branch: "main")
        let head = try repo.head().commit!
        let promotion = try #require(try repo.log(to: head).first { $0.summary.hasPrefix("plumb(promote): dev → staging") })
        let parentPin = try repo.file(at: SpecPaths.pin("staging"), in: promotion.parents[0])
        let tree = try repo.tree(updating: head, with: [(SpecPaths.pin("staging"), parentPin)])
        let revert = try repo.createCommit(tree: tree, parents: [head], message: "Revert \"\(promotion.summary)\"\n\nThis reverts commit \(promotion.id.hex).\n",
                                           author: Signature(name: "Reviewer", email: "r@example.com"))
        #expect(try repo.updateReference("refs/heads/main", to: revert, expected: head, message: "revert"))
        #expect(try world.developer.pushMain() == .pushed)

        // CI on that push runs the whole main pipeline: dev has nothing to do, and dev's run (v2)
        // is not promoted again behind the reviewer's back; staging redeploys v1.
        let dev = try world.plumb("reconcile", "--env", "dev", "--pull", "--push")
        #expect(dev.status == 0, "\(dev.stderr)")
        let promote = try world.plumb("promote", "dev", "staging", "--pull", "--push")
        #expect(promote.status == 0, "\(promote.stderr)")
        #expect(promote.stdout.contains("was rolled back from it; not promoting it again"))
        let staging = try world.plumb("reconcile", "--env", "staging", "--pull", "--push")
        #expect(staging.status == 0, "\(staging.stderr)")
        #expect(try world.deployed("staging") == v1)
        #expect(sha256(v1) == (try world.pin("staging"))?.stages["train"]?.outputs["build/model.txt"]?.hex)

        // --force promotes it anyway.
        #expect(try world.plumb("promote", "dev", "staging", "--force", "--pull", "--push").status == 0)
        #expect(try world.plumb("reconcile", "--env", "staging", "--pull", "--push").status == 0)
        #expect(try world.deployed("staging") == v2)
    }

    @Test func aPromotionIsRefusedWhenTheSourcesLastRunFailedOrItsRecordIsStale() throws {
        let world = try PromotionWorld()
        #expect(try world.plumb("reconcile", "--env", "dev", "--pull", "--push").status == 0)

        // A spec change nobody reconciled yet: dev's record no longer says what dev is.
        try world.developerCommits("spec/params.yaml", promotionParams(version: 2, accuracy: "0.9"))
        let stale = try world.plumb("promote", "dev", "staging", "--pull")
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("dev's recorded state is older than its spec: 3 stages would run (train, deploy, evaluate); reconcile dev first"))

        try world.developerCommits("spec/train.sh", "echo broken >&2; exit 1\n")
        let failed = try world.plumb("reconcile", "--env", "dev", "--pull", "--push")
        #expect(failed.status == 1)
        let run = try #require(try world.state("dev")?.lastRun)
        let before = try world.originMain
        let refused = try world.plumb("promote", "dev", "staging", "--pull", "--push")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("error: dev's last run \(run) failed; fix and reconcile dev first"))
        #expect(try world.originMain == before)
        #expect(try world.pin("staging") == nil)
    }
}

/// Rollback steps back through the promotions still in force, never forward.
@Suite struct RollbackStepsBackTests {
    @Test func twoRollbacksGoBackTwiceAndAThirdHasNowhereToGo() throws {
        let world = try PromotionWorld()
        var deployed: [String] = []
        var runs: [String] = []
        for version in 1...3 {
            if version > 1 { try world.developerCommits("spec/params.yaml", promotionParams(version: version, accuracy: "0.86")) }
            #expect(try world.mainPipeline() == (0, 0, 0))
            deployed.append(try world.deployed("staging"))
            runs.append(try #require(try world.pin("staging")).run)
        }
        #expect(Set(deployed).count == 3)

        for back in [1, 0] {
            let rollback = try world.plumb("rollback", "staging", "--pull", "--push")
            #expect(rollback.status == 0, "\(rollback.stderr)")
            let pin = try #require(try world.pin("staging"))
            #expect(pin.run == runs[back], "rollback goes to version \(back + 1), not forward")
            #expect(pin.rolledBackFrom == runs[back + 1], "the pin records what it rolled back from")
            #expect(try world.plumb("reconcile", "--env", "staging", "--pull", "--push").status == 0)
            #expect(try world.deployed("staging") == deployed[back])
        }
        let third = try world.plumb("rollback", "staging", "--pull", "--push")
        #expect(third.status != 0)
        #expect(third.stderr.contains("no earlier promotion in force"), "\(third.stderr)")
        #expect(try world.pin("staging")?.run == runs[0])
    }
}

/// Issue 12, item 8: an environment that only pins (`runs: []`, a model registry) records each
/// promotion it takes, and shows it in `status` and `metrics diff`.
@Suite struct PinOnlyEnvironmentTests {
    @Test func aPinOnlyEnvironmentRecordsItsPromotions() throws {
        let world = try PromotionWorld()
        try world.developerCommits("environments/registry.yaml", "from: dev\nruns: []\n")
        #expect(try world.plumb("reconcile", "--env", "dev", "--pull", "--push").status == 0)
        #expect(try world.plumb("promote", "dev", "registry", "--pull", "--push").status == 0)
        let pending = try world.plumb("plan", "--env", "registry", "--detailed-exitcode")
        #expect(pending.status == 2, "a promotion not yet recorded is pending: \(pending.stdout)")
        let recorded = try world.plumb("reconcile", "--env", "registry", "--pull", "--push")
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let state = try #require(try world.state("registry"))
        let pin = try #require(try world.pin("registry"))
        #expect(state.stages.values.allSatisfy { $0.status == .succeeded } && state.stages.count == 3)
        #expect(state.stages["train"]?.fingerprint == pin.stages["train"]?.fingerprint)
        let status = try world.plumb("status")
        #expect(status.stdout.split(separator: "\n").first { $0.hasPrefix("  registry") }?.contains("never reconciled") == false, "\(status.stdout)")
        // The same metrics on both sides: only --all lists them (unchanged rows are left out by default).
        let diff = try world.plumb("metrics", "diff", "dev", "registry", "--all")
        #expect(diff.stdout.contains("evaluate.accuracy  0.85  0.85"), "\(diff.stdout)")
        #expect(try world.plumb("metrics", "diff", "dev", "registry").stdout.hasPrefix("No metric changed from dev to registry"))
        // Nothing new: nothing recorded.
        let before = try world.originMain
        #expect(try world.plumb("reconcile", "--env", "registry", "--pull", "--push").status == 0)
        #expect(try world.originMain == before)
    }
}
