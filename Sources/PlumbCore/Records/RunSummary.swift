import Foundation

extension RunRecord {
    /// What the run did, in a few words for `plumb history`: `ran prepare, train; 2 cached`,
    /// `ran prepare; failed train; 1 blocked`, `nothing ran`. Stages planned unchanged are not
    /// counted: they are every stage a run did not touch. Names sorted, at most `names` of each.
    /// `order`: the stages in the order they run (`stageOrder`); others come after, by name.
    package func whatRan(names: Int = 5, order: [String] = []) -> String {
        func list(_ status: StageOutcome.Status) -> [String] {
            Self.ordered(stages.filter { $0.value.status == status }.map(\.key), by: order)
        }
        func named(_ verb: String, _ stages: [String]) -> String? {
            guard !stages.isEmpty else { return nil }
            let shown = stages.prefix(names).joined(separator: ", ")
            return "\(verb) \(shown)" + (stages.count > names ? " and \(stages.count - names) more" : "")
        }
        func counted(_ status: StageOutcome.Status, _ word: String) -> String? {
            let n = list(status).count
            return n == 0 ? nil : "\(n) \(word)"
        }
        let ran = named("ran", list(.succeeded))
        let failed = named("failed", list(.failed))
        let parts = [ran, failed, named("interrupted", list(.interrupted)), counted(.restored, "cached"),
                     counted(.pinned, "pinned"), counted(.blocked, "blocked")].compactMap { $0 }
        guard ran != nil || failed != nil else { return (["nothing ran"] + parts).joined(separator: "; ") }
        return parts.joined(separator: "; ")
    }

    /// `names` in the order `order` has them; those it lacks after, by name.
    package static func ordered(_ names: [String], by order: [String]) -> [String] {
        let position = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return names.sorted { a, b in
            let x = position[a] ?? Int.max, y = position[b] ?? Int.max
            return x != y ? x < y : a < b
        }
    }
}
