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
}
