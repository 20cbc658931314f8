import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures

@Suite struct SpecDecodingTests {
    @Test func decodesTheSamplePipeline() throws {
        let result = SpecLoader.load(from: SampleSpec.source)
        #expect(result.diagnostics.map(\.description) == [])
        let spec = try #require(result.spec)
        #expect(spec.pipeline.stages.map(\.name) == ["preprocess", "train", "evaluate", "deploy"])
        let train = try #require(spec.pipeline.stage("train"))
        #expect(train.timeout == 600)
        #expect(train.retries == 2)
        #expect(train.env == ["OMP_NUM_THREADS": "4", "MODE": "fast"])
        #expect(train.metrics == ["build/train_metrics.json"])
        #expect(spec.pipeline.stage("evaluate")?.metrics == ["build/metrics.json"])
        #expect(spec.pipeline.stage("deploy")?.secrets == ["DEPLOY_TOKEN"])
        #expect(spec.pipeline.stage("deploy")?.check == "python3 spec/stages/deploy.py --check")
        #expect(spec.params.value(at: "train.max_depth") == .int(4))
        #expect(spec.params.value(at: "split.test_fraction") == .double(0.2))
        #expect(spec.environments.keys.sorted() == ["dev", "staging"])
        let staging = try #require(spec.environments["staging"])
        #expect(staging.from == "dev")
        #expect(staging.runs == ["deploy"])
        #expect(staging.gates.map(\.metric) == ["evaluate.accuracy", "evaluate.accuracy"])
        #expect(staging.gates[0].min == 0.78 && staging.gates[1].maxDrop == 0.01)
        #expect(spec.params.merging(staging.params).value(at: "train.max_depth") == .int(6))
        #expect(spec.params.merging(staging.params).value(at: "train.n_estimators") == .int(100))
    }
}

/// Table-driven cases for values that decode by rule: durations, params scalars, overrides.
@Suite struct SpecValueTests {
    struct DurationCase: Sendable, CustomTestStringConvertible {
        var yaml: String
        var seconds: Double?
        var testDescription: String { yaml }
    }

    static let durations: [DurationCase] = [
        .init(yaml: "90", seconds: 90),
        .init(yaml: "2.5", seconds: 2.5),
        .init(yaml: "90s", seconds: 90),
        .init(yaml: "10m", seconds: 600),
        .init(yaml: "1h", seconds: 3600),
        .init(yaml: "1h30m", seconds: 5400),
        .init(yaml: "500ms", seconds: 0.5),
        .init(yaml: "1d", seconds: 86400),
        .init(yaml: "\"45s\"", seconds: 45),
        .init(yaml: "1.5h", seconds: 5400),
        .init(yaml: "0", seconds: nil),
        .init(yaml: "-1", seconds: nil),
        .init(yaml: "10 minutes", seconds: nil),
        .init(yaml: "10M", seconds: nil),
        .init(yaml: "s", seconds: nil),
        .init(yaml: "true", seconds: nil),
        .init(yaml: "[1]", seconds: nil),
    ]

    @Test(arguments: durations)
    func timeout(_ c: DurationCase) {
        let yaml = "version: 1\nstages:\n  a:\n    cmd: x\n    timeout: \(c.yaml)\n"
        let result = SpecLoader.load(from: MemorySpecSource([SpecPaths.pipeline: yaml]))
        #expect(result.spec?.pipeline.stages.first?.timeout == c.seconds)
        #expect(result.diagnostics.hasErrors == (c.seconds == nil))
    }

    struct ScalarCase: Sendable, CustomTestStringConvertible {
        var yaml: String
        var value: JSONValue?
        var testDescription: String { yaml }
    }

