import Foundation

/// An EventBridge Scheduler schedule expression, checked before any call so a mistake is named
/// here (which field, what was expected) rather than by the service after the job file was
/// uploaded. The rules are the service's:
/// https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
///   cron(minutes hours day-of-month month day-of-week year), six fields; one of day-of-month
///   and day-of-week must be `?`; rate(value unit) with a positive whole value and minute(s),
///   hour(s) or day(s) (singular for 1); at(yyyy-mm-ddThh:mm:ss).
public enum ScheduleExpression: Sendable, Equatable {
    case cron(CronExpression)
    case rate(value: Int, unit: String)
    case at(DateComponents)

    public static func parse(_ text: String, option: String = "--cron") throws(ScheduleExpressionError) -> Self {
        let t = text.trimmingCharacters(in: .whitespaces)
        func inner(_ prefix: String) -> String? {
            guard t.hasPrefix(prefix + "("), t.hasSuffix(")") else { return nil }
            return String(t.dropFirst(prefix.count + 1).dropLast())
        }
        if let body = inner("cron") { return .cron(try CronExpression(body, option: option)) }
        if let body = inner("rate") { return try rate(body, option: option) }
        if let body = inner("at") { return try at(body, option: option) }
        throw ScheduleExpressionError(
            option,
            "expected cron(minutes hours day-of-month month day-of-week year), rate(value unit) or "
                + "at(yyyy-mm-ddThh:mm:ss), got \"\(text)\"")
    }

    static func rate(_ body: String, option: String) throws(ScheduleExpressionError) -> Self {
        let parts = body.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, let value = Int(parts[0]), value > 0 else {
            throw ScheduleExpressionError(
                option, "rate(value unit) takes a positive whole number and a unit, got \"rate(\(body))\"")
        }
        let unit = String(parts[1])
        let expected = value == 1 ? ["minute", "hour", "day"] : ["minutes", "hours", "days"]
        guard expected.contains(unit) else {
            throw ScheduleExpressionError(
                option, "rate(\(value) …): the unit is \(expected.joined(separator: ", ")), got \"\(unit)\"")
        }
        return .rate(value: value, unit: unit)
    }

    static func at(_ body: String, option: String) throws(ScheduleExpressionError) -> Self {
        let numbers = body.split(whereSeparator: { "-T:".contains($0) }).map { Int($0) }
        let shape = Array(body).enumerated().allSatisfy { i, c in
            [4, 7].contains(i)
                ? c == "-" : i == 10 ? c == "T" : [13, 16].contains(i) ? c == ":" : c.isASCII && c.isNumber
        }
        guard body.count == 19, shape, numbers.count == 6, let y = numbers[0], let mo = numbers[1], let d = numbers[2],
            let h = numbers[3], let mi = numbers[4], let s = numbers[5], (1...12).contains(mo), (1...31).contains(d),
            (0...23).contains(h), (0...59).contains(mi), (0...59).contains(s)
        else {
            throw ScheduleExpressionError(option, "at(…) takes yyyy-mm-ddThh:mm:ss, got \"at(\(body))\"")
        }
        return .at(DateComponents(year: y, month: mo, day: d, hour: h, minute: mi, second: s))
    }

    /// The first fire strictly after `date` in `timeZone`; nil for a rate (it counts from the
    /// schedule's creation) or when nothing is left (an at() in the past, a cron's last year).
    public func nextFire(after date: Date, timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        switch self {
        case .rate: return nil
        case .at(let c):
            guard let d = calendar.date(from: c), d > date else { return nil }
            return d
        case .cron(let cron): return cron.nextFire(after: date, calendar: calendar)
        }
    }

    /// "every 5 minutes", "cron(0 3 * * ? *)": for `schedule list`.
    public var summary: String {
        switch self {
        case .rate(let value, let unit): return value == 1 ? "every \(unit)" : "every \(value) \(unit)"
        case .cron(let c): return "cron(\(c.text))"
        case .at(let c):
            return String(
                format: "once at %04d-%02d-%02dT%02d:%02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0,
                c.minute ?? 0, c.second ?? 0)
        }
    }
}

/// A bad schedule expression: where (the option, the field) and what was expected.
public struct ScheduleExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var place: String
    public var message: String
    init(_ place: String, _ message: String) {
        self.place = place
        self.message = message
    }
    public var description: String { "\(place): \(message)" }
}
