import Foundation

/// Durations for people: `0.4s`, `1m 12s`, `3h 5m`, `12d 4h`.
///
/// Total over every Double, since durations also come from records (a run record's `duration`,
/// `finishedAt − startedAt`) that a hostile commit can fill with anything JSON holds: a negative,
/// NaN or astronomically large value prints as text instead of trapping in an `Int` conversion.
package func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return seconds.isNaN ? "?" : "forever" }
    if seconds < 0 { return "-" + formatDuration(-seconds) }
    if seconds < 10 { return String(format: "%.1fs", seconds) }
    if seconds < 60 { return String(format: "%.0fs", seconds) }
    // Past a million years the exact figure means nothing to anyone, and Int is never reached.
    guard seconds < 3.2e13 else { return String(format: "%.3gs", seconds) }
    let total = Int(seconds)
    let m = total / 60, s = total % 60
    if m < 60 { return "\(m)m \(s)s" }
    let h = m / 60
    if h < 48 { return "\(h)h \(m % 60)m" }
    return "\(h / 24)d \(h % 24)h"
}
