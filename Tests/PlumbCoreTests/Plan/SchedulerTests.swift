import Testing
@testable import PlumbCore
import PlumbCoreFixtures

/// The scheduler is a value: each case drives it through a script of finishing stages and
/// interrupts, and asserts the exact decisions after each step — no process, no thread, no clock.
@Suite struct SchedulerTests {
    typealias Decision = Scheduler.Decision

    /// One step of a script: ask for the decisions (and what they must be), or report to the scheduler.
    enum Step: Sendable {
        case next([Decision])
        case finish(String, StageOutcome.Status)
        case interrupt
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var stages: [Scheduler.Stage]
        var jobs: Int
        var steps: [Step]
        var testDescription: String { name }
    }

    static func stage(_ name: String, _ action: StageAction = .run, after upstream: String...) -> Scheduler.Stage {
        Scheduler.Stage(name: name, action: action, upstream: upstream)
    }

    /// a → b, c → d, in plan (topological) order.
    static let diamond = [stage("a"), stage("b", after: "a"), stage("c", after: "a"), stage("d", after: "b", "c")]

    static let cases: [Case] = [
        Case(name: "diamond, one job: one at a time in plan order", stages: diamond, jobs: 1, steps: [
            .next([.start("a")]), .finish("a", .succeeded),
            .next([.start("b")]), .finish("b", .succeeded),
            .next([.start("c")]), .finish("c", .succeeded),
            .next([.start("d")]), .finish("d", .succeeded),
            .next([]),
        ]),
        Case(name: "diamond, four jobs: the branches together, the join after both", stages: diamond, jobs: 4, steps: [
            .next([.start("a")]), .finish("a", .succeeded),
            .next([.start("b"), .start("c")]), .finish("c", .succeeded),
            .next([]), .finish("b", .succeeded),
            .next([.start("d")]), .finish("d", .succeeded),
            .next([]),
        ]),
        Case(name: "jobs bound: the next ready stage takes the first free slot",
             stages: [stage("a"), stage("b"), stage("c"), stage("e")], jobs: 2, steps: [
            .next([.start("a"), .start("b")]), .finish("b", .succeeded),
            .next([.start("c")]), .finish("a", .failed),
            .next([.start("e")]), .finish("c", .succeeded), .finish("e", .succeeded),
            .next([]),
        ]),
        Case(name: "a failure blocks its dependants transitively, not an independent branch",
             stages: [stage("a"), stage("b", after: "a"), stage("c", after: "b"), stage("x"), stage("y", after: "x")], jobs: 2, steps: [
            .next([.start("a"), .start("x")]), .finish("a", .failed),
            .next([.block("b", by: "a", .failed), .block("c", by: "b", .blocked)]), .finish("x", .succeeded),
            .next([.start("y")]), .finish("y", .succeeded),
            .next([]),
        ]),
        Case(name: "a join waits for every upstream, then names the first bad one in upstream order", stages: diamond, jobs: 2, steps: [
            .next([.start("a")]), .finish("a", .succeeded),
            .next([.start("b"), .start("c")]), .finish("c", .failed),
            .next([]), .finish("b", .failed),
            .next([.block("d", by: "b", .failed)]),
        ]),
        Case(name: "a stage that ended interrupted blocks its dependants",
             stages: [stage("a"), stage("b", after: "a")], jobs: 1, steps: [
            .next([.start("a")]), .finish("a", .interrupted),
            .next([.block("b", by: "a", .interrupted)]),
        ]),
        Case(name: "interrupted mid-run: pending stages, ready or not, are interrupted; running ones finish",
             stages: [stage("a"), stage("b", after: "a"), stage("c"), stage("d")], jobs: 2, steps: [
            .next([.start("a"), .start("c")]), .interrupt,
            .next([.interrupt("b"), .interrupt("d")]), .finish("c", .failed), .finish("a", .interrupted),
            .next([]),
        ]),
        Case(name: "interrupted before the first pass: nothing starts", stages: diamond, jobs: 4, steps: [
            .interrupt,
            .next([.interrupt("a"), .interrupt("b"), .interrupt("c"), .interrupt("d")]),
        ]),
        Case(name: "unchanged, restored and pinned stages settle without a job, and their dependants go in the same pass",
             stages: [stage("a", .unchanged), stage("b", after: "a"), stage("c", .restore), stage("d", .pinned, after: "c"),
                      stage("e", .mayRun, after: "b", "d")], jobs: 1, steps: [
            .next([.settle("a", .unchanged), .start("b"), .settle("c", .restored), .settle("d", .pinned)]),
            .finish("b", .succeeded),
            .next([.start("e")]), .finish("e", .unchanged),
            .next([]),
        ]),
        Case(name: "a stage that waits for a job does not hold back a settled stage after it",
             stages: [stage("a", .create), stage("b", .mayRun), stage("c", .unchanged)], jobs: 1, steps: [
            .next([.start("a"), .settle("c", .unchanged)]), .finish("a", .succeeded),
            .next([.start("b")]), .finish("b", .restored),
            .next([]),
        ]),
        Case(name: "a settled stage downstream of a failure is blocked, not settled",
             stages: [stage("a"), stage("b", .unchanged, after: "a")], jobs: 1, steps: [
            .next([.start("a")]), .finish("a", .failed),
            .next([.block("b", by: "a", .failed)]),
        ]),
        Case(name: "an upstream not in the plan strands its stage and what follows it, once nothing runs",
             stages: [stage("a"), stage("b", after: "ghost"), stage("c", after: "b")], jobs: 2, steps: [
            .next([.start("a")]), .finish("a", .succeeded),
            .next([.strand("b"), .strand("c")]),
        ]),
        Case(name: "a plan out of topological order is walked again while that decides something",
             stages: [stage("b", .unchanged, after: "a"), stage("a", .unchanged)], jobs: 1, steps: [
            .next([.settle("a", .unchanged), .settle("b", .unchanged)]),
        ]),
    ]

