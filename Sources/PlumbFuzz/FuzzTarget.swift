import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine
import PlumbCLI

/// What one fuzzing run feeds its inputs to: the spec loader (for each spec file) or one decoder of
/// something Plumb reads from git or from `.plumb/`. Chosen by `PLUMB_FUZZ_DECODER` (libFuzzer owns
/// the command line), so every decoder keeps its own corpus of readable seed files.
///
/// Each input must come back as a value or a thrown error, never a trap: what decodes is also
/// planned, rendered and re-encoded, so display code that trusts a decoded value is fuzzed as well.
enum FuzzTarget: String, CaseIterable {
    case pipeline, params, environment, state, run, pin, manifest, fingerprint, statCache = "stat-cache", metrics, plot

    /// The target named by `PLUMB_FUZZ_DECODER`.
    static var selected: FuzzTarget? {
        ProcessInfo.processInfo.environment["PLUMB_FUZZ_DECODER"].flatMap(FuzzTarget.init(rawValue:))
    }

    static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    func run(_ data: Data) {
        switch self {
        case .pipeline: loadSpec(replacing: SpecPaths.pipeline, with: data)
        case .params: loadSpec(replacing: SpecPaths.params, with: data)
        case .environment: loadSpec(replacing: SpecPaths.environment("staging"), with: data)
        case .state:
            guard let state = try? RecordedState.decode(data, path: "history/dev/state.json") else { return }
            _ = state.metrics
            reencode(state)
            plan(recorded: state, pin: nil)
        case .run:
            guard let record = try? RunRecord.decode(data, path: "history/dev/runs/x.json") else { return }
            // What `plumb show` prints of a record.
            _ = formatDuration(record.finishedAt.timeIntervalSince(record.startedAt))
            for outcome in record.stages.values { _ = outcome.duration.map(formatDuration) }
            for value in record.metrics.values { _ = JSONValue.format(value) }
            _ = Escape.terminal(record.summary)
            // What `plumb plots` and the report draw of its plots.
            for (name, outcome) in record.stages {
                for (path, plot) in outcome.plots ?? [:] { draw(plot, path: path, stage: name) }
            }
            reencode(record)
        case .pin:
            guard let pin = try? Pin.decode(data, path: "environments/prod.pin.json") else { return }
            reencode(pin)
            plan(recorded: nil, pin: pin)
        case .manifest:
            guard let manifest = try? DirectoryManifest(canonicalEncoding: data) else { return }
            // A decoded manifest re-encodes to bytes that decode to the same manifest.
            let again = try? DirectoryManifest(canonicalEncoding: manifest.canonicalEncoding)
            if again != manifest { fatalError("directory manifest does not round-trip") }
            _ = manifest.digest
        case .fingerprint:
            guard let outcome = try? RecordJSON.decode(CachedOutcome.self, from: data) else { return }
            reencode(outcome)
        case .statCache:
            // The file ends with a SHA-256 of what precedes it; the fuzzer mutates the body and the
            // checksum is appended here, or no mutation would ever get past it.
            _ = StatCache.decodedEntryCount(data + bytes(ofHex: SHA256Hasher.digest(data).hex))
        case .metrics:
            // A stage's metrics file, read after it ran.
            guard let reading = try? MetricsFile.read(data, prefix: "evaluate") else { return }
            for number in reading.metrics.values { _ = JSONValue.format(number) }
            _ = reading.ignoredSummary
        case .plot:
            // A stage's plot file, in each format it may be written in, then drawn.
            for format in PlotFormat.allCases {
                guard let reading = try? PlotFile.read(data, format: format) else { continue }
                // What a run records of a file must pass the check a record gets when it is read back.
                if let problem = reading.data.problem() { fatalError("a \(format) plot file was read into numbers no record may hold: \(problem)") }
                draw(reading.data, path: "build/plot.\(format.rawValue)", stage: "train")
            }
        }
    }

    /// Draws recorded plot numbers as `plumb plots` does: the default series, and every column against the first.
    private func draw(_ plot: PlotData, path: String, stage: String) {
        let all = Plot(path: path, x: plot.columns.first?.name, y: plot.columns.dropFirst().map(\.name))
        for declared in [Plot(path: path), all] {
            let chart = plot.chart(for: declared, stage: stage, source: "dev")
            _ = SVGPlot(chart).svg(standalone: true)
            reencode(chart)
        }
    }

