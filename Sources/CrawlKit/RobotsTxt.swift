/// What one host's robots.txt says to our product token, reduced to the group that applies
/// (RFC 9309, https://www.rfc-editor.org/rfc/rfc9309). A plain value: the coordinator fetches and
/// parses once per host per run and hands the result to every task in its batch file, where the
/// crawler asks `allows(_:)` before each URL.
public struct RobotsRules: Codable, Sendable, Equatable {
    public struct Rule: Codable, Sendable, Equatable {
        public var allow: Bool
        /// The path pattern as written, percent-encoding normalised (`*` any run, `$` the end).
        public var pattern: String
        /// Its line in robots.txt, for the record's message.
        public var line: Int
        public init(allow: Bool, pattern: String, line: Int) {
            self.allow = allow
            self.pattern = pattern
            self.line = line
        }
    }

    /// The rules of the groups that apply (all groups naming the product token merged, else the
    /// `*` groups merged, else none).
    public var rules: [Rule]
    /// `Crawl-delay` of the applying group, seconds (not in RFC 9309; the common extension): a
    /// floor under the host's pace.
    public var crawlDelay: Double?
    /// Set when the whole host is off limits for the run (robots.txt answered 5xx, or could not
    /// be fetched: RFC 9309 §2.3.1.3-4), with why.
    public var disallowAll: String?

    public init(rules: [Rule] = [], crawlDelay: Double? = nil, disallowAll: String? = nil) {
        self.rules = rules
        self.crawlDelay = crawlDelay
        self.disallowAll = disallowAll
    }

    /// Everything allowed: robots.txt answered 4xx, or `crawl.robotsTxt` is `ignore`.
    public static let allowAll = RobotsRules()

    /// The rule that decides `path` (path and query, as in the URL), or nil when none matches
    /// (allowed). The longest pattern wins; of an Allow and a Disallow equally long, Allow
    /// (§2.2.2). `/robots.txt` itself is always allowed (§2.2.2).
    public func decidingRule(for path: String) -> Rule? {
        let target = Self.normalise(path.isEmpty ? "/" : path)
        if target == "/robots.txt" { return nil }
        var best: Rule?
        var bestLength = -1
        for rule in rules where Self.matches(pattern: Array(rule.pattern.utf8), path: Array(target.utf8)) {
            let length = rule.pattern.utf8.count
            if length > bestLength || (length == bestLength && rule.allow && best?.allow == false) {
                best = rule
                bestLength = length
            }
        }
        return best
    }

    /// Why `path` may not be crawled, or nil when it may.
    public func refusal(for path: String) -> String? {
        if let disallowAll { return disallowAll }
        guard let rule = decidingRule(for: path), !rule.allow else { return nil }
        return "robots.txt line \(rule.line) (Disallow: \(rule.pattern)) disallows \(path.isEmpty ? "/" : path)"
    }

    /// Whether `pattern` matches a prefix of `path` (the whole of it when the pattern ends in
    /// `$`), `*` matching any run of octets (§2.2.3).
    static func matches(pattern: [UInt8], path: [UInt8]) -> Bool {
        let star = UInt8(ascii: "*")
        var p = pattern
        let anchored = p.last == UInt8(ascii: "$")
        if anchored { p.removeLast() } else { p.append(star) }
        // Wildcard matching with one backtrack point: O(n·m) at worst, linear in practice.
        var i = 0
        var j = 0
        var starAt = -1
        var resume = 0
        while j < path.count {
            if i < p.count && p[i] != star && p[i] == path[j] {
                i += 1
                j += 1
            } else if i < p.count && p[i] == star {
                starAt = i
                resume = j
                i += 1
            } else if starAt >= 0 {
                i = starAt + 1
                resume += 1
                j = resume
            } else {
                return false
            }
        }
        while i < p.count && p[i] == star { i += 1 }
        return i == p.count
    }

    /// Percent-encodes octets outside printable ASCII and upper-cases the hex of existing
    /// escapes, so that `/a%3c` and `/a%3C`, `/ä` and `/%C3%A4` compare equal (§2.2.2).
    static func normalise(_ s: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        let bytes = Array(s.utf8)
        var k = 0
        while k < bytes.count {
            let b = bytes[k]
            if b == UInt8(ascii: "%"), k + 2 < bytes.count, isHex(bytes[k + 1]), isHex(bytes[k + 2]) {
                out += [b, upper(bytes[k + 1]), upper(bytes[k + 2])]
                k += 3
                continue
            }
            if b <= 0x20 || b >= 0x7F {
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            } else {
                out.append(b)
            }
            k += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isHex(_ b: UInt8) -> Bool {
        (48...57).contains(b) || (65...70).contains(b) || (97...102).contains(b)
    }
    private static func upper(_ b: UInt8) -> UInt8 { (97...102).contains(b) ? b - 32 : b }
}
