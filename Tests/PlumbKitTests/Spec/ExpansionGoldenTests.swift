import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine

/// Golden tests of templating: each folder under Fixtures/expansion is a valid spec that uses
/// `vars`, `${…}`, `foreach` or `matrix`; `expected.txt` holds the stages it expands to, as the
/// planner sees them, and the command each environment runs when params are interpolated.
///
/// Re-record with `PLUMB_RECORD_GOLDEN=1 swift test --filter ExpansionGoldenTests` and review the diff.
@Suite struct ExpansionGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/expansion").path

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? []).sorted()
    }

    /// The expanded stages, one block each, every field that can be templated.
    static func render(_ spec: Spec) -> String {
        var out = ""
        for stage in spec.pipeline.stages {
            out += "\(stage.name)  (\(stage.location.map { "line \($0.line)" } ?? "?"))\n"
            out += "  cmd: \(stage.cmd.debugDescription)\n"
            if !stage.deps.isEmpty { out += "  deps: \(stage.deps)\n" }
            if !stage.outs.isEmpty { out += "  outs: \(stage.outs)\n" }
            if !stage.metrics.isEmpty { out += "  metrics: \(stage.metrics)\n" }
            if !stage.params.isEmpty { out += "  params: \(stage.params)\n" }
            for (key, value) in stage.env.sorted(by: { $0.key < $1.key }) { out += "  env \(key)=\(value)\n" }
            if let timeout = stage.timeout { out += "  timeout: \(timeout)\n" }
            if let wdir = stage.wdir { out += "  wdir: \(wdir)\n" }
            for (path, options) in stage.outputOptions.sorted(by: { $0.key < $1.key }) {
                out += "  \(path): cache \(options.cache), persist \(options.persist)\n"
            }
            for plot in stage.plots {
                out += "  plot \(plot.path): x \(plot.x ?? "-"), y \(plot.y), title \(plot.title.map(\.debugDescription) ?? "-")\n"
            }
            if stage.frozen { out += "  frozen\n" }
            if stage.alwaysRun { out += "  always runs\n" }
            if stage.commandTemplate != nil {
                for name in spec.environments.keys.sorted() {
                    let params = spec.params.merging(spec.environments[name]!.params)
                    let command = (try? stage.command(params: params).get()) ?? "<error>"
                    out += "  cmd in \(name): \(command.debugDescription)\n"
                }
            }
        }
        return out
    }

    @Test func thereAreCases() { #expect(Self.cases.count >= 4) }

    @Test(arguments: cases)
    func specExpandsToTheExpectedStages(_ name: String) throws {
        let root = Self.fixtures + "/" + name
        let result = SpecLoader.load(from: WorkingTreeSpecSource(root: root))
        #expect(!result.diagnostics.hasErrors, "\(name): \(result.diagnostics)")
        let spec = try #require(result.spec)
        let actual = Self.render(spec)
        let expectedPath = root + "/expected.txt"
        if SpecGoldenTests.recording {
            try Data(actual.utf8).write(to: URL(fileURLWithPath: expectedPath))
            return
        }
        #expect(actual == (try String(contentsOfFile: expectedPath, encoding: .utf8)), "\(name): expansion differs from expected.txt")
        // Deterministic: the same files give the same stages.
        #expect(SpecLoader.load(from: WorkingTreeSpecSource(root: root)).spec == spec)
    }
}
