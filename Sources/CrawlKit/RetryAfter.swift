/// `Retry-After` (RFC 9110 §10.2.3, https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3):
/// delay-seconds, or an HTTP-date (§5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime
/// forms a recipient must accept).
public enum RetryAfter {
    /// Seconds to wait from `now` (seconds since 1970), or nil for a value that is neither
    /// form. A date in the past is 0.
    public static func seconds(_ value: String, now: Double) -> Double? {
        let v = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        if !v.isEmpty, v.utf8.allSatisfy({ (48...57).contains($0) }) {
            return Double(v.prefix(12)).map { min($0, 1e9) }
        }
        guard let date = httpDate(String(v)) else { return nil }
        return max(0, date - now)
    }

    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// An HTTP-date as seconds since 1970 (GMT), or nil.
    public static func httpDate(_ s: String) -> Double? {
        let words = s.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        var day: Int?
        var month: Int?
        var year: Int?
        var time: [Int]?
        switch words.count {
        case 4 where words.last?.uppercased() == "GMT" && words[1].contains("-"):
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let parts = words[1].split(separator: "-").map(String.init)
            guard parts.count == 3 else { return nil }
            day = Int(parts[0])
            month = monthNumber(parts[1])
            year = Int(parts[2]).map { $0 < 50 ? 2000 + $0 : $0 < 100 ? 1900 + $0 : $0 }
            time = clock(words[2])
        case 6 where words.last?.uppercased() == "GMT":
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            day = Int(words[1])
            month = monthNumber(words[2])
            year = Int(words[3])
            time = clock(words[4])
        case 5:
            // asctime: Sun Nov  6 08:49:37 1994
            month = monthNumber(words[1])
            day = Int(words[2])
            time = clock(words[3])
            year = Int(words[4])
        default:
            return nil
        }
        guard let day, let month, let year, let time, (1...31).contains(day), year >= 1970 else { return nil }
        return Double(Timestamp.daysSince1970(year: year, month: month, day: day)) * 86_400
            + Double(time[0] * 3600 + time[1] * 60 + time[2])
    }

    static func monthNumber(_ s: String) -> Int? { months.firstIndex(of: s.lowercased()).map { $0 + 1 } }

    static func clock(_ s: String) -> [Int]? {
        let parts = s.split(separator: ":").compactMap { Int($0) }
        guard parts.count == 3, parts[0] < 24, parts[1] < 60, parts[2] < 61 else { return nil }
        return parts
    }
}