    /// YAML 1.2 core schema: plain scalars are typed, quoted ones stay strings, yes/no stay strings.
    static let scalars: [ScalarCase] = [
        .init(yaml: "true", value: .bool(true)),
        .init(yaml: "False", value: .bool(false)),
        .init(yaml: "\"true\"", value: .string("true")),
        .init(yaml: "yes", value: .string("yes")),
        .init(yaml: "no", value: .string("no")),
        .init(yaml: "42", value: .int(42)),
        .init(yaml: "-7", value: .int(-7)),
        .init(yaml: "+3", value: .int(3)),
        .init(yaml: "0x1F", value: .int(31)),
        .init(yaml: "0o17", value: .int(15)),
        .init(yaml: "'42'", value: .string("42")),
        .init(yaml: "!!str 42", value: .string("42")),
        .init(yaml: "0.25", value: .double(0.25)),
        .init(yaml: ".5", value: .double(0.5)),
        .init(yaml: "1e3", value: .double(1000)),
        .init(yaml: "1.5E-2", value: .double(0.015)),
        .init(yaml: "99999999999999999999", value: .double(1e20)),
        .init(yaml: "~", value: .null),
        .init(yaml: "null", value: .null),
        .init(yaml: "", value: .null),
        .init(yaml: "nan", value: .string("nan")),
        .init(yaml: "inf", value: .string("inf")),
        .init(yaml: "1_000", value: .string("1_000")),
        .init(yaml: "0x", value: .string("0x")),
        .init(yaml: "1.2.3", value: .string("1.2.3")),
        .init(yaml: "gini", value: .string("gini")),
        .init(yaml: "[1, two, 3.0]", value: .array([.int(1), .string("two"), .double(3)])),
        .init(yaml: "{a: {b: null}}", value: .object(["a": .object(["b": .null])])),
        .init(yaml: ".inf", value: nil),
        .init(yaml: ".nan", value: nil),
    ]

    @Test(arguments: scalars)
    func paramsScalar(_ c: ScalarCase) {
        let result = SpecLoader.load(from: MemorySpecSource([
            SpecPaths.pipeline: "version: 1\nstages:\n  a: {cmd: x}\n",
            SpecPaths.params: "v: \(c.yaml)\n",
        ]))
        #expect(result.spec?.params.value(at: "v") == c.value)
        #expect(result.diagnostics.hasErrors == (c.value == nil))
    }

    struct OverrideCase: Sendable, CustomTestStringConvertible {
        var name: String
        var overrides: String
        var key: String
        var effective: JSONValue?
        var testDescription: String { name }
    }

    static let overrides: [OverrideCase] = [
        .init(name: "leaf replaced", overrides: "{train: {max_depth: 6}}", key: "train.max_depth", effective: .int(6)),
        .init(name: "sibling kept", overrides: "{train: {max_depth: 6}}", key: "train.lr", effective: .double(0.1)),
        .init(name: "subtree kept elsewhere", overrides: "{train: {max_depth: 6}}", key: "split.seed", effective: .int(1)),
        .init(name: "whole subtree replaced", overrides: "{split: {seed: 9}}", key: "split", effective: .object(["seed": .int(9)])),
        .init(name: "type may change", overrides: "{train: {lr: auto}}", key: "train.lr", effective: .string("auto")),
        .init(name: "unknown key rejected", overrides: "{train: {max_dpth: 6}}", key: "train.max_depth", effective: nil),
        .init(name: "empty overrides", overrides: "{}", key: "train.max_depth", effective: .int(4)),
        .init(name: "null params means none", overrides: "", key: "train.max_depth", effective: .int(4)),
    ]

    @Test(arguments: overrides)
    func environmentOverride(_ c: OverrideCase) throws {
        let result = SpecLoader.load(from: MemorySpecSource([
            SpecPaths.pipeline: "version: 1\nstages:\n  a: {cmd: x, params: [train]}\n",
            SpecPaths.params: "train: {max_depth: 4, lr: 0.1}\nsplit: {seed: 1}\n",
            "environments/prod.yaml": "params: \(c.overrides)\n",
        ]))
        guard let effective = c.effective else {
            #expect(result.spec == nil)
            return
        }
        let spec = try #require(result.spec, "\(result.diagnostics)")
        let prod = try #require(spec.environments["prod"])
        #expect(spec.params.merging(prod.params).value(at: c.key) == effective)
    }

