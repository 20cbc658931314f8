import Foundation

/// Reads what happened from git: run records under `history/<env>/runs/` and the commits that
/// recorded them, promoted into an environment, or rolled one back.
public struct HistoryReader {
    public let repository: Repository
    public let commit: ObjectID

    public init(repository: Repository, commit: ObjectID) { self.repository = repository; self.commit = commit }

    /// One line of `plumb history`.
    public struct Entry: Sendable, Codable, Hashable {
        public enum Kind: String, Sendable, Codable { case run, promotion, rollback }
        public var kind: Kind
        public var environment: String
        /// The run (for a promotion or rollback: the source run now pinned).
        public var run: String
        /// A run's status; `promoted`/`rolled back` otherwise.
        public var status: String
        public var time: Date
        /// The commit that recorded it (nil when it is no longer on the branch's history).
        public var commit: ObjectID?
        public var summary: String
    }

    /// Every run record of `environment` at the commit, newest first.
    public func runs(of environment: String) throws -> [RunRecord] {
        let entries = try repository.blobs(under: "\(SpecPaths.history(environment))/runs", in: commit).filter { $0.path.hasSuffix(".json") }
        let records = try entries.map { try RunRecord.decode(try repository.blob($0.id), path: $0.path) }
        return records.sorted { ($0.startedAt, $0.run) > ($1.startedAt, $1.run) }
    }

    /// The run record `run` of whichever environment has it.
    public func run(_ run: String, environments: [String]) throws -> RunRecord? {
        for env in environments.sorted() {
            if let record = try RunRecord.read(run, environment: env, at: commit, in: repository) { return record }
        }
        return nil
    }

    /// Runs, promotions and rollbacks of the given environments, newest first.
    public func entries(environments: [String], limit: Int, scanCommits: Int = 5000) throws -> [Entry] {
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
        for env in environments {
            for record in try runs(of: env) {
                out.append(Entry(kind: .run, environment: env, run: record.run, status: record.status.rawValue, time: record.startedAt,
                                 commit: recordedBy["\(env)/\(record.run)"], summary: record.summary))
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

/// Metrics of two things side by side: `plumb metrics diff A B`.
public struct MetricsDiff: Sendable, Codable, Hashable {
    /// One metric's change.
    public struct Row: Sendable, Codable, Hashable {
        public var metric: String
        public var a: Double?
        public var b: Double?
        /// b − a, when both exist.
        public var change: Double?
        /// (b − a) / |a|, when both exist and a ≠ 0.
        public var relative: Double?
    }
    public var a: String
    public var b: String
    public var rows: [Row]

    /// Pure: every metric of either side, sorted by name.
    public init(a: String, _ left: [String: Double], b: String, _ right: [String: Double]) {
        self.a = a; self.b = b
        rows = Set(left.keys).union(right.keys).sorted().map { key in
            let x = left[key], y = right[key]
            var row = Row(metric: key, a: x, b: y, change: nil, relative: nil)
            if let x, let y {
                row.change = Promotion.rounded(y - x)
                if x != 0 { row.relative = Promotion.rounded((y - x) / abs(x)) }
            }
            return row
        }
    }

    static func cells(_ row: Row) -> [String] {
        let change = row.change.map { Promotion.signed($0) } ?? "—"
        let relative = row.relative.map { String(format: "%+.2f%%", $0 * 100) } ?? "—"
        return [row.metric, row.a.map(JSONValue.format) ?? "—", row.b.map(JSONValue.format) ?? "—", change, relative]
    }
    var header: [String] { ["metric", a, b, "change", "relative"] }

    /// Aligned columns for a terminal.
    public func text() -> String {
        rows.isEmpty ? "No metrics on either side." : TextTable.render(header: header, rows: rows.map(Self.cells))
    }

    /// A Markdown table, for a pull-request comment.
    public func markdown() -> String {
        rows.isEmpty ? "No metrics on either side." : TextTable.markdown(header: header, rows: rows.map(Self.cells))
    }
}

/// Resolves what `plumb metrics` and `metrics diff` are given: an environment name, a run id,
/// or a commit (the recorded state of `--env`, or the default environment, at that commit).
public struct MetricsSource {
    public let project: Project

    public init(project: Project) { self.project = project }

    /// A label for display and the metrics.
    public func resolve(_ reference: String, environment: String?) throws -> (label: String, metrics: [String: Double]) {
        let repo = project.repository
        let head = try Snapshot.read(project, ref: nil, environment: environment)
        let names = head.spec.environments.keys.sorted()
        if names.contains(reference) {
            let env = try Snapshot.read(project, ref: nil, environment: reference)
            return (reference, env.recorded?.metrics ?? [:])
        }
        if let record = try HistoryReader(repository: repo, commit: head.commit).run(reference, environments: names) {
            return ("\(record.environment) run \(record.run)", record.metrics)
        }
        guard let commit = try? repo.resolveCommit(reference) else {
            throw PlumbError("'\(reference)' is no environment, run or commit",
                             hint: "environments: \(names.joined(separator: ", ")); runs: `plumb history`", exitCode: PlumbCLI.ExitCode.usage)
        }
        let env = head.environment.name
        let path = RecordedState.path(for: env)
        let state = try repo.file(at: path, in: commit).map { try RecordedState.decode($0, path: path) }
        return ("\(env)@\(commit.short)", state?.metrics ?? [:])
    }
}
