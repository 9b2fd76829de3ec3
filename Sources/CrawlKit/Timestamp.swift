#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// UTC timestamps in ISO 8601 with milliseconds, e.g. 2026-11-21T10:37:00.123Z.
public enum Timestamp {
    public static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return format(seconds: ts.tv_sec, milliseconds: Int(ts.tv_nsec / 1_000_000))
    }

    /// Seconds since 1970 (CLOCK_REALTIME).
    public static func epochSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The inverse of `format`: `2026-11-21T10:37:00.123Z` (the milliseconds optional) → seconds
    /// since 1970; nil when it is not such a stamp.
    public static func epochSeconds(of stamp: String) -> Double? {
        let u = Array(stamp.utf8)
        guard u.count >= 20, u[4] == 45, u[7] == 45, u[10] == 84, u[13] == 58, u[16] == 58 else { return nil }
        func number(_ from: Int, _ to: Int) -> Int? {
            var n = 0
            for c in u[from..<to] {
                guard (48...57).contains(c) else { return nil }
                n = n * 10 + Int(c - 48)
            }
            return n
        }
        guard let y = number(0, 4), let mo = number(5, 7), let d = number(8, 10), let h = number(11, 13),
            let mi = number(14, 16), let s = number(17, 19)
        else { return nil }
        let fraction = u.count >= 23 && u[19] == 46 ? Double(number(20, 23) ?? 0) / 1000 : 0
        let days = daysSince1970(year: y, month: mo, day: d)
        return Double(days * 86400 + h * 3600 + mi * 60 + s) + fraction
    }

    public static func format(epochSeconds t: Double) -> String {
        let whole = t.rounded(.down)
        return format(seconds: Int(whole), milliseconds: min(999, Int(((t - whole) * 1000).rounded(.down))))
    }

    public static func format(seconds: Int, milliseconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds), 3))Z"
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    public static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }
}
