import Foundation

/// A cron expression (`0 3 1 * *`: minute, hour, day of month, month, day of week), as crontab(5)
/// reads it: `*`, lists, ranges, steps (`*/15`, `1-5/2`), month and weekday names, 7 for Sunday,
/// and `@hourly` … `@yearly`. When both day fields are restricted a day matching either runs, as
/// in cron. Evaluated in a time zone (UTC unless the schedule names one).
package struct CronSchedule: Sendable, Hashable {
    package let expression: String
    let minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    let daysRestricted: Bool, weekdaysRestricted: Bool

    static let macros = ["@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                         "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"]
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let weekdayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses `expression`; the error says which field is wrong and why.
    package init(_ expression: String) throws(CronError) {
        self.expression = expression
        let text = Self.macros[expression.lowercased()] ?? expression
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw CronError("has \(fields.count) field\(fields.count == 1 ? "" : "s"); cron has 5: minute hour day-of-month month day-of-week")
        }
        minutes = try Self.field(fields[0], "minute", 0...59, names: [])
        hours = try Self.field(fields[1], "hour", 0...23, names: [])
        days = try Self.field(fields[2], "day of month", 1...31, names: [])
        months = try Self.field(fields[3], "month", 1...12, names: Self.monthNames, firstName: 1)
        // 7 is Sunday too.
        weekdays = Set(try Self.field(fields[4], "day of week", 0...7, names: Self.weekdayNames, firstName: 0).map { $0 % 7 })
        daysRestricted = !fields[2].hasPrefix("*")
        weekdaysRestricted = !fields[4].hasPrefix("*")
    }

    private static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String], firstName: Int = 0) throws(CronError) -> Set<Int> {
        func value(_ token: String) throws(CronError) -> Int {
            if let i = names.firstIndex(of: token.lowercased()) { return i + firstName }
            guard let n = Int(token), range.contains(n) else {
                throw CronError("\(name) '\(token)' is not in \(range.lowerBound)–\(range.upperBound)\(names.isEmpty ? "" : " or a name (\(names.prefix(3).joined(separator: ", ")), …)")")
            }
            return n
        }
        var out: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count <= 2, let span = pieces.first, !span.isEmpty else { throw CronError("\(name) '\(part)' is not a value, range or step") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else { throw CronError("the step in \(name) '\(part)' must be a positive number") }
                step = s
            }
            let low: Int, high: Int
            if span == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = span.firstIndex(of: "-") {
                low = try value(String(span[..<dash])); high = try value(String(span[span.index(after: dash)...]))
                guard low <= high else { throw CronError("the range in \(name) '\(part)' runs backwards") }
            } else {
                low = try value(span)
                high = pieces.count == 2 ? range.upperBound : low
            }
            out.formUnion(stride(from: low, through: high, by: step))
        }
        return out
    }

    /// The latest moment the schedule names at or before `date` (to the minute), looking back at
    /// most five years; nil if there is none (`0 0 31 2 *`: February has no 31st).
    package func previous(atOrBefore date: Date, in zone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let hoursDescending = hours.sorted(by: >), minutesDescending = minutes.sorted(by: >)
        let now = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        guard var day = calendar.date(from: DateComponents(year: now.year, month: now.month, day: now.day)) else { return nil }
        for offset in 0..<(5 * 366) {
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            if let month = c.month, let dayOfMonth = c.day, let weekday = c.weekday, months.contains(month) {
                let byDay = days.contains(dayOfMonth), byWeekday = weekdays.contains(weekday - 1)
                let matches = daysRestricted && weekdaysRestricted ? (byDay || byWeekday) : (byDay && byWeekday)
                if matches {
                    for hour in hoursDescending where offset > 0 || hour <= now.hour! {
                        for minute in minutesDescending where offset > 0 || hour < now.hour! || minute <= now.minute! {
                            if let moment = calendar.date(bySettingHour: hour, minute: minute, second: 0, of: day), moment <= date {
                                return moment
                            }
                        }
                    }
                }
            }
            guard let earlier = calendar.date(byAdding: .day, value: -1, to: day) else { return nil }
            day = earlier
        }
        return nil
    }
}

/// Why a cron expression does not parse.
package struct CronError: Error, Sendable, Equatable {
    package var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// An environment's `schedule:` entry: on each tick, the chosen stages run again even when
/// nothing changed (a refreshed external source, monthly maintenance).
package struct Schedule: Sendable, Hashable {
    package var cron: CronSchedule
    /// Where the expression's times are read; UTC unless the entry names a zone.
    package var zone: TimeZone
    /// The stages it reruns; nil: every stage the environment runs.
    package var stages: [String]?

    package init(cron: CronSchedule, zone: TimeZone = TimeZone(identifier: "UTC")!, stages: [String]? = nil) {
        self.cron = cron; self.zone = zone; self.stages = stages
    }

    /// The tick a stage that last ran at `ran` has missed by `now`, if any.
    package func missedTick(lastRan ran: Date, now: Date) -> Date? {
        guard let tick = cron.previous(atOrBefore: now, in: zone), tick > ran else { return nil }
        return tick
    }

    /// `2026-12-01 03:00 UTC`, in the schedule's zone.
    package static func describe(_ tick: Date, in zone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: tick) + " " + (zone.identifier == "GMT" ? "UTC" : zone.identifier)
    }
}
