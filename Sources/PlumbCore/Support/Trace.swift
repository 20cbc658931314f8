import Foundation

/// `PLUMB_TRACE=1`: how long each phase of a command took, on stderr (`plumb: trace: plan 0.031 s`),
/// as `GIT_TRACE_PERFORMANCE` does for git. For the benchmark harness and for people asking where
/// the time goes; off, it costs one check of a constant.
package enum Trace {
    package static let enabled: Bool = {
        guard let value = ProcessInfo.processInfo.environment["PLUMB_TRACE"] else { return false }
        return !value.isEmpty && value != "0"
    }()

    /// Runs `body`, and with tracing on says how long it took under `phase`.
    @discardableResult
    package static func measure<T>(_ phase: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let started = DispatchTime.now().uptimeNanoseconds
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            FileHandle.standardError.write(Data("plumb: trace: \(phase()) \(String(format: "%.4f", seconds)) s\n".utf8))
        }
        return try body()
    }
}
