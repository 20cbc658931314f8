import Foundation

/// Where a stage's command runs: a process on this machine, or a Slurm batch job.
package enum ExecutorKind: String, Sendable, Hashable, Codable, CaseIterable {
    case local
    case slurm
}

/// What a stage asks of the machine that runs it (`resources:` of a stage or an environment),
/// mapped to `sbatch` options by the Slurm runner; the local runner ignores them.
///
/// Only what can change a result enters the fingerprint: the GPUs (their type and count decide
/// the kernels and the reduction order of training). Cores, memory, the time limit, partition,
/// account and extra flags decide where and whether a job runs, not what it computes.
package struct StageResources: Sendable, Hashable, Codable {
    package var cpus: Int?
    /// As Slurm writes it: a number of megabytes, or with a unit (`512M`, `16G`, `1T`).
    package var memory: String?
    package var gpus: Int?
    /// `a100`, `h100`: the GRES type (`--gpus=a100:2`).
    package var gpuType: String?
    /// The job's time limit in seconds; the stage's `timeout` when this is not set.
    package var time: Double?
    package var partition: String?
    package var account: String?
    /// More `sbatch` options, passed as they are (`--constraint=ib`, `--qos=high`).
    package var sbatch: [String]

    package init(cpus: Int? = nil, memory: String? = nil, gpus: Int? = nil, gpuType: String? = nil, time: Double? = nil,
                 partition: String? = nil, account: String? = nil, sbatch: [String] = []) {
        self.cpus = cpus; self.memory = memory; self.gpus = gpus; self.gpuType = gpuType; self.time = time
        self.partition = partition; self.account = account; self.sbatch = sbatch
    }

    /// These settings, each unset one taken from `defaults` (a stage's over its environment's).
    package func over(_ defaults: StageResources?) -> StageResources {
        guard let d = defaults else { return self }
        return StageResources(cpus: cpus ?? d.cpus, memory: memory ?? d.memory, gpus: gpus ?? d.gpus, gpuType: gpuType ?? d.gpuType,
                              time: time ?? d.time, partition: partition ?? d.partition, account: account ?? d.account,
                              sbatch: d.sbatch + sbatch)
    }

    /// The part of the fingerprint these settings contribute: empty unless GPUs are asked for.
    package var fingerprintPart: [String: String] {
        var part: [String: String] = [:]
        if let gpus { part["gpus"] = String(gpus) }
        if let gpuType { part["gpuType"] = gpuType }
        return part
    }

    /// `16G`, `512M`, `1024` (megabytes), `1.5T`: what Slurm's `--mem` takes, or nil.
    package static func problem(withMemory text: String) -> String? {
        let pattern = #"^[0-9]+(\.[0-9]+)?[KMGT]?$"#
        return text.range(of: pattern, options: .regularExpression) == nil
            ? "is not a size Slurm takes: a number of megabytes, or with a unit K, M, G or T (`16G`)" : nil
    }
}

/// `resources:` as decoded (types and keys already checked by the schema), with the one check the
/// schema cannot make: the memory size.
enum ResourcesDecoder {
    static func decode(_ object: DecodedObject?, context: String, diagnostics: inout [Diagnostic]) -> StageResources? {
        guard let object else { return nil }
        let memory = object.string("memory")
        if let memory, let problem = StageResources.problem(withMemory: memory) {
            diagnostics.append(Diagnostic(at: object.location(of: "memory"), "'memory' in \(context) \(problem)", hint: "write e.g. 16G, 512M or 2048"))
        }
        if object.string("gpu_type") != nil, object.integer("gpus") == 0 {
            diagnostics.append(Diagnostic(at: object.location(of: "gpu_type"), "\(context) names a gpu_type but asks for 0 gpus",
                                          hint: "set gpus to how many it needs, or remove gpu_type"))
        }
        return StageResources(cpus: object.integer("cpus"), memory: memory, gpus: object.integer("gpus"), gpuType: object.string("gpu_type"),
                              time: object.number("time"), partition: object.string("partition"), account: object.string("account"),
                              sbatch: object.strings("sbatch").map(\.value))
    }
}