    /// Loads the baseline spec with one file replaced by the input, then plans and renders it.
    private func loadSpec(replacing path: String, with data: Data) {
        var files = Baseline.files
        files[path] = data
        let result = SpecLoader.load(from: MemorySource(files: files))
        _ = result.diagnostics.map(\.description)
        guard let spec = result.spec else { return }
        for environment in spec.environments.values {
            let input = PlanningInput(spec: spec, environment: environment, commit: Baseline.commit, recorded: nil,
                                      sourceDigests: Baseline.sourceDigests)
            render(Planner.plan(input, cache: .empty))
        }
    }

    /// Plans the baseline spec against a decoded record.
    private func plan(recorded: RecordedState?, pin: Pin?) {
        guard let spec = SpecLoader.load(from: MemorySource(files: Baseline.files)).spec else {
            fatalError("the baseline spec of the fuzz target does not load")
        }
        for name in ["dev", "prod"] {
            guard let environment = spec.environments[name] else { continue }
            let input = PlanningInput(spec: spec, environment: environment, commit: Baseline.commit, branch: "main",
                                      recorded: recorded, pin: name == "prod" ? pin : nil, sourceDigests: Baseline.sourceDigests)
            render(Planner.plan(input, cache: .empty))
        }
    }

    private func render(_ plan: Plan) {
        _ = PlanRenderer(terminal: Terminal(noColour: true, environment: ["NO_COLOR": "1"])).render(plan)
        _ = try? RecordJSON.encode(plan)
    }

    private func bytes(ofHex hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).map { $0 <= 57 ? $0 - 48 : $0 - 87 }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    private func reencode<T: Codable>(_ value: T) {
        _ = try? RecordJSON.encode(value)
    }
}

/// A spec held in memory; nothing is on disk, so validation never touches the machine.
struct MemorySource: SpecSource {
    var files: [String: Data]
    var label: String { "the fuzz input" }
    func read(_ path: String) throws -> Data? { files[path] }
    func files(in directory: String) throws -> [String] {
        files.keys.filter { $0.hasPrefix(directory + "/") }.map { String($0.dropFirst(directory.count + 1)) }
            .filter { !$0.contains("/") }.sorted()
    }
    func isTracked(_ path: String) -> Bool { files[path] != nil || path.hasPrefix("spec/") }
    func existsOnDisk(_ path: String) -> Bool { false }
}

/// A small valid spec that exercises every kind of key, for the inputs to replace one file of.
enum Baseline {
    static let commit = ObjectID(hex: String(repeating: "ab", count: 20))!

    static let sourceDigests = [
        "spec/stages/prepare.py": "git:" + String(repeating: "1", count: 40),
        "spec/stages/train.py": "git:" + String(repeating: "2", count: 40),
        "spec/data/raw.csv": "sha256:" + String(repeating: "3", count: 64),
    ]

    static let files: [String: Data] = [
        SpecPaths.pipeline: """
        version: 1
        stages:
          prepare:
            cmd: python3 spec/stages/prepare.py
            deps: [spec/stages/prepare.py, spec/data/raw.csv]
            params: [split]
            outs: [build/train.csv, build/test.csv]
          train:
            cmd: python3 spec/stages/train.py --depth $${DEPTH}
            deps: [spec/stages/train.py, build/train.csv]
            params: [train.max_depth]
            env: {DEPTH: 4}
            outs: [build/model]
            metrics: [build/metrics.json]
            plots:
              - build/loss.csv: {x: step, y: [loss, val_loss], title: Loss}
              - build/model/curve.tsv
            timeout: 1h30m
            retries: 2
          deploy:
            cmd: cp -r build/model "$DEPLOY_TARGET"
            deps: [build/model]
            after: [train]
            secrets: [DEPLOY_TOKEN]
            check: test -d "$DEPLOY_TARGET"

        """,
        SpecPaths.params: """
        split: {seed: 42, test_fraction: 0.2}
        train:
          max_depth: 4
          criterion: "gini"

        """,
        SpecPaths.environment("dev"): """
        env: {DEPLOY_TARGET: deployments/dev}

        """,
        SpecPaths.environment("staging"): """
        from: dev
        runs: [deploy]
        params: {train: {max_depth: 6}}
        env: {DEPLOY_TARGET: deployments/staging}
        gates:
          - metric: train.accuracy
            min: 0.78
          - metric: train.accuracy
            max_drop: 0.01

        """,
        SpecPaths.environment("prod"): """
        from: staging
        runs: [deploy]

        """,
    ].mapValues { Data($0.utf8) }
}
