import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures

/// Cron as crontab(5) reads it, evaluated against an injected clock: no test sleeps.
@Suite struct CronScheduleTests {
    static let utc = TimeZone(identifier: "UTC")!

    static func at(_ text: String, _ zone: TimeZone = utc) -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.date(from: text)!
    }

    @Test(arguments: [
        ("0 3 1 * *", "2026-12-03 15:38:10", "2026-12-01 03:00:00"),
        ("0 3 1 * *", "2026-12-01 02:59:59", "2026-11-01 03:00:00"),
        ("0 3 1 * *", "2026-12-01 03:00:00", "2026-12-01 03:00:00"),
        ("*/15 * * * *", "2026-12-03 15:38:10", "2026-12-03 15:30:00"),
        ("30 9 * * mon-fri", "2026-12-06 12:00:00", "2026-12-04 09:30:00"), // a Sunday: back to Friday
        ("0 0 * * 7", "2026-12-09 00:00:00", "2026-12-06 00:00:00"),        // 7 is Sunday
        ("0 12 13 * fri", "2026-12-03 00:00:00", "2026-11-27 12:00:00"),    // both day fields: either matches
        ("@monthly", "2026-12-03 15:38:10", "2026-12-01 00:00:00"),
        ("0 0 29 feb *", "2026-12-03 00:00:00", "2024-02-29 00:00:00"),
        ("5 4 * jan,jul *", "2026-12-03 00:00:00", "2026-07-31 04:05:00"),
    ])
    func previousTickIsTheLatestAtOrBeforeNow(expression: String, now: String, want: String) throws {
        let cron = try CronSchedule(expression)
        #expect(cron.previous(atOrBefore: Self.at(now), in: Self.utc) == Self.at(want))
    }

    @Test func aZoneMovesTheTick() throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        let cron = try CronSchedule("0 3 * * *")
        #expect(cron.previous(atOrBefore: Self.at("2026-12-03 12:00:00"), in: berlin) == Self.at("2026-12-03 02:00:00"))
        #expect(cron.previous(atOrBefore: Self.at("2026-12-03 12:00:00"), in: Self.utc) == Self.at("2026-12-03 03:00:00"))
    }

    @Test func aDayThatNeverComesHasNoTick() throws {
        #expect(try CronSchedule("0 0 31 2 *").previous(atOrBefore: Self.at("2026-12-03 00:00:00"), in: Self.utc) == nil)
    }

    @Test(arguments: [
        ("0 3 1 *", "has 4 fields"), ("60 * * * *", "minute '60' is not in 0–59"), ("* * * foo *", "month 'foo'"),
        ("*/0 * * * *", "step in minute"), ("5-1 * * * *", "runs backwards"), ("1,,2 * * * *", "is not a value"),
    ])
    func badExpressionsSayWhichFieldAndWhy(expression: String, message: String) {
        #expect(throws: CronError.self) { try CronSchedule(expression) }
        do { _ = try CronSchedule(expression) } catch { #expect(error.reason.contains(message), "\(error.reason)") }
    }

    static let pipeline = "version: 1\nstages:\n  train:\n    cmd: 'true'\n"

    @Test func scheduleDiagnosticsPointAtWhatIsWrong() throws {
        for (environment, message, line, column) in [
            ("schedule:\n  - cron: '0 25 * * *'\n", "schedule '0 25 * * *' of environment 'dev' hour '25' is not in 0–23", 2, 11),
            ("schedule:\n  - cron: '@daily'\n    zone: Mars/Olympus\n", "unknown time zone 'Mars/Olympus'", 3, 11),
            ("schedule:\n  - cron: '@daily'\n    stages: [trian]\n", "reruns 'trian', which is not a stage", 3, 14),
            ("schedule:\n  - zone: UTC\n", "cron", 2, 5),
        ] {
            let loaded = SpecLoader.load(from: MemorySpecSource(["spec/pipeline.yaml": Self.pipeline, "environments/dev.yaml": environment]))
            let found = try #require(loaded.diagnostics.first { $0.message.contains(message) }, "\(message): \(loaded.diagnostics.map(\.message))")
            #expect(found.location?.line == line && found.location?.column == column, "\(message): \(String(describing: found.location))")
        }
        let loaded = SpecLoader.load(from: MemorySpecSource(["spec/pipeline.yaml": Self.pipeline,
                                                             "environments/dev.yaml": "schedule:\n  - cron: '0 3 1 * *'\n    zone: Europe/Berlin\n    stages: [train]\n"]))
        let schedule = try #require(loaded.spec?.environments["dev"]?.schedules.first, "\(loaded.diagnostics)")
        #expect(schedule.cron.expression == "0 3 1 * *" && schedule.zone.identifier == "Europe/Berlin" && schedule.stages == ["train"])
    }

    /// The planner reruns a scheduled stage whose last run is older than the latest tick, with
    /// the trigger in its reason; what depends on it runs only if its outputs change.
    @Test func aMissedTickRerunsTheScheduledStage() throws {
        var (state, objects) = PlanFixture.recordedAfterFirstRun()
        for name in state.stages.keys { state.stages[name]?.run = "20261115-120000-aaaaaa" }
        var environment = EnvironmentSpec(name: "dev")
        environment.schedules = [Schedule(cron: try CronSchedule("0 3 1 * *"), stages: ["prepare"])]
        var input = PlanningInput(spec: Spec(pipeline: PlanFixture.pipeline, params: PlanFixture.params), environment: environment,
                                  commit: PlanFixture.commit, recorded: state, sourceDigests: PlanFixture.sources)
        let present = objects
        let cache = CacheView(contains: { present.contains($0) }, outcome: { _ in nil })
        input.now = Self.at("2026-11-30 23:00:00")
        #expect(!Planner.plan(input, cache: cache).hasChanges, "no tick since the last run")
        input.now = Self.at("2026-12-01 03:00:00")
        let plan = Planner.plan(input, cache: cache)
        #expect(plan.stage("prepare")?.action == .run)
        #expect(plan.stage("prepare")?.reasons.map(\.description) == ["scheduled (0 3 1 * *): due 2026-12-01 03:00 UTC, last ran in run 20261115-120000-aaaaaa"])
        #expect(plan.stage("train")?.action == .mayRun)
        #expect(plan.stage("lint")?.action == .unchanged, "not scheduled")
    }
}
