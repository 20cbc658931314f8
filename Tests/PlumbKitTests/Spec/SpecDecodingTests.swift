import Foundation
import Testing
@testable import PlumbKit

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
