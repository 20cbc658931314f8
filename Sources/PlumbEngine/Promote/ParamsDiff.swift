import Foundation
import PlumbCore
import PlumbGit

/// The params of one environment at two commits, side by side: `plumb params diff A B`.
package struct ParamsDiff: Sendable, Codable, Hashable {
    /// One param (a dotted key path to a scalar or a list); a side without it has no value.
    package struct Row: Sendable, Codable, Hashable {
        package var param: String
        package var a: JSONValue?
        package var b: JSONValue?
        package var changed: Bool
    }
    package var environment: String
    package var a: String
    package var b: String
    package var rows: [Row]

    /// Pure: every param of either side, sorted by key; only the changed ones unless `all`.
    package init(environment: String, a: String, _ left: JSONValue, b: String, _ right: JSONValue, all: Bool) {
        self.environment = environment
        self.a = a
        self.b = b
        let x = Self.leaves(left), y = Self.leaves(right)
        rows = Set(x.keys).union(y.keys).sorted().compactMap { key in
            let changed = x[key] != y[key]
            return changed || all ? Row(param: key, a: x[key], b: y[key], changed: changed) : nil
        }
    }

    /// `{"train": {"lr": 0.1}}` → `["train.lr": 0.1]`: objects are walked, lists and scalars are values
    /// (a list is one param, as a stage names it).
    package static func leaves(_ value: JSONValue, prefix: String = "") -> [String: JSONValue] {
        guard case let .object(o) = value else { return prefix.isEmpty ? [:] : [prefix: value] }
        var out: [String: JSONValue] = [:]
        for (k, v) in o { out.merge(leaves(v, prefix: prefix.isEmpty ? k : "\(prefix).\(k)")) { a, _ in a } }
        return out
    }

    /// The params stages of `environment` get at `commit`: spec/params.yaml with the environment's
    /// overrides laid over it, as the planner computes them. An environment the commit does not have
    /// (it came later) gets spec/params.yaml alone.
    package static func effectiveParams(at commit: ObjectID, environment: String, in repository: Repository) throws -> JSONValue {
        let loaded = SpecLoader.load(from: CommitSpecSource(repository: repository, commit: commit))
        guard let spec = loaded.spec else {
            throw DiagnosticsError(loaded.diagnostics.isEmpty ? [Diagnostic(at: nil, "the spec at \(commit.short) is not valid")] : loaded.diagnostics)
        }
        return spec.params.merging(spec.environments[environment]?.params ?? .object([:]))
    }
}
