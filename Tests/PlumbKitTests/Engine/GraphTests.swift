import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct GraphTests {
    @Test func graphListsStagesInRunOrderWithWhatTheyWaitFor() throws {
        let h = try fourStageHarness()
        let text = try runProcess(plumbExecutable(), ["graph"], in: h.root)
        #expect(text.status == 0)
        #expect(text.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == [
            "lint", "prepare", "train     ← prepare", "evaluate  ← train",
        ])
        let dot = try runProcess(plumbExecutable(), ["graph", "--dot"], in: h.root)
        #expect(dot.stdout.contains("\"prepare\" -> \"train\" [label=\"build/clean.txt\"];"))
        let both = try runProcess(plumbExecutable(), ["graph", "--dot", "--json"], in: h.root)
        #expect(both.status == 64)
    }
}
