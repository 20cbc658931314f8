import Foundation
import PlumbCore
import PlumbStore

/// What the engine tells whoever watches a reconcile: typed events, never text. The command line's
/// terminal and JSON-lines views (PlumbCLI) turn them into output; a report or a test collects them.
/// The engine itself prints nothing.
package enum ReconcileEvent: Sendable {
    /// The plan about to be applied (or found to have nothing to apply).
    case planned(Plan)
    /// A stage's command is about to run (its inputs are staged).
    case stageStarted(stage: String)
    /// A failed attempt is retried after `delay` seconds; `attempt` counts from 1 up to `attempts`.
    case stageRetrying(stage: String, delay: Double, attempt: Int, attempts: Int)
    /// One line the stage printed, redacted, with the line break removed. Only when output is streamed.
    case stageOutput(stage: String, line: String)
    /// A stage reached its outcome for this run.
    case stageFinished(stage: String, StageEnd)
    /// Something about a stage's results the user should hear, that does not fail it (values in
    /// a metrics file that are not numbers and were ignored).
    case stageWarning(stage: String, String)
    /// The stages running now and since when, about once a second while any runs (when asked for).
    case progress(running: [String: Date])
    /// Cache objects that did not match their digest were deleted; the reconcile plans again.
    case cacheObjectsCorrupt(Set<Digest>)
    /// Objects of the run are going to the shared store (about every object, when progress is asked for).
    case uploading(TransferProgress)
    /// The run's objects are in the shared store at `store`; the record comes next.
    case uploaded(store: String, LayeredStore.UploadReport)
    /// The run was recorded: `commit` on the branch holds its record and the new state.
    case recorded(run: String, commit: ObjectID)
    /// One cycle of `reconcile --watch` ended.
    case watchCycle(WatchCycle)
    /// `--watch` was stopped by a signal while it waited between cycles.
    case watchStopped(at: Date)
}

/// How a stage ended in a run, as the executor saw it.
package enum StageEnd: Sendable, Hashable {
    /// It ran and succeeded, writing `outputs` (declared output and metrics file → digest).
    case succeeded(duration: Double, outputs: [String: Digest] = [:])
    /// The command ended without success (stopped by a signal of ours when `interrupted`).
    case failed(ProcessEnd, duration: Double, interrupted: Bool)
    /// The command succeeded but what it left is refused (an output missing, metrics not JSON…).
    case rejected(String)
    /// The stage could not run: an input could not be staged, a cache object was corrupt, …
    case error(String)
    /// An upstream stage failed, was blocked or was interrupted.
    case blocked(by: String)
    /// Its outputs came from the cache, recorded by `run`.
    case restored(run: String?)
    /// Early cutoff: its inputs came out as recorded, so it did not run.
    case unchanged
}

/// How a stage's command ended, short of success.
package enum ProcessEnd: Sendable, Hashable {
    case exit(Int32?)
    case signal(Int32)
    case timedOut(after: Double)
}

/// One `--watch` cycle: what it did and when the next one starts.
package struct WatchCycle: Sendable {
    package var started: Date
    package var report: WatchLoop.CycleReport
    /// Consecutive failed cycles, this one included.
    package var failures: Int
    /// Seconds to the next cycle; nil when the loop stops after this one.
    package var nextIn: Double?
}

/// Receives the engine's events, from any thread (stages run in parallel): an observer serialises
/// what it does with them itself.
package protocol ReconcileObserver: Sendable {
    func observe(_ event: ReconcileEvent)
}

/// Drops every event: for callers that want only the outcome.
struct SilentObserver: ReconcileObserver {
    package init() {}
    package func observe(_ event: ReconcileEvent) {}
}

/// Which of the costlier events a reconcile emits: streaming every line a stage prints, and the
/// once-a-second progress event, are worth doing only when someone shows them.
package struct Feedback: Sendable {
    package var streamOutput: Bool
    package var progress: Bool
    package init(streamOutput: Bool = false, progress: Bool = false) {
        self.streamOutput = streamOutput
        self.progress = progress
    }
}
