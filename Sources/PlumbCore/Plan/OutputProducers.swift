import Foundation

/// Which stage writes which path: the one lookup the planner and the executor share.
package struct OutputProducers: Sendable {
    private var producers: [String: String] = [:]

    /// `outputs`: each stage's declared outputs (outs and metrics files), by stage name.
    package init(_ outputs: [(stage: String, outputs: [String])]) {
        for (stage, paths) in outputs { for path in paths where producers[path] == nil { producers[path] = stage } }
    }

    /// The stage producing `path` (an output itself, or a file inside an output folder) and that output.
    /// Outputs never nest (the validator checks), so at most one matches.
    package func producer(of path: String) -> (stage: String, output: String)? {
        var candidate = Substring(path)
        while true {
            if let stage = producers[String(candidate)] { return (stage, String(candidate)) }
            guard let slash = candidate.lastIndex(of: "/") else { return nil }
            candidate = candidate[..<slash]
        }
    }
}
