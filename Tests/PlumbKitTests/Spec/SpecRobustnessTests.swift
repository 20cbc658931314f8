import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// SplitMix64: a small seeded generator, so a failing variant can be reproduced from its index.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Feeds the loader thousands of damaged specs. A trap would kill the test process, so
/// reaching the end at all is most of the assertion; each result must also be consistent.
@Suite struct SpecRobustnessTests {
    static let punctuation: [String] = [":", "-", "[", "]", "{", "}", ",", "#", "&a", "*a", "!", "|", ">", "'", "\"",
                                        "\n", "  ", "\t", "? ", "---", "...", "%YAML 1.1\n", "!!str ", "&x [*x, *x]", "~", ": :"]

    /// Specs to mutate: every golden fixture's files plus the realistic sample.
    static func seeds() -> [[String: Data]] {
        var out: [[String: Data]] = [SampleSpec.files.mapValues { Data($0.utf8) }]
        let fm = FileManager.default
        for name in SpecGoldenTests.cases {
            let root = SpecGoldenTests.fixtures + "/" + name
            var files: [String: Data] = [:]
            for path in (fm.enumerator(atPath: root)?.allObjects as? [String]) ?? [] where path.hasSuffix(".yaml") {
                files[path] = fm.contents(atPath: root + "/" + path)
            }
            if !files.isEmpty { out.append(files) }
        }
        return out
    }

    static func mutate(_ bytes: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var b = bytes
        let kind = Int.random(in: 0..<7, using: &rng)
        let at = b.isEmpty ? 0 : Int.random(in: 0..<b.count, using: &rng)
        switch kind {
        case 0 where !b.isEmpty: // flip a byte
            b[at] ^= UInt8.random(in: 1...255, using: &rng)
        case 1 where !b.isEmpty: // delete a run
            b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...8, using: &rng)))
        case 2: // insert YAML punctuation
            b.insert(contentsOf: Array(punctuation.randomElement(using: &rng)!.utf8), at: at)
        case 3: // truncate
            b = Array(b.prefix(at))
        case 4: // duplicate a line
            let lines = b.split(separator: 0x0A, omittingEmptySubsequences: false)
            if let line = lines.randomElement(using: &rng) { b.insert(contentsOf: Array(line) + [0x0A], at: at) }
        case 5: // random bytes
            b.insert(contentsOf: (0..<Int.random(in: 1...6, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
        default: // swap two bytes
            if b.count > 1 { b.swapAt(at, Int.random(in: 0..<b.count, using: &rng)) }
        }
        return b
    }

    @discardableResult
    static func check(_ files: [String: Data], tracked: Set<String>) -> Bool {
        let result = SpecLoader.load(from: MemorySpecSource(data: files, tracked: tracked))
        // The contract: a spec exactly when there is no error, and every diagnostic says something.
        #expect((result.spec == nil) == result.diagnostics.hasErrors)
        #expect(result.diagnostics.allSatisfy { !$0.message.isEmpty })
        #expect(result.diagnostics == result.diagnostics.sortedForDisplay())
        return result.spec != nil
    }

    @Test func randomMutationsNeverTrap() {
        var rng = SeededGenerator(seed: 0x504C_554D_42)
        let seeds = Self.seeds()
        var variants = 0, valid = 0
        for round in 0..<4000 {
            var files = seeds[round % seeds.count]
            guard let path = files.keys.sorted().randomElement(using: &rng), let data = files[path] else { continue }
            var bytes = Array(data)
            for _ in 0..<Int.random(in: 1...4, using: &rng) { bytes = Self.mutate(bytes, &rng) }
            files[path] = Data(bytes)
            if Self.check(files, tracked: SampleSpec.tracked) { valid += 1 }
            variants += 1
        }
        #expect(variants >= 3000)
        // Both outcomes occur, so the mutations neither all break the YAML nor all miss.
        #expect(valid > 0 && valid < variants)
    }

    @Test func truncationAtEveryFewBytesNeverTraps() {
        var variants = 0
        for (path, text) in SampleSpec.files {
            let bytes = Array(text.utf8)
            for cut in 0...bytes.count {
                var files = SampleSpec.files.mapValues { Data($0.utf8) }
                files[path] = Data(bytes.prefix(cut))
                Self.check(files, tracked: SampleSpec.tracked)
                variants += 1
            }
        }
        #expect(variants >= 1000)
    }

    @Test func hostileInputsGiveDiagnostics() {
        let hostile: [String] = [
            "version: 99999999999999999999999\nstages: {}\n",
            "version: 1\nstages:\n  a:\n    cmd: x\n    retries: 0x7fffffffffffffffff\n    timeout: 1e400\n",
            "version: 1\nstages:\n  a:\n    cmd: x\n    timeout: 99999999999999999999999999999d\n",
            "a: &a [*a]\n",
            "x: &a [1,2]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nz: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nw: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
            String(repeating: "[", count: 500),
            String(repeating: "- ", count: 300) + "x\n",
            "version: 1\nstages:\n  a:\n    cmd: x\n    deps: [\"\\0\", \"\", /, //, ../..]\n    outs: [\"\", /]\n",
            "\u{FEFF}version: 1\nstages: {a: {cmd: x, after: [a, a, a]}}\n",
            "version: 1\nstages:\n  ? [a]\n  : {cmd: x}\n",
            "---\nversion: 1\n---\nversion: 2\n",
        ]
        for text in hostile {
            var files = SampleSpec.files.mapValues { Data($0.utf8) }
            files[SpecPaths.pipeline] = Data(text.utf8)
            Self.check(files, tracked: [])
            files = SampleSpec.files.mapValues { Data($0.utf8) }
            files[SpecPaths.params] = Data(text.utf8)
            files["environments/dev.yaml"] = Data(text.utf8)
            Self.check(files, tracked: [])
        }
    }

    @Test func largeGraphsAndCyclesStayFast() {
        // A 400-stage chain closed into one cycle: the cycle search must neither recurse deeply nor loop.
        var text = "version: 1\nstages:\n"
        for i in 0..<400 {
            text += "  s\(i):\n    cmd: echo\n    deps: [build/\((i + 399) % 400)]\n    outs: [build/\(i)]\n"
        }
        let result = SpecLoader.load(from: MemorySpecSource([SpecPaths.pipeline: text]))
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.message.hasPrefix("stages form a cycle: s0 → s1 → s2") == true)
    }
}
