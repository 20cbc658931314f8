import Foundation
import Testing
@testable import PlumbCore

/// `${…}` parsing, name-safe instance keys and per-environment command rendering, as tables.
@Suite struct TemplatingTests {
    struct ParseCase: Sendable, CustomStringConvertible {
        var given: String
        var want: [TemplateSegment]?
        var description: String { given }
    }

    static let parseCases: [ParseCase] = [
        .init(given: "echo plain", want: [.text("echo plain")]),
        .init(given: "a ${x} b", want: [.text("a "), .reference(path: ["x"], offset: 2), .text(" b")]),
        .init(given: "${train.epochs}", want: [.reference(path: ["train", "epochs"], offset: 0)]),
        .init(given: "${ list.0 }", want: [.reference(path: ["list", "0"], offset: 0)]),
        .init(given: "$${HOME} and $$ and $HOME", want: [.text("${HOME} and $$ and $HOME")]),
        // Scanned left to right: a "$" then the escape "$${", so no reference.
        .init(given: "$$${x}", want: [.text("$${x}")]),
        .init(given: "${x", want: nil),
        .init(given: "${}", want: nil),
        .init(given: "${HOME:-x}", want: nil),
        .init(given: "${a..b}", want: nil),
    ]

    @Test(arguments: parseCases)
    func parse(_ c: ParseCase) {
        switch Templating.parse(c.given) {
        case let .success(segments): #expect(segments == c.want)
        case .failure: #expect(c.want == nil)
        }
    }

    @Test func instanceKeysAreNameSafe() {
        #expect(Templating.nameSafe("0.1") == "0_1")
        #expect(Templating.nameSafe("Test Set/A") == "test_set_a")
        #expect(Templating.nameSafe("a-b_c9") == "a-b_c9")
        #expect(NameRule.isValid("evaluate-" + Templating.nameSafe("ÄÖ.x")))
    }

    @Test func commandTemplateRendersEachEnvironmentsParams() throws {
        let template = CommandTemplate(parts: [.text("train --epochs "), .param(["train", "epochs"]), .text(" --lr 0.1")])
        let base: JSONValue = .object(["train": .object(["epochs": .int(3)])])
        #expect(try template.render(params: base).get() == "train --epochs 3 --lr 0.1")
        #expect(try template.render(params: base.merging(.object(["train": .object(["epochs": .double(2.5)])]))).get() == "train --epochs 2.5 --lr 0.1")
        guard case let .failure(problem) = template.render(params: .object(["train": .object(["epochs": .object([:])])])) else {
            Issue.record("a mapping rendered into a command"); return
        }
        #expect(problem.reference == "train.epochs")
    }
}
