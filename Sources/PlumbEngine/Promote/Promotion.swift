import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// The pure part of a promotion: gate evaluation and the pin it would write. No git, no disk.
package enum Promotion {
    /// Slack for comparing metrics: they are decimals read from JSON, and `0.80 - 0.79 <= 0.01`
    /// must hold although binary floating point says otherwise.
    static let tolerance = 1e-9

    /// Evaluates every condition of every gate, in declaration order.
    ///
    /// - `min`/`max` compare the source's metric with the bound.
    /// - `max_drop` compares it with `baseline`, what the target runs now; a target that runs
    ///   nothing yet (no baseline, or no such metric) passes, since there is nothing to fall from.
    /// - A gate metric the source never recorded fails every condition of that gate: a gate that
    ///   cannot be checked must not let a model through.
    package static func evaluate(gates: [Gate], source: [String: Double], baseline: [String: Double]?) -> [GateResult] {
        var results: [GateResult] = []
        for gate in gates {
            let value = source[gate.metric]
            let before = baseline?[gate.metric]
            func missing(_ condition: String) -> GateResult {
                GateResult(metric: gate.metric, condition: condition, value: nil, baseline: before, passed: false,
                           message: "the source has no metric \(gate.metric); check the stage's metrics file and the gate's name")
            }
            if let min = gate.min {
                let condition = "min \(JSONValue.format(min))"
                if let value {
                    let ok = value >= min - tolerance
                    results.append(GateResult(metric: gate.metric, condition: condition, value: value, baseline: before, passed: ok,
                                              message: ok ? "\(JSONValue.format(value)) ≥ \(JSONValue.format(min))"
                                                          : "\(JSONValue.format(value)) is below the minimum \(JSONValue.format(min))"))
                } else { results.append(missing(condition)) }
            }
            if let max = gate.max {
                let condition = "max \(JSONValue.format(max))"
                if let value {
                    let ok = value <= max + tolerance
                    results.append(GateResult(metric: gate.metric, condition: condition, value: value, baseline: before, passed: ok,
                                              message: ok ? "\(JSONValue.format(value)) ≤ \(JSONValue.format(max))"
                                                          : "\(JSONValue.format(value)) is above the maximum \(JSONValue.format(max))"))
                } else { results.append(missing(condition)) }
            }
            if let maxDrop = gate.maxDrop {
                let condition = "max_drop \(JSONValue.format(maxDrop))"
                if let value {
                    if let before {
                        let drop = before - value
                        let ok = drop <= maxDrop + tolerance
                        results.append(GateResult(
                            metric: gate.metric, condition: condition, value: value, baseline: before, passed: ok,
                            message: ok ? "change \(signed(value - before)) against \(JSONValue.format(before))"
                                        : "falls \(JSONValue.format(rounded(drop))) from \(JSONValue.format(before)), more than \(JSONValue.format(maxDrop))"))
                    } else {
                        results.append(GateResult(metric: gate.metric, condition: condition, value: value, baseline: nil, passed: true,
                                                  message: "no baseline: the target runs no model with this metric yet"))
                    }
                } else { results.append(missing(condition)) }
            }
        }
        return results
    }

    /// Whether every gate passed (true when there are none).
    package static func passed(_ results: [GateResult]) -> Bool { results.allSatisfy(\.passed) }

    /// What a target runs now, for `max_drop`: its recorded metrics, else those of its pin
    /// (promoted but not reconciled yet), else nothing.
    package static func baseline(recorded: RecordedState?, pin: Pin?) -> [String: Double]? {
        if let recorded, !recorded.metrics.isEmpty { return recorded.metrics }
        if let pin {
            var metrics: [String: Double] = [:]
            for stage in pin.stages.values { metrics.merge(stage.metrics) { a, _ in a } }
            return metrics.isEmpty ? nil : metrics
        }
        return nil
    }

    /// The pin a promotion writes: every stage the source recorded, with its fingerprint, outputs
    /// and metrics. A source that is itself pinned recorded its pinned stages too, so they carry
    /// through (prod gets the very artifacts staging got from dev).
    package static func pin(source: String, state: RecordedState, gates: [GateResult], promotedBy: String, at date: Date) -> Pin {
        var stages: [String: PinnedStage] = [:]
        for (name, record) in state.stages where record.status == .succeeded {
            stages[name] = PinnedStage(fingerprint: record.fingerprint, outputs: record.outputs, metrics: record.metrics)
        }
        // Whole seconds: the file stores ISO 8601 without fractions, and a pin must read back equal.
        let when = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        return Pin(source: source, commit: state.lastCommit ?? ObjectID.zero,
                   run: state.lastRun ?? "", stages: stages, gates: gates, promotedBy: promotedBy, promotedAt: when)
    }

    /// Whether two pins deploy the same artifacts (who promoted them and when does not matter).
    static func sameArtifacts(_ a: Pin, _ b: Pin) -> Bool {
        a.source == b.source && a.run == b.run && a.stages == b.stages
    }

    /// The stages a target needs from its pin (those it does not run) that the source cannot give.
    static func missingStages(target: EnvironmentSpec, pipeline: Pipeline, state: RecordedState) -> [String] {
        guard let runs = target.runs.map(Set.init) else { return [] }
        return pipeline.stages.map(\.name).filter { !runs.contains($0) && state.stages[$0]?.status != .succeeded }
    }

    /// `+0.0123`, `-0.0040`.
    package static func signed(_ d: Double) -> String {
        let r = rounded(d)
        return (r >= 0 ? "+" : "") + JSONValue.format(r)
    }

    /// Rounded to 6 decimals, so `0.8 - 0.79` prints `0.01`.
    static func rounded(_ d: Double) -> Double { (d * 1_000_000).rounded() / 1_000_000 }
}

extension Pin {
    /// All metrics carried by the pin, keyed `stage.key`.
    package var metrics: [String: Double] {
        var out: [String: Double] = [:]
        for stage in stages.values { out.merge(stage.metrics) { a, _ in a } }
        return out
    }
}
