import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI
import PlumbCoreFixtures

/// The human plan, byte for byte. `PLUMB_RECORD_GOLDEN=1 swift test` re-records the files.
@Suite struct PlanOutputGoldenTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/plans")

    func check(_ name: String, _ plan: Plan) throws {
        let text = PlanRenderer(terminal: Terminal(noColour: true, environment: ["NO_COLOR": "1"])).render(plan) + "\n"
        let file = Self.folder.appendingPathComponent("\(name).txt")
        if ProcessInfo.processInfo.environment["PLUMB_RECORD_GOLDEN"] == "1" {
            try Data(text.utf8).write(to: file)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(text == expected, "plan output differs from \(file.path); re-record with PLUMB_RECORD_GOLDEN=1")
    }

    @Test func firstPlan() throws {
        try check("first-plan", PlanFixture.plan(recorded: nil, present: []))
    }

    @Test func paramChange() throws {
        let (state, present) = PlanFixture.recordedAfterFirstRun()
        var plan = PlanFixture.plan(params: .object(["train": .object(["depth": .int(6), "rate": .double(0.1)]), "other": .int(1)]),
                                     recorded: state, present: present)
        plan.uncommittedEdits = ["spec/params.yaml"]
        try check("param-change", plan)
    }

    @Test func nothingToDoWithADroppedStage() throws {
        var (state, present) = PlanFixture.recordedAfterFirstRun()
        try check("nothing-to-do", PlanFixture.plan(recorded: state, present: present))
        state.stages["retired"] = state.stages["lint"]
        try check("dropped", PlanFixture.plan(recorded: state, present: present))
    }

    @Test func planErrors() throws {
        try check("errors", PlanFixture.plan(params: .object([:]), sources: [:], recorded: nil, present: []))
    }
}
