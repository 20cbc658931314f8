import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// The repository's own example (spec/, environments/), run for real in a scratch copy:
/// Python stages with scikit-learn from the .venv that scripts/setup.sh builds.
@Suite(.serialized) struct ExamplePipelineTests {
    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// A scratch repository holding a copy of the example, with the project's .venv linked in.
    static func scratchCopy() throws -> ScratchRepository {
        let venv = projectRoot + "/.venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: venv) else {
            throw PlumbError("the example's .venv is missing", hint: "run scripts/setup.sh (scripts/test.sh does it first)")
        }
        let scratch = try ScratchRepository()
        for item in ["spec", "environments"] {
            try FileManager.default.copyItem(atPath: projectRoot + "/" + item, toPath: scratch.root + "/" + item)
        }
        try? FileManager.default.removeItem(atPath: scratch.root + "/spec/tests")
        try scratch.write(".gitignore", ".plumb/\n.venv\ndeployments/\n__pycache__/\n")
        try FileManager.default.createSymbolicLink(atPath: scratch.root + "/.venv", withDestinationPath: projectRoot + "/.venv")
        try scratch.commit("the example")
        return scratch
    }

    @Test func theExampleRunsEndToEndAndRerunsOnlyWhatAParamChangeAffects() throws {
        let scratch = try Self.scratchCopy()
        let first = try Reconciler(project: try Project(path: scratch.root))
            .reconcile(ref: nil, environment: "dev", jobs: 2)
        let result = try #require(first.result)
        #expect(result.status == .succeeded, "\(result.outcomes.mapValues { $0.logTail ?? "" })")
        #expect(Set(result.outcomes.filter { $0.value.status == .succeeded }.keys) == ["preprocess", "train", "evaluate", "deploy"])

        // The metrics are committed in history/.
        let statePath = RecordedState.path(for: "dev")
        let state = try RecordedState.decode(try #require(try scratch.repository.file(at: statePath, in: try scratch.head)), path: statePath)
        let accuracy = try #require(state.metrics["evaluate.accuracy"])
        #expect(accuracy >= 0.75)
        for key in ["evaluate.precision", "evaluate.recall", "evaluate.f1", "evaluate.roc_auc", "train.logistic_accuracy", "train.forest_accuracy"] {
            #expect(state.metrics[key] != nil, "metric \(key) missing")
        }

        // The API answers a known passenger from dev's deployment.
        let probability = try Self.predict(scratch: scratch, passenger: #"{"pclass": 1, "sex": "female", "age": 29, "sibsp": 0, "parch": 0, "fare": 80, "embarked": "S"}"#)
        #expect(probability > 0.5 && probability <= 1)

        // A running API: the next deploy changes what it answers, with no restart.
        let (api, url) = try Self.startAPI(scratch: scratch)
        defer { kill(api.processIdentifier, SIGKILL); api.waitUntilExit() }
        let firstModel = try #require(first.result?.outcomes["train"]?.outputs["build/model.pkl"])
        #expect(try Self.ask(url, "/health", field: "model_sha256", scratch: scratch) == firstModel.hex)

        // A train param: train, evaluate and deploy run again; preprocess does not.
        let params = try scratch.read("spec/params.yaml")
        try scratch.write("spec/params.yaml", params.replacingOccurrences(of: "n_estimators: 200", with: "n_estimators: 150"))
        try scratch.commit("fewer trees")
        let second = try Reconciler(project: try Project(path: scratch.root))
            .reconcile(ref: nil, environment: "dev", jobs: 2)
        let outcomes = try #require(second.result?.outcomes)
        #expect(second.plan.stage("preprocess")?.action == .unchanged)
        #expect(second.plan.stage("train")?.action == .run)
        #expect(outcomes["preprocess"]?.status == .unchanged)
        #expect(outcomes["train"]?.status == .succeeded)
        // A different forest may pick the same model bytes only by chance; evaluate and deploy follow train's output.
        let trainChanged = outcomes["train"]?.outputs["build/model.pkl"] != first.result?.outcomes["train"]?.outputs["build/model.pkl"]
        if trainChanged {
            #expect(outcomes["evaluate"]?.status == .succeeded)
            #expect(outcomes["deploy"]?.status == .succeeded)
        }
        #expect(trainChanged, "150 trees should give a different model than 200")
        let secondModel = try #require(outcomes["train"]?.outputs["build/model.pkl"])
        #expect(try Self.ask(url, "/health", field: "model_sha256", scratch: scratch) == secondModel.hex,
                "the running API serves the model deploy just installed")
    }

    /// serve.py on a free loopback port against the scratch repository's dev deployment, with
    /// the URL its first line names. The caller stops it (SIGKILL: a test thread may block
    /// SIGTERM, and a spawned child inherits that mask).
    static func startAPI(scratch: ScratchRepository) throws -> (process: Process, url: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: scratch.root + "/.venv/bin/python")
        process.arguments = [scratch.root + "/spec/stages/serve.py", "--env", "dev", "--port", "0", "--repo", scratch.root]
        // Its first line on stdout says where it listens; a file (not a pipe) is read without blocking.
        let banner = scratch.root + "/.plumb-serve-\(UUID().uuidString).out"
        _ = FileManager.default.createFile(atPath: banner, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: banner))
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        for _ in 0..<300 where !line.contains(0x0A) {
            line = (try? Data(contentsOf: URL(fileURLWithPath: banner))) ?? Data()
            if !line.contains(0x0A) { usleep(50_000) }
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "http://") else {
            kill(process.processIdentifier, SIGKILL); process.waitUntilExit()
            throw PlumbError("serve.py did not say where it listens: \(text)")
        }
        return (process, String(text[range.lowerBound...].prefix { !$0.isWhitespace }))
    }

    /// One request to the API through the example's Python: `path` answered, `field` of its JSON.
    static func ask(_ url: String, _ path: String, body: String? = nil, field: String, scratch: ScratchRepository) throws -> String {
        let script = """
        import json, sys, urllib.request
        body = sys.argv[3].encode() if len(sys.argv) > 3 else None
        req = urllib.request.Request(sys.argv[1] + sys.argv[2], data=body, headers={"Content-Type": "application/json"})
        print(json.load(urllib.request.urlopen(req, timeout=10))["\(field)"])
        """
        let answer = try runProcess(scratch.root + "/.venv/bin/python", ["-c", script, url, path] + (body.map { [$0] } ?? []), in: scratch.root)
        guard answer.status == 0 else { throw PlumbError("the API did not answer \(path): \(answer.stderr)") }
        return answer.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts the API, posts one passenger, stops it.
    static func predict(scratch: ScratchRepository, passenger: String) throws -> Double {
        let (process, url) = try startAPI(scratch: scratch)
        defer { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        let answer = try ask(url, "/predict", body: passenger, field: "survival_probability", scratch: scratch)
        guard let p = Double(answer) else { throw PlumbError("the API answered \(answer)") }
        return p
    }
}
