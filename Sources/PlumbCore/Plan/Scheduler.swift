/// Decides the order of an apply, and runs nothing: which stages start now, which settle without
/// running, which are blocked by whom, and when the run is complete. A value with no threads, no
/// processes and no clock (ninja's `Plan::FindWork`, Terraform's graph walker): the executor does
/// what it says and reports back each stage that finishes, so the walk is tested on its own.
package struct Scheduler: Sendable {
    /// What the scheduler needs of a planned stage.
    struct Stage: Sendable, Hashable {
        var name: String
        var action: StageAction
        /// Stages that must finish first.
        var upstream: [String]

        init(name: String, action: StageAction, upstream: [String]) {
            self.name = name; self.action = action; self.upstream = upstream
        }
    }

    /// What to do with one stage; the executor carries decisions out in the order given.
    package enum Decision: Sendable, Hashable {
        /// Run it; report how it ended with `finished(_:_:)`.
        case start(String)
        /// Done without running, as planned: unchanged, pinned or restored (the status it has).
        case settle(String, StageOutcome.Status)
        /// Not run: an upstream stage (the first in upstream order) ended with this status — failed,
        /// blocked or interrupted.
        case block(String, by: String, StageOutcome.Status)
        /// Not run: the run was interrupted before it could start.
        case interrupt(String)
        /// Not run: an upstream stage can never finish (it is not in the plan, or comes later in a
        /// plan whose order is not topological). Unreachable for a valid plan; it keeps a bad one
        /// from hanging.
        case strand(String)
    }

    /// Stages not yet decided, in plan order: every pass walks them in this order.
    private var pending: [Stage]
    /// Stages started and not yet finished.
    private var running: Set<String> = []
    /// How each decided stage ended, for its dependants.
    private var statuses: [String: StageOutcome.Status] = [:]
    private var interrupted = false
    private let jobs: Int

    /// A scheduler for `stages` in plan order (topological), running at most `jobs` at once.
    init(stages: [Stage], jobs: Int) {
        pending = stages
        self.jobs = jobs
    }

    /// A scheduler for the stages of `plan`.
    package init(plan: Plan, jobs: Int) {
        self.init(stages: plan.stages.map { Stage(name: $0.name, action: $0.action, upstream: $0.upstream) }, jobs: jobs)
    }

    /// Whether every stage is decided and none is running.
    package var isComplete: Bool { pending.isEmpty && running.isEmpty }

    /// Stops the run: from the next `next()` on, every pending stage is interrupted and none starts.
    package mutating func interrupt() { interrupted = true }

    /// Records how a started stage ended; its dependants may then start, or be blocked.
    package mutating func finished(_ stage: String, _ status: StageOutcome.Status) {
        running.remove(stage)
        statuses[stage] = status
    }

    /// Everything that can be decided now. A pass in plan order starts all that can start, so only a
    /// finishing stage (or an interrupt) changes the answer while stages run; with none running it
    /// passes again while that decides something, and strands what is left when it does not.
    package mutating func next() -> [Decision] {
        var decisions: [Decision] = []
        while true {
            let progressed = pass(into: &decisions)
            if pending.isEmpty || !running.isEmpty { return decisions }
            if !progressed {
                for stage in pending {
                    statuses[stage.name] = .blocked
                    decisions.append(.strand(stage.name))
                }
                pending = []
                return decisions
            }
        }
    }

    /// One walk over the pending stages; whether it decided any.
    private mutating func pass(into decisions: inout [Decision]) -> Bool {
        var progressed = false
        var i = 0
        while i < pending.count {
            let stage = pending[i]
            if let decision = decide(stage) {
                decisions.append(decision)
                pending.remove(at: i)
                progressed = true
            } else {
                i += 1
            }
        }
        return progressed
    }

    /// The decision for `stage` now, recording its effect; nil while it must wait.
    private mutating func decide(_ stage: Stage) -> Decision? {
        if interrupted {
            statuses[stage.name] = .interrupted
            return .interrupt(stage.name)
        }
        // Every upstream stage must have ended before anything is said about this one.
        let ups = stage.upstream.map { statuses[$0] }
        guard !ups.contains(where: { $0 == nil }) else { return nil }
        if let (up, status) = zip(stage.upstream, ups.map { $0! }).first(where: { [.failed, .blocked, .interrupted].contains($0.1) }) {
            statuses[stage.name] = .blocked
            return .block(stage.name, by: up, status)
        }
        switch stage.action {
        case .unchanged, .pinned, .restore:
            let status: StageOutcome.Status = stage.action == .unchanged ? .unchanged : stage.action == .pinned ? .pinned : .restored
            statuses[stage.name] = status
            return .settle(stage.name, status)
        case .run, .create, .mayRun:
            guard running.count < jobs else { return nil }
            running.insert(stage.name)
            return .start(stage.name)
        }
    }
}
