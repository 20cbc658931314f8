import Foundation
import Testing
@testable import PlumbCore

/// Metrics are the numbers in a JSON object; anything else is named as ignored, never turned into a number.
@Suite struct MetricsFileTests {
    @Test func numbersAtAnyDepthAreMetricsAndTheRestIsNamed() throws {
        let reading = try MetricsFile.read(Data(#"{"acc": 0.81, "n": 3, "by": {"class": {"a": 1.5}}, "model": "forest", "ok": true, "none": null, "xs": [1]}"#.utf8), prefix: "train")
        #expect(reading.metrics == ["train.acc": 0.81, "train.n": 3, "train.by.class.a": 1.5])
        #expect(reading.ignored.map(\.key) == ["train.model", "train.none", "train.ok", "train.xs"])
        #expect(reading.ignoredSummary == "ignored train.model (a string), train.none (null), train.ok (a boolean: write 1 or 0), train.xs (a list): metrics are numbers")
        #expect(try MetricsFile.read(Data(#"{"a": 1}"#.utf8), prefix: "s").ignoredSummary == nil)
    }

    @Test(arguments: [("[1, 2]", "holds a list, not a JSON object of numbers"), ("0.5", "holds a number, not a JSON object of numbers"),
                      ("accuracy=0.8", "is not JSON")])
    func aFileThatIsNoObjectIsAnError(text: String, reason: String) {
        #expect { try MetricsFile.read(Data(text.utf8), prefix: "s") } throws: { ($0 as? MetricsFileError)?.reason == reason }
    }
}
