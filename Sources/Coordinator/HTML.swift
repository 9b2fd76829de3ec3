/// Text for report.html: escaping, and numbers and times written the same way everywhere.
enum HTML {
    /// Escapes for both text and double- or single-quoted attribute values (HTML Living Standard,
    /// 13.1.2.3 and 13.1.2.6): `& < > " '`. Everything from a URL, a reason or a task id goes
    /// through here.
    static func escape(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 38 || $0 == 60 || $0 == 62 || $0 == 34 || $0 == 39 }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A link for a URL a page had, only for http(s) ones: a `javascript:` example must not be
    /// one click from running in the report's origin.
    static func link(_ url: String) -> String {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return escape(url) }
        return "<a href=\"\(escape(url))\" rel=\"noreferrer\">\(escape(url))</a>"
    }

    /// At most `limit` characters, with "…" when cut.
    static func truncate(_ s: String, _ limit: Int) -> String {
        s.count <= limit ? s : String(s.prefix(limit - 1)) + "…"
    }

    /// One decimal, without Foundation's formatter (tens of thousands of coordinates per page);
    /// "12" rather than "12.0".
    static func fixed(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let tenths = Int((x * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let m = tenths.magnitude
        return m % 10 == 0 ? "\(sign)\(m / 10)" : "\(sign)\(m / 10).\(m % 10)"
    }

    /// Thousands separated by a thin space: 20 000.
    static func count(_ n: Int) -> String {
        var digits = String(n.magnitude)
        var i = digits.count - 3
        while i > 0 {
            digits.insert("\u{202F}", at: digits.index(digits.startIndex, offsetBy: i))
            i -= 3
        }
        return (n < 0 ? "-" : "") + digits
    }

    /// "3.5 s", "2 min 5 s", "1 h 3 min"; `whole` drops the tenths (axis labels).
    static func duration(_ s: Double, whole: Bool = false) -> String {
        if s < 60 { return whole || s.rounded() == s ? "\(Int(s.rounded())) s" : fixed(s) + " s" }
        let total = Int(s.rounded())
        let (h, m, sec) = (total / 3600, total % 3600 / 60, total % 60)
        if h > 0 { return m > 0 ? "\(h) h \(m) min" : "\(h) h" }
        return sec > 0 ? "\(m) min \(sec) s" : "\(m) min"
    }

    /// Seconds since 1970 of a `Timestamp` (2026-11-21T10:37:00.123Z); nil when it is not one.
    static func epochSeconds(_ stamp: String) -> Double? {
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
        guard var y = number(0, 4), let mo = number(5, 7), let d = number(8, 10), let h = number(11, 13),
            let mi = number(14, 16), let s = number(17, 19)
        else { return nil }
        let fraction = u.count >= 23 && u[19] == 46 ? Double(number(20, 23) ?? 0) / 1000 : 0
        // Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "days_from_civil").
        y -= mo <= 2 ? 1 : 0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468
        return Double(days * 86400 + h * 3600 + mi * 60 + s) + fraction
    }
}
