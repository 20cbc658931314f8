import Foundation
import PlumbCore

/// A spec source held in memory: file contents by path, and the set of paths git tracks.
/// Lets decoding tests and the mutation test run without touching the disk.
package struct MemorySpecSource: SpecSource {
    package var files: [String: Data]
    package var tracked: Set<String> = []
    package var onDisk: Set<String> = []

    package init(_ files: [String: String], tracked: Set<String> = [], onDisk: Set<String> = []) {
        self.files = files.mapValues { Data($0.utf8) }
        self.tracked = tracked
        self.onDisk = onDisk
    }

    package init(data: [String: Data], tracked: Set<String> = []) {
        files = data
        self.tracked = tracked
    }

    package var label: String { "memory" }
    package func read(_ path: String) throws -> Data? { files[path] }
    package func files(in directory: String) throws -> [String] {
        files.keys.filter { $0.hasPrefix(directory + "/") }
            .map { String($0.dropFirst(directory.count + 1)) }
            .filter { !$0.contains("/") }
            .sorted()
    }
    package func isTracked(_ path: String) -> Bool {
        files[path] != nil || tracked.contains(path) || tracked.contains { $0.hasPrefix(path + "/") }
    }
    package func existsOnDisk(_ path: String) -> Bool { onDisk.contains(path) }
}

/// A realistic four-stage pipeline, as DESIGN.md sketches it.
package enum SampleSpec {
    package static let pipeline = """
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

    package static let params = """
    split:
      seed: 42
      test_fraction: 0.2
    train:
      max_depth: 4
      n_estimators: 100
      criterion: "gini"

    """

    package static let dev = """
    runs: [preprocess, train, evaluate, deploy]
    env: {DEPLOY_TARGET: deployments/dev}

    """

    package static let staging = """
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

    package static let tracked: Set<String> = [
        "spec/stages/preprocess.py", "spec/stages/train.py", "spec/stages/evaluate.py",
        "spec/stages/deploy.py", "spec/data/titanic.csv",
    ]

    package static var files: [String: String] {
        [SpecPaths.pipeline: pipeline, SpecPaths.params: params,
         "environments/dev.yaml": dev, "environments/staging.yaml": staging]
    }

    package static var source: MemorySpecSource { MemorySpecSource(files, tracked: tracked) }
}
