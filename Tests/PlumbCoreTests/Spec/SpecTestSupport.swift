import Foundation
@testable import PlumbCore

/// A spec source held in memory: file contents by path, and the set of paths git tracks.
/// Lets decoding tests and the mutation test run without touching the disk.
struct MemorySpecSource: SpecSource {
    var files: [String: Data]
    var tracked: Set<String> = []
    var onDisk: Set<String> = []

    init(_ files: [String: String], tracked: Set<String> = [], onDisk: Set<String> = []) {
        self.files = files.mapValues { Data($0.utf8) }
        self.tracked = tracked
        self.onDisk = onDisk
    }

    init(data: [String: Data], tracked: Set<String> = []) {
        files = data
        self.tracked = tracked
    }

    var label: String { "memory" }
    func read(_ path: String) throws -> Data? { files[path] }
    func files(in directory: String) throws -> [String] {
        files.keys.filter { $0.hasPrefix(directory + "/") }
            .map { String($0.dropFirst(directory.count + 1)) }
            .filter { !$0.contains("/") }
            .sorted()
    }
    func isTracked(_ path: String) -> Bool {
        files[path] != nil || tracked.contains(path) || tracked.contains { $0.hasPrefix(path + "/") }
    }
    func existsOnDisk(_ path: String) -> Bool { onDisk.contains(path) }
}

/// A realistic four-stage pipeline, as DESIGN.md sketches it.
enum SampleSpec {
    static let pipeline = """
    version: 1
    stages:
      preprocess:
        cmd: python3 spec/stages/preprocess.py
        deps: [spec/stages/preprocess.py, spec/data/titanic.csv]
        params: [split]            # a key or a subtree of params.yaml
        outs: [build/train.csv, build/test.csv]
      train:
        cmd: python3 spec/stages/train.py
        deps:
          - spec/stages/train.py
          - build/train.csv
        params: [train]
        outs: [build/model.pkl]
        metrics: [build/train_metrics.json]
        timeout: 10m
        retries: 2
        env: {OMP_NUM_THREADS: 4, MODE: fast}
      evaluate:
        cmd: python3 spec/stages/evaluate.py
        deps: [spec/stages/evaluate.py, build/model.pkl, build/test.csv]
        metrics: build/metrics.json
      deploy:
        cmd: python3 spec/stages/deploy.py
        deps: [spec/stages/deploy.py, build/model.pkl]
        check: python3 spec/stages/deploy.py --check   # drift probe, exit 0 = in sync
        secrets: DEPLOY_TOKEN
        desc: copies the model to the deployment folder

    """

    static let params = """
    split:
      seed: 42
      test_fraction: 0.2
    train:
      max_depth: 4
      n_estimators: 100
      criterion: "gini"

    """

    static let dev = """
    runs: [preprocess, train, evaluate, deploy]
    env: {DEPLOY_TARGET: deployments/dev}

    """

    static let staging = """
    from: dev
    runs: [deploy]
    params: {train: {max_depth: 6}}
    env: {DEPLOY_TARGET: deployments/staging}
    gates:
      - metric: evaluate.accuracy
        min: 0.78
      - metric: evaluate.accuracy
        max_drop: 0.01

    """

    static let tracked: Set<String> = [
        "spec/stages/preprocess.py", "spec/stages/train.py", "spec/stages/evaluate.py",
        "spec/stages/deploy.py", "spec/data/titanic.csv",
    ]

    static var files: [String: String] {
        [SpecPaths.pipeline: pipeline, SpecPaths.params: params,
         "environments/dev.yaml": dev, "environments/staging.yaml": staging]
    }

    static var source: MemorySpecSource { MemorySpecSource(files, tracked: tracked) }
}
