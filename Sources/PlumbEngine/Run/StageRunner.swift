import Foundation
import PlumbCore

/// Runs one prepared stage command and says how it ended: the seam between deciding what runs
/// (the executor, drift probes) and where it runs (a local process today; a cluster job later).
///
/// A request is complete in itself — command, working folder, the whole environment, timeout,
/// where the log goes, what to redact — so a runner never reaches back into the executor. A runner
/// leaves the command's output, redacted, in `request.logFile` by the time it returns, calls
/// `request.onLine` for each line if it can stream, and stops its work when `Interruption` is
/// requested (the executor does not wait for a runner that does not).
package protocol StageRunner: Sendable {
    /// Blocks until the command ended. Throws only when it could not be started at all.
    func run(_ request: ProcessRequest) throws -> ProcessOutcome
}

/// Runs stages as process groups on this machine (`StageProcess`).
package struct LocalProcessRunner: StageRunner {
    package init() {}
    package func run(_ request: ProcessRequest) throws -> ProcessOutcome { try StageProcess.run(request) }
}