    @Test(arguments: cases)
    func schedules(_ c: Case) {
        var scheduler = Scheduler(stages: c.stages, jobs: c.jobs)
        for (n, step) in c.steps.enumerated() {
            switch step {
            case let .next(want):
                #expect(scheduler.next() == want, "step \(n)")
            case let .finish(name, status):
                #expect(!scheduler.isComplete, "step \(n): complete while \(name) runs")
                scheduler.finished(name, status)
            case .interrupt:
                scheduler.interrupt()
            }
        }
        #expect(scheduler.isComplete)
        #expect(scheduler.next() == [])
    }

    /// Every stage is decided exactly once, whatever the number of jobs, and never more run at once
    /// than the jobs allow: a walk that finishes the running stages first-started first.
    @Test(arguments: [1, 2, 3, 8])
    func walksEveryStageOnceWithinTheJobs(jobs: Int) {
        let stages = [Self.stage("a"), Self.stage("b", after: "a"), Self.stage("c", .unchanged), Self.stage("d", after: "a", "c"),
                      Self.stage("e", .restore, after: "b"), Self.stage("f"), Self.stage("g", .mayRun, after: "e", "f")]
        var scheduler = Scheduler(stages: stages, jobs: jobs)
        var decided: [String] = []
        var running: [String] = []
        var widest = 0
        while !scheduler.isComplete {
            for decision in scheduler.next() {
                switch decision {
                case let .start(name): decided.append(name); running.append(name)
                case let .settle(name, _), let .block(name, _, _), let .interrupt(name), let .strand(name): decided.append(name)
                }
            }
            widest = max(widest, running.count)
            guard !running.isEmpty else { break }
            scheduler.finished(running.removeFirst(), .succeeded)
        }
        #expect(decided.sorted() == stages.map(\.name))
        #expect(widest == min(jobs, 3))
        #expect(running.isEmpty)
    }

    /// The fixture's first plan: every stage new; train and lint wait for prepare, evaluate for train.
    @Test func walksAPlannedPipeline() {
        let input = PlanningInput(spec: Spec(pipeline: PlanFixture.pipeline, params: PlanFixture.params), environment: EnvironmentSpec(name: "dev"),
                                  commit: PlanFixture.commit, recorded: nil, sourceDigests: PlanFixture.sources)
        var scheduler = Scheduler(plan: Planner.plan(input, cache: .empty), jobs: 4)
        #expect(scheduler.next() == [.start("prepare")])
        scheduler.finished("prepare", .succeeded)
        #expect(scheduler.next() == [.start("lint"), .start("train")])
        scheduler.finished("train", .failed)
        #expect(scheduler.next() == [.block("evaluate", by: "train", .failed)])
        scheduler.finished("lint", .succeeded)
        #expect(scheduler.isComplete)
    }
}
