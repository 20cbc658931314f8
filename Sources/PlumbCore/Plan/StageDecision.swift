import Foundation

/// Why the planner plans one stage the way it does: one case per rule of `Planner.decide`.
///
/// The stage's action, the outputs it takes from elsewhere and its display reasons all follow
/// from the decision; callers that must act on *why* a stage runs (promotion) read the decision,
/// never the reasons, which are for display only.
package enum StageDecision: Sendable, Hashable {
    /// Never recorded in this environment, and its fingerprint never ran: it runs for the first time.
    case new
    /// Never recorded in this environment, but its fingerprint ran before: outputs come from the cache.
    case newRestored(CachedOutcome)
    /// Fingerprint as recorded, and every recorded output is in the cache.
    case unchanged(StageRecord)
    /// The record is as desired (or only upstream is unknown), but some of its outputs are no
    /// longer in this machine's cache, so it runs to rebuild them.
    case outputsMissing([String], changes: [PlanReason])
    /// Its inputs changed to a fingerprint that ran before (early cutoff): outputs come from the cache.
    case restored(CachedOutcome, changes: [PlanReason])
    /// Its inputs differ from the record. The differences may be empty when none can be named
    /// (a fingerprint from another scheme); it runs all the same.
    case changed([PlanReason])
    /// Its last attempt, run `run`, failed.
    case previousFailure(run: String, changes: [PlanReason])
    /// Upstream stages run whose outputs are unknown until they finish; it runs only if they change.
    case upstreamRuns([String])
    /// The caller asked for it to run.
    case forced(changes: [PlanReason])
    /// Its drift probe failed with `detail`: it runs again to heal.
    case drifted(String, changes: [PlanReason])
    /// It runs for a reason outside its inputs: `always_run`, or its record is older than `stale_after`.
    case triggered(PlanReason, changes: [PlanReason])
    /// The environment takes it from its pin; `recorded` is the fingerprint its record holds.
    case pinned(PinnedStage, pin: Pin, recorded: Digest?)
    /// The environment takes it from a pin, but no promotion pins it: a plan error.
    case unpinned
    /// `frozen: true` with a successful record whose outputs are at hand: they stand, whatever
    /// `changes` its inputs went through.
    case frozen(StageRecord, changes: [PlanReason])
    /// `frozen: true`, but nothing recorded to keep (never ran, failed, or its outputs are not in
    /// any cache): a plan error.
    case frozenWithoutOutputs(missing: [String])

    /// What the executor does with the stage.
    package var action: StageAction {
        switch self {
        case .new: return .create
        case .newRestored, .restored: return .restore
        case .unchanged, .frozen: return .unchanged
        case .outputsMissing, .changed, .previousFailure, .forced, .drifted, .triggered, .unpinned, .frozenWithoutOutputs: return .run
        case .upstreamRuns: return .mayRun
        case .pinned: return .pinned
        }
    }

    /// The reasons a plan shows for the decision.
    package var reasons: [PlanReason] {
        switch self {
        case .new: return [PlanReason(.newStage)]
        case let .newRestored(outcome): return [PlanReason(.newStage), PlanReason(.restore, outcome.run)]
        case .unchanged, .unpinned, .frozenWithoutOutputs: return []
        case let .frozen(record, changes): return changes.isEmpty ? [] : [PlanReason(.frozen, record.run)] + changes
        case let .outputsMissing(missing, changes): return changes + missing.map { PlanReason(.outputMissing, $0) }
        case let .restored(outcome, changes): return changes + [PlanReason(.restore, outcome.run)]
        case let .changed(changes): return changes.isEmpty ? [PlanReason(.forced)] : changes
        case let .previousFailure(run, changes): return changes + [PlanReason(.previousFailure, run)]
        case let .upstreamRuns(stages): return stages.map { PlanReason(.upstream, $0) }
        case let .forced(changes): return [PlanReason(.forced)] + changes
        case let .drifted(detail, changes): return [PlanReason(.drifted, detail)] + changes
        case let .triggered(reason, changes): return [reason] + changes
        case let .pinned(pinned, pin, recorded):
            var reasons = [PlanReason(.pinned, "\(pin.source) run \(pin.run)")]
            if let recorded, recorded != pinned.fingerprint {
                reasons.append(PlanReason(.pinChanged, old: recorded.short, new: pinned.fingerprint.short))
            }
            return reasons
        }
    }

    /// The outputs (with their metrics and the run that made them) the stage takes instead of running.
    package var takenOutputs: (outputs: [String: Digest], metrics: [String: Double], run: String)? {
        switch self {
        case let .unchanged(record), let .frozen(record, _): return (record.outputs, record.metrics, record.run)
        case let .newRestored(outcome), let .restored(outcome, _): return (outcome.outputs, outcome.metrics, outcome.run)
        case let .pinned(pinned, pin, _): return (pinned.outputs, pinned.metrics, pin.run)
        default: return nil
        }
    }

    /// Whether the stage's record no longer says what the spec wants. Outputs merely missing from
    /// this machine's cache do not make it stale: the record still says what was validated.
    package var makesRecordStale: Bool {
        switch self {
        case .unchanged, .pinned, .frozen: return false
        case let .outputsMissing(_, changes), let .triggered(_, changes): return !changes.isEmpty
        default: return true
        }
    }
}