    struct GraphCase: Sendable, CustomTestStringConvertible {
        var name: String
        var stages: String
        var valid: Bool
        var testDescription: String { name }
    }

    /// Matching deps to outputs: exact paths, normalised spellings, files inside folder outputs.
    static let graphs: [GraphCase] = [
        .init(name: "exact path", stages: "a: {cmd: x, outs: [build/x]}\n  b: {cmd: y, deps: [build/x]}", valid: true),
        .init(name: "normalised spelling", stages: "a: {cmd: x, outs: [build/x]}\n  b: {cmd: y, deps: [./build//x]}", valid: true),
        .init(name: "file inside folder output", stages: "a: {cmd: x, outs: [build/data]}\n  b: {cmd: y, deps: [build/data/part-0.csv]}", valid: true),
        .init(name: "folder dep over file outputs", stages: "a: {cmd: x, outs: [build/data/a.csv]}\n  b: {cmd: y, deps: [build/data]}", valid: true),
        .init(name: "metrics are outputs", stages: "a: {cmd: x, metrics: [build/m.json]}\n  b: {cmd: y, deps: [build/m.json]}", valid: true),
        .init(name: "prefix that is no folder", stages: "a: {cmd: x, outs: [build/data]}\n  b: {cmd: y, deps: [build/data2]}", valid: false),
        .init(name: "after orders without data", stages: "a: {cmd: x}\n  b: {cmd: y, after: a}", valid: true),
        .init(name: "two-stage cycle", stages: "a: {cmd: x, outs: [o/a], deps: [o/b]}\n  b: {cmd: y, outs: [o/b], deps: [o/a]}", valid: false),
        .init(name: "tracked dep", stages: "a: {cmd: x, deps: [spec/tracked.py]}", valid: true),
        .init(name: "dep on disk only", stages: "a: {cmd: x, deps: [data/big.parquet]}", valid: true),
    ]

    @Test(arguments: graphs)
    func graph(_ c: GraphCase) {
        let source = MemorySpecSource([SpecPaths.pipeline: "version: 1\nstages:\n  \(c.stages)\n"],
                                      tracked: ["spec/tracked.py"], onDisk: ["data/big.parquet"])
        let result = SpecLoader.load(from: source)
        #expect((result.spec != nil) == c.valid, "\(result.diagnostics)")
    }

    @Test func stagesKeepFileOrderAndNormalisedPaths() throws {
        let result = SpecLoader.load(from: MemorySpecSource([SpecPaths.pipeline: """
        version: 1
        stages:
          zeta: {cmd: z, outs: [./build/z/]}
          alpha: {cmd: a, deps: [build/z], outs: build/a}
        """]))
        let spec = try #require(result.spec)
        #expect(spec.pipeline.stages.map(\.name) == ["zeta", "alpha"])
        #expect(spec.pipeline.stages[0].outs == ["build/z"])
        #expect(spec.pipeline.stages[1].deps == ["build/z"])
        #expect(spec.environments.keys.sorted() == [EnvironmentSpec.implicitName])
    }

    @Test func absentParamsFileIsAnEmptyObject() throws {
        let spec = try #require(SpecLoader.load(from: MemorySpecSource([SpecPaths.pipeline: "version: 1\nstages: {a: {cmd: x}}\n"])).spec)
        #expect(spec.params == .object([:]))
    }

    @Test func warningsDoNotInvalidate() throws {
        let result = SpecLoader.load(from: MemorySpecSource([
            SpecPaths.pipeline: "version: 1\nstages: {a: {cmd: x, deps: [spec/a, spec/a]}}\n",
        ], tracked: ["spec/a"]))
        #expect(result.spec != nil)
        #expect(result.diagnostics.map(\.severity) == [.warning])
    }

