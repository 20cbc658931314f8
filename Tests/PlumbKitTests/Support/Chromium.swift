import Foundation
import Testing

/// Headless Chromium through scripts/chromium.sh, which installs Debian's package when it is
/// missing and runs the browser with a temporary profile and no network.
enum Chromium {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/chromium.sh").path

    /// The DOM of `page` after its scripts ran, or nil when Chromium is absent and cannot be installed (exit 3).
    static func dumpDOM(_ page: String) throws -> String? {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // To a file, not a pipe: the browser's helper processes may hold a pipe open after it exits.
        let printed = folder + "/dom.html"
        _ = FileManager.default.createFile(atPath: printed, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: printed))
        defer { try? out.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, "dump-dom", page]
        process.standardOutput = out
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus == 3 { return nil }
        #expect(process.terminationStatus == 0, "chromium.sh dump-dom \(page) failed")
        return try String(contentsOfFile: printed, encoding: .utf8)
    }

    /// `page` with `script` run at load: the probe a test reads back from the dumped DOM. The
    /// page's Content-Security-Policy forbids scripts, so the copy drops it (the page itself never needs one).
    static func withProbe(_ html: String, script: String) -> String {
        var page = html
        if let start = page.range(of: "<meta http-equiv=\"Content-Security-Policy\""),
           let end = page.range(of: ">", range: start.upperBound..<page.endIndex) {
            page.removeSubrange(start.lowerBound..<end.upperBound)
        }
        return page.replacingOccurrences(of: "</body>", with: "<script>\(script)</script></body>")
    }

    /// The text of `<pre id="probe">` in a dumped DOM, entities undone.
    static func probe(in dom: String) -> String? {
        guard let start = dom.range(of: "<pre id=\"probe\">"), let end = dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex) else { return nil }
        return String(dom[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
    }
}
