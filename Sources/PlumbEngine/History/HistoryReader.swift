import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Reads what happened from git: run records under `history/<env>/runs/` and the commits that
/// recorded them, promoted into an environment, or rolled one back.
package struct HistoryReader {
    package let repository: Repository
    package let commit: ObjectID

    package init(repository: Repository, commit: ObjectID) { self.repository = repository; self.commit = commit }

    /// One line of `plumb history`.
    package struct Entry: Sendable, Codable, Hashable {
        package enum Kind: String, Sendable, Codable { case run, promotion, rollback }
        package var kind: Kind
        package var environment: String
        /// The run (for a promotion or rollback: the source run now pinned).
        package var run: String
        /// A run's status; `promoted`/`rolled back` otherwise.
        package var status: String
        package var time: Date
        /// The commit that recorded it (nil when it is no longer on the branch's history).
        package var commit: ObjectID?
        package var summary: String
        /// For a run, the subject of the spec commit it reconciled (nil when that commit is not here).
        package var subject: String?
        /// For a run, what it did: `ran prepare, train; 2 cached` (`RunRecord.whatRan`).
        package var ran: String?
    }

    /// Every run record of `environment` at the commit, newest first.
    package func runs(of environment: String) throws -> [RunRecord] {
        let entries = try repository.blobs(under: "\(SpecPaths.history(environment))/runs", in: commit).filter { $0.path.hasSuffix(".json") }
        let records = try entries.map { try RunRecord.decode(try repository.blob($0.id), path: $0.path) }
        return records.sorted { ($0.startedAt, $0.run) > ($1.startedAt, $1.run) }
    }

    /// The run record `run` of whichever environment has it.
    package func run(_ run: String, environments: [String]) throws -> RunRecord? {
        for env in environments.sorted() {
            if let record = try RunRecord.read(run, environment: env, at: commit, in: repository) { return record }
        }
        return nil
    }

    /// Runs, promotions and rollbacks of the given environments, newest first.
    package func entries(environments: [String], limit: Int, scanCommits: Int = 5000) throws -> [Entry] {
        try repository.requireFullHistory("the list of runs, promotions and rollbacks")
        var recordedBy: [String: ObjectID] = [:]
        // Position in the branch's history, newest first: clocks tie within a second, commits do not.
        var position: [ObjectID: Int] = [:]
        var out: [Entry] = []
        let wanted = Set(environments)
        for (index, info) in try repository.log(to: commit, limit: scanCommits).enumerated() {
            position[info.id] = index
            let trailers = Self.trailers(info.message)
            if let env = trailers["Plumb-Env"], let run = trailers["Plumb-Run"] { recordedBy["\(env)/\(run)"] = info.id }
            if let to = trailers["Plumb-Promote-To"], wanted.contains(to) {
                out.append(Entry(kind: .promotion, environment: to, run: trailers["Plumb-Run"] ?? "?", status: "promoted",
                                 time: info.time, commit: info.id, summary: info.summary))
            }
            if let env = trailers["Plumb-Rollback-Env"], wanted.contains(env) {
                out.append(Entry(kind: .rollback, environment: env, run: trailers["Plumb-Run"] ?? "?", status: "rolled back",
                                 time: info.time, commit: info.id, summary: info.summary))
            }
        }
        var orders: [ObjectID: [String]] = [:]
        for env in environments {
            for record in try runs(of: env) {
                if orders[record.commit] == nil { orders[record.commit] = RunRecord.declaredOrder(at: record.commit, in: repository) }
                // The spec commit may be gone from this clone (a rewritten branch): the run still lists.
                let subject = try? repository.commit(record.commit).summary
                out.append(Entry(kind: .run, environment: env, run: record.run, status: record.status.rawValue, time: record.startedAt,
                                 commit: recordedBy["\(env)/\(record.run)"], summary: record.summary,
                                 subject: subject, ran: record.whatRan(order: orders[record.commit] ?? [])))
            }
        }
        out.sort { a, b in
            let x = a.commit.flatMap { position[$0] } ?? Int.max, y = b.commit.flatMap { position[$0] } ?? Int.max
            return x != y ? x < y : a.time > b.time
        }
        return Array(out.prefix(limit))
    }

    /// `Key: value` lines of a commit message's last paragraph.
    static func trailers(_ message: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in message.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"), line.hasPrefix("Plumb-") else { continue }
            out[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }
}

extension RunRecord {
    /// The stages in the order they run (topological) as the spec at `commit` declares them; empty
    /// when it cannot be read there.
    static func declaredOrder(at commit: ObjectID, in repository: Repository) -> [String] {
        SpecLoader.load(from: CommitSpecSource(repository: repository, commit: commit)).spec.map { StageGraph($0.pipeline).order } ?? []
    }

    /// The record's stages in the order they ran (topological, as the run's own spec commit
    /// declares them); a stage that spec does not name, or every stage when it cannot be read, by name.
    package func stageOrder(in repository: Repository) -> [String] {
        Self.ordered(Array(stages.keys), by: Self.declaredOrder(at: commit, in: repository))
    }
}
