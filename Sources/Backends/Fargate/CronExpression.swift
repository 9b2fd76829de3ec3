import Foundation

/// `cron(m h dom mon dow y)` as EventBridge Scheduler reads it: each field a set of values, with
/// the day fields' extras (L, W, #). https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based
public struct CronExpression: Sendable, Equatable {
    public let text: String
    var minutes: Set<Int>
    var hours: Set<Int>
    var months: Set<Int>
    var years: Set<Int>
    var dayOfMonth: DayRule
    var dayOfWeek: DayRule

    /// A day field: `?` (any), plain values, or the extras.
    enum DayRule: Sendable, Equatable {
        case any
        case values(Set<Int>)
        case lastDayOfMonth
        case nearestWeekday(Int)  // nW
        case lastWeekdayOfMonth(Int)  // nL in day-of-week
        case nthWeekday(Int, Int)  // n#k
    }

    static let fieldNames = ["minutes", "hours", "day-of-month", "month", "day-of-week", "year"]
    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    init(_ body: String, option: String) throws(ScheduleExpressionError) {
        text = body
        let fields = body.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 6 else {
            throw ScheduleExpressionError(
                option,
                "cron(…) takes six fields (minutes hours day-of-month month day-of-week year), got \(fields.count) in \"cron(\(body))\""
            )
        }
        func place(_ i: Int) -> String { "\(option) \(Self.fieldNames[i])" }
        minutes = try Self.values(fields[0], 0...59, [:], place(0), expected: "0-59 with , - * /")
        hours = try Self.values(fields[1], 0...23, [:], place(1), expected: "0-23 with , - * /")
        months = try Self.values(
            fields[3], 1...12, Self.names(Self.monthNames), place(3), expected: "1-12 or JAN-DEC with , - * /")
        years = try Self.values(fields[5], 1970...2199, [:], place(5), expected: "1970-2199 with , - * /")
        dayOfMonth = try Self.dayOfMonth(fields[2], place(2))
        dayOfWeek = try Self.dayOfWeek(fields[4], place(4))
        if (dayOfMonth == .any) == (dayOfWeek == .any) {
            throw ScheduleExpressionError(
                "\(option) day-of-month/day-of-week",
                "exactly one of the two must be ? (for example cron(0 3 * * ? *) or cron(0 3 ? * MON-FRI *)), got \"\(fields[2])\" and \"\(fields[4])\""
            )
        }
    }

    static func names(_ list: [String]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: list.enumerated().map { ($1, $0 + 1) })
    }

    /// `*`, `v`, `a-b`, `a/s`, `*/s`, `a-b/s`, joined by commas.
    static func values(
        _ field: String, _ range: ClosedRange<Int>, _ names: [String: Int], _ place: String, expected: String
    ) throws(ScheduleExpressionError) -> Set<Int> {
        let bad = ScheduleExpressionError(place, "expected \(expected), got \"\(field)\"")
        func number(_ s: Substring) throws(ScheduleExpressionError) -> Int {
            guard let n = Int(s) ?? names[s.uppercased()], range.contains(n) else { throw bad }
            return n
        }
        var out: Set<Int> = []
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = part.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2, let base = stepParts.first, !base.isEmpty else { throw bad }
            var step = 1
            if stepParts.count == 2 {
                guard let s = Int(stepParts[1]), s > 0 else { throw bad }
                step = s
            }
            var low = range.lowerBound
            var high = range.upperBound
            if base != "*" {
                let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw bad }
                low = try number(bounds[0])
                high = bounds.count == 2 ? try number(bounds[1]) : (stepParts.count == 2 ? range.upperBound : low)
                guard low <= high else { throw bad }
            }
            out.formUnion(stride(from: low, through: high, by: step))
        }
        return out
    }

    static func dayOfMonth(_ f: String, _ place: String) throws(ScheduleExpressionError) -> DayRule {
        if f == "?" { return .any }
        if f == "L" { return .lastDayOfMonth }
        if f.hasSuffix("W"), let n = Int(f.dropLast()), (1...31).contains(n) { return .nearestWeekday(n) }
        return .values(try values(f, 1...31, [:], place, expected: "1-31 with , - * / ? L W"))
    }

    static func dayOfWeek(_ f: String, _ place: String) throws(ScheduleExpressionError) -> DayRule {
        let names = Self.names(dayNames)
        func day(_ s: Substring) -> Int? { Int(s).flatMap { (1...7).contains($0) ? $0 : nil } ?? names[s.uppercased()] }
        if f == "?" { return .any }
        if f == "L" { return .values([7]) }
        if f.hasSuffix("L"), let d = day(f.dropLast()) { return .lastWeekdayOfMonth(d) }
        let hash = f.split(separator: "#")
        if hash.count == 2, let d = day(hash[0]), let k = Int(hash[1]), (1...5).contains(k) { return .nthWeekday(d, k) }
        return .values(try values(f, 1...7, names, place, expected: "1-7 or SUN-SAT with , - * ? L #"))
    }

    /// The first minute strictly after `date` that every field allows, searched day by day
    /// (at most eight years ahead: a 29 February on a Monday recurs within 28).
    func nextFire(after date: Date, calendar: Calendar) -> Date? {
        guard var day = calendar.date(from: calendar.dateComponents([.year, .month, .day], from: date)) else {
            return nil
        }
        let hourList = hours.sorted()
        let minuteList = minutes.sorted()
        for _ in 0..<(366 * 30) {
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            guard let y = c.year, let m = c.month, let d = c.day, let wd = c.weekday else { return nil }
            if y > (years.max() ?? 2199) { return nil }
            if years.contains(y), months.contains(m), let last = calendar.range(of: .day, in: .month, for: day)?.count,
                Self.matches(dayOfMonth, day: d, weekday: wd, last: last, y: y, m: m, calendar: calendar),
                Self.matches(
                    dayOfWeek, weekField: true, day: d, weekday: wd, last: last, y: y, m: m, calendar: calendar)
            {
                for h in hourList {
                    for mi in minuteList {
                        guard
                            let t = calendar.date(from: DateComponents(year: y, month: m, day: d, hour: h, minute: mi)),
                            t > date, calendar.component(.hour, from: t) == h
                        else { continue }
                        return t
                    }
                }
            }
            guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { return nil }
            day = next
        }
        return nil
    }

    static func matches(
        _ rule: DayRule, weekField: Bool = false, day d: Int, weekday wd: Int, last: Int, y: Int, m: Int,
        calendar: Calendar
    ) -> Bool {
        switch rule {
        case .any: return true
        case .values(let set): return set.contains(weekField ? wd : d)
        case .lastDayOfMonth: return d == last
        case .lastWeekdayOfMonth(let w): return wd == w && d + 7 > last
        case .nthWeekday(let w, let k): return wd == w && (d - 1) / 7 + 1 == k
        case .nearestWeekday(let n):
            // The weekday nearest the nth, never crossing into another month.
            let target = min(n, last)
            guard let date = calendar.date(from: DateComponents(year: y, month: m, day: target)) else { return false }
            let twd = calendar.component(.weekday, from: date)
            var nearest = target
            if twd == 7 { nearest = target == 1 ? 3 : target - 1 }
            if twd == 1 { nearest = target == last ? target - 2 : target + 1 }
            return d == nearest
        }
    }
}
