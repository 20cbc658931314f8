import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// The objects that recorded state refers to, read from branch tips: the outputs of every
/// environment's state and pin, and the outputs and logs of its run records. What `plumb gc`
/// keeps, and what `plumb push` and `plumb pull` move.
package struct RecordedReferences: Sendable, Equatable {
    /// Outputs and logs, files or folders (a folder's files are reached through its manifest).
    package var contents: Set<Digest> = []
    /// Fingerprints of the stages that succeeded in the states and pins read: the results an
    /// action cache remembers.
    package var fingerprints: Set<Digest> = []
    /// Runs asked for by name that no branch read records.
    package var unknownRuns: [String] = []

    /// Which records to read.
    package struct Scope: Sendable {
        package enum Branches: Sendable { case head, local, localAndRemote }
        package enum Runs: Sendable, Equatable {
            /// Only the states and pins (no run records).
            case none
            /// The last run of each environment read: its logs.
            case latest
            /// Every run record under history/.
            case all
            /// These runs (ids, or unique prefixes of them), wherever they are recorded.
            case named([String])
        }
        package var branches: Branches
        /// nil: every environment with a record or a pin.
        package var environments: Set<String>?
        package var runs: Runs

        package init(branches: Branches, environments: Set<String>? = nil, runs: Runs) {
            self.branches = branches
            self.environments = environments
            self.runs = runs
        }
    }

    package init() {}

    /// Adds what a state names: its outputs, and the fingerprints of the stages that succeeded.
    package mutating func add(_ state: RecordedState) {
        for stage in state.stages.values {
            contents.formUnion(stage.outputs.values)
            if stage.status == .succeeded { fingerprints.insert(stage.fingerprint) }
        }
    }

    /// Adds what a run record names: outputs, logs, and the fingerprints of the stages that succeeded.
    package mutating func add(_ run: RunRecord) {
        for stage in run.stages.values {
            contents.formUnion(stage.outputs.values)
            if let log = stage.log { contents.insert(log) }
            if stage.status == .succeeded, let fingerprint = stage.fingerprint { fingerprints.insert(fingerprint) }
        }
    }

    /// Reads the records in `scope`. Records are validated as they are decoded, like every record
    /// Plumb reads; a branch whose record is malformed fails the whole read (`plumb gc` must not
    /// remove what a record it could not read refers to).
    package static func read(_ repo: Repository, scope: Scope) throws -> RecordedReferences {
        let tips: [ObjectID]
        switch scope.branches {
        case .head: tips = try repo.head().commit.map { [$0] } ?? []
        case .local: tips = try repo.localBranches().map(\.commit)
        case .localAndRemote: tips = Array(Set(try repo.allBranches().map(\.commit)))
        }
        var references = RecordedReferences()
        var runsFound = Set<String>()
        // Runs asked for by name are all that is read; otherwise the states and pins too.
        let wanted: [String]
        if case let .named(names) = scope.runs { wanted = names } else { wanted = [] }
        let states = wanted.isEmpty
        func named(_ run: String) -> Bool { wanted.contains { RunReference.matches($0, run: run) } }
        func included(_ environment: String) -> Bool { scope.environments?.contains(environment) ?? true }

        for commit in tips {
            var latest: [String: String] = [:]
            var records: [(environment: String, run: String, id: ObjectID, path: String)] = []
            for entry in try repo.blobs(under: "history", in: commit) {
                let parts = entry.path.split(separator: "/").map(String.init)
                guard parts.count >= 3, included(parts[1]) else { continue }
                if parts.count == 3, parts[2] == "state.json", states {
                    let state = try RecordedState.decode(try repo.blob(entry.id), path: entry.path)
                    references.add(state)
                    latest[parts[1]] = state.lastRun
                } else if parts.count == 4, parts[2] == "runs", parts[3].hasSuffix(".json") {
                    records.append((parts[1], String(parts[3].dropLast(5)), entry.id, entry.path))
                }
            }
            for record in records {
                let take: Bool
                switch scope.runs {
                case .none: take = false
                case .latest: take = latest[record.environment] == record.run
                case .all: take = true
                case .named: take = named(record.run)
                }
                guard take else { continue }
                runsFound.insert(record.run)
                references.add(try RunRecord.decode(try repo.blob(record.id), path: record.path))
            }
            guard states else { continue }
            for entry in try repo.blobs(under: SpecPaths.environments, in: commit) where entry.path.hasSuffix(".pin.json") {
                let environment = String((entry.path as NSString).lastPathComponent.dropLast(".pin.json".count))
                guard included(environment) else { continue }
                let pin = try Pin.decode(try repo.blob(entry.id), path: entry.path)
                for stage in pin.stages.values {
                    references.contents.formUnion(stage.outputs.values)
                    references.fingerprints.insert(stage.fingerprint)
                }
            }
        }
        references.unknownRuns = wanted.filter { name in !runsFound.contains { RunReference.matches(name, run: $0) } }
        return references
    }
}

extension RecordedReferences {
    /// These objects as the shared store moves them: contents, and outcomes by fingerprint.
    package var upload: LayeredStore.Upload { LayeredStore.Upload(contents: contents, outcomes: fingerprints) }
}