    struct CacheURLCase: Sendable, CustomTestStringConvertible {
        var url: String
        /// A word of the diagnostic, or nil when the URL is accepted.
        var problem: String?
        var testDescription: String { url }
    }

    static let cacheURLs: [CacheURLCase] = [
        .init(url: "https://cache.example.com/plumb", problem: nil),
        .init(url: "http://127.0.0.1:8080", problem: nil),
        .init(url: "file:///mnt/team/plumb-cache", problem: nil),
        .init(url: "https://ci:hunter2@cache.example.com/", problem: "credentials"),
        .init(url: "s3://bucket/plumb", problem: "scheme"),
        .init(url: "https:///plumb", problem: "host"),
        .init(url: "https://cache.example.com/?key=1", problem: "query"),
        .init(url: "file://nas/share", problem: "host"),
    ]

    /// `cache: {url:}` is checked where it is written, and a URL with a password is refused
    /// without printing the password.
    @Test(arguments: cacheURLs)
    func cacheURL(_ c: CacheURLCase) throws {
        let yaml = "version: 1\ncache:\n  url: \"\(c.url)\"\nstages:\n  a:\n    cmd: x\n"
        let result = SpecLoader.load(from: MemorySpecSource([SpecPaths.pipeline: yaml]))
        if let problem = c.problem {
            let diagnostic = try #require(result.diagnostics.first { $0.severity == .error })
            #expect(diagnostic.message.contains(problem), "\(diagnostic.message)")
            #expect(!diagnostic.message.contains("hunter2"))
            #expect(diagnostic.location?.line == 3 && diagnostic.location?.column == 8, "\(String(describing: diagnostic.location))")
        } else {
            #expect(!result.diagnostics.hasErrors, "\(result.diagnostics)")
            #expect(result.spec?.pipeline.cache?.url == c.url)
        }
    }

    /// `executor:` and `resources:`: a typo gets a did-you-mean, a size Slurm cannot read is
    /// refused where it is written, and an environment's resources lie under a stage's own.
    @Test func executorAndResourcesAreCheckedWhereTheyAreWritten() throws {
        let typo = SpecLoader.load(from: MemorySpecSource([SpecPaths.pipeline: "version: 1\nstages:\n  a:\n    cmd: x\n    executor: slrum\n"]))
        let error = try #require(typo.diagnostics.first { $0.severity == .error })
        #expect(error.message.contains("'slrum'") && error.message.contains("one of local, slurm"), "\(error.message)")
        #expect(error.hint == "did you mean 'slurm'?")
        #expect(error.location?.line == 5 && error.location?.column == 15)

        let memory = SpecLoader.load(from: MemorySpecSource([SpecPaths.pipeline: "version: 1\nstages:\n  a:\n    cmd: x\n    resources: {memory: lots}\n"]))
        #expect(memory.diagnostics.contains { $0.message.contains("'memory'") && $0.location?.line == 5 }, "\(memory.diagnostics)")

        let layered = SpecLoader.load(from: MemorySpecSource([
            SpecPaths.pipeline: "version: 1\nstages:\n  a:\n    cmd: x\n    resources: {cpus: 8, gpus: 1}\n",
            "environments/gpu.yaml": "executor: slurm\nresources: {cpus: 2, memory: 16G, partition: gpu, gpu_type: a100}\n",
        ]))
        #expect(!layered.diagnostics.hasErrors, "\(layered.diagnostics)")
        let spec = try #require(layered.spec)
        let stage = try #require(spec.pipeline.stages.first)
        let environment = try #require(spec.environments["gpu"])
        #expect(environment.executor == .slurm)
        let resolved = try #require(stage.resources).over(environment.resources)
        #expect(resolved == StageResources(cpus: 8, memory: "16G", gpus: 1, gpuType: "a100", partition: "gpu"))
        #expect(resolved.fingerprintPart == ["gpus": "1", "gpuType": "a100"])
    }
}
