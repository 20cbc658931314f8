import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// A three-stage pipeline of shell stages: train writes the model from its params, evaluate
/// writes the accuracy its params say, deploy copies the model to `deployments/<env>/` next to
/// the working tree (outside the workspace, as a real deployment target would be).
let promotionPipeline = """
version: 1
stages:
  train:
    cmd: mkdir -p build && cat "$PLUMB_PARAMS" > build/model.txt && sh spec/train.sh
    deps: [spec/train.sh]
    params: [train]
    outs: [build/model.txt]
  evaluate:
    cmd: >-
      mkdir -p build &&
      echo "{\\"accuracy\\": $(tr -d ' \\n' < "$PLUMB_PARAMS" | sed 's/.*"accuracy":\\([0-9.]*\\).*/\\1/')}" > build/metrics.json
    deps: [build/model.txt]
    params: [evaluate]
    metrics: [build/metrics.json]
  deploy:
    cmd: >-
      mkdir -p "$PLUMB_REPO/deployments/$PLUMB_ENV" &&
      cp build/model.txt "$PLUMB_REPO/deployments/$PLUMB_ENV/model.txt" &&
      echo "$PLUMB_ENV" > build/deployed.txt
    deps: [build/model.txt]
    outs: [build/deployed.txt]
    check: >-
      test "$(sha256sum "$PLUMB_REPO/deployments/$PLUMB_ENV/model.txt" | cut -d' ' -f1)" = "$PLUMB_EXPECTED_MODEL"
"""

func promotionParams(version: Int, accuracy: String) -> String {
    "train:\n  version: \(version)\nevaluate:\n  accuracy: \(accuracy)\n"
}

/// A bare `origin`, a developer's clone that commits spec changes, and a CI runner's clone that
/// runs the built `plumb` binary with exactly the commands of docs/ci/ (its `.plumb/` persists
/// between pipelines, as the CI cache keeps it).
final class PromotionWorld {
    let origin: ScratchRepository
    let developer: ScratchClone
    let ci: ScratchClone

    init(accuracy: String = "0.85") throws {
        origin = try ScratchRepository(bare: true)
        let seed = try ScratchRepository()
        try seed.write(".gitignore", ".plumb/\ndeployments/\n")
        try seed.write("spec/pipeline.yaml", promotionPipeline)
        try seed.write("spec/params.yaml", promotionParams(version: 1, accuracy: accuracy))
        try seed.write("spec/train.sh", "true\n")
        try seed.write("environments/dev.yaml", "params: {}\n")
        try seed.write("environments/staging.yaml", """
            from: dev
            runs: [deploy]
            gates:
              - metric: evaluate.accuracy
                min: 0.78
              - metric: evaluate.accuracy
                max_drop: 0.02

            """)
        try seed.write("environments/prod.yaml", """
            from: staging
            runs: [deploy]
            gates:
              - metric: evaluate.accuracy
                min: 0.80

            """)
        try seed.commit("initial spec")
        try seed.repository.addRemote(name: "origin", url: origin.root)
        _ = try seed.repository.push(refspecs: ["refs/heads/main:refs/heads/main"])
        developer = try ScratchClone(of: origin.root)
        ci = try ScratchClone(of: origin.root)
    }

    /// A developer's change: pull, edit, commit, push, all through the library.
    func developerCommits(_ path: String, _ content: String) throws {
        try RemoteSync(repository: developer.repository).pull(branch: "main")
        try developer.write(path, content)
        try developer.commit("edit \(path)")
        #expect(try developer.pushMain() == .pushed)
    }

    /// Runs the built `plumb` in the CI clone.
    @discardableResult
    func plumb(_ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(plumbExecutable(), arguments, in: ci.root)
    }

    /// docs/ci: the job on every push to main (reconcile dev, promote to staging when the gates
    /// pass, reconcile staging). Returns the exit status of each step.
    @discardableResult
    func mainPipeline() throws -> (dev: Int32, promote: Int32, staging: Int32) {
        let dev = try plumb("reconcile", "--env", "dev", "--pull", "--push")
        #expect(dev.status == 0, "reconcile dev: \(dev.stderr)")
        guard dev.status == 0 else { return (dev.status, -1, -1) }
        // Exit 3 (a gate failed) is no failure of the pipeline: staging keeps what it runs.
        let promote = try plumb("promote", "dev", "staging", "--pull", "--push")
        guard promote.status == 0 || promote.status == 3 else { return (0, promote.status, -1) }
        guard FileManager.default.fileExists(atPath: ci.root + "/environments/staging.pin.json") else { return (0, promote.status, -1) }
        let staging = try plumb("reconcile", "--env", "staging", "--pull", "--push")
        #expect(staging.status == 0, "reconcile staging: \(staging.stderr)")
        return (0, promote.status, staging.status)
    }

    var originMain: ObjectID { get throws { try origin.repository.referenceTarget("refs/heads/main") } }

    func originFile(_ path: String) throws -> Data? { try origin.repository.file(at: path, in: try originMain) }

    func pin(_ env: String) throws -> Pin? {
        try originFile(SpecPaths.pin(env)).map { try Pin.decode($0, path: SpecPaths.pin(env)) }
    }

    func state(_ env: String) throws -> RecordedState? {
        try originFile(RecordedState.path(for: env)).map { try RecordedState.decode($0, path: "state.json") }
    }

    func runRecord(_ env: String, _ run: String) throws -> RunRecord? {
        try originFile(RunRecord.path(for: env, run: run)).map { try RunRecord.decode($0, path: "run.json") }
    }

    /// The content deployed into `env` in the CI runner's checkout.
    func deployed(_ env: String) throws -> String { try ci.read("deployments/\(env)/model.txt") }

    /// Every file under the CI clone (but .git internals and .plumb), byte for byte, plus every ref.
    func fingerprintOfEverything() throws -> [String: Data] {
        var out: [String: Data] = [:]
        let fm = FileManager.default
        let base = URL(fileURLWithPath: ci.root)
        if let walker = fm.enumerator(at: base, includingPropertiesForKeys: nil) {
            for case let url as URL in walker {
                let rel = String(url.path.dropFirst(base.path.count + 1))
                if rel.hasPrefix(".plumb") { continue }
                if rel.hasPrefix(".git/") && !(rel.hasPrefix(".git/refs") || rel == ".git/HEAD" || rel == ".git/packed-refs") { continue }
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue { out[rel] = try Data(contentsOf: url) }
            }
        }
        out["origin:main"] = Data(try originMain.hex.utf8)
        return out
    }
}

func sha256(_ text: String) -> String {
    let hasher = SHA256Hasher()
    hasher.update(Data(text.utf8))
    return hasher.finish().hex
}
