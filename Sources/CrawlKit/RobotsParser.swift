/// Reads a robots.txt body for one product token (RFC 9309 §2.1-2.2,
/// https://www.rfc-editor.org/rfc/rfc9309#section-2): groups start with `user-agent` lines, the
/// groups naming our token (case-insensitively) are merged, else the `*` groups, and only their
/// `allow`/`disallow` rules and `crawl-delay` are kept. Lines that are not `key: value`, unknown
/// keys (`sitemap`) and rules before the first group are ignored, as the RFC asks of parsers.
public enum RobotsParser {
    /// The RFC's floor for what a crawler parses (§2.5: at least 500 kibibytes); the rest of a
    /// larger file is ignored.
    public static let byteLimit = 500 * 1024

    public struct Parsed: Sendable, Equatable {
        public var rules: RobotsRules
        /// Bytes past `byteLimit` that were not read (0 for a file within the limit).
        public var ignoredBytes: Int
    }

    /// Whether `token` can be a product token: letters, `_` and `-` only (§2.2.1).
    public static func isValidProductToken(_ token: String) -> Bool {
        !token.isEmpty && token.utf8.allSatisfy(isTokenByte)
    }

    public static func parse(_ body: [UInt8], productToken: String) -> Parsed {
        let ignored = max(0, body.count - byteLimit)
        var bytes = body.count > byteLimit ? Array(body[..<byteLimit]) : body
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        let token = productToken.lowercased()

        var ours = RobotsRules()
        var anyone = RobotsRules()
        var foundOurs = false
        var foundAnyone = false
        // The group being read: which of the two it feeds, and whether its user-agent lines ended.
        var feedsOurs = false
        var feedsAnyone = false
        var inRules = false

        for (number, line) in lines(bytes) {
            guard let (key, value) = keyValue(line) else { continue }
            switch key {
            case "user-agent", "useragent", "user agent":
                if inRules {
                    feedsOurs = false
                    feedsAnyone = false
                    inRules = false
                }
                let agent = value.lowercased()
                if agent == "*" || agent.hasPrefix("* ") {
                    feedsAnyone = true
                    foundAnyone = true
                } else if String(decoding: agent.utf8.prefix(while: isTokenByte), as: UTF8.self) == token {
                    feedsOurs = true
                    foundOurs = true
                }
            case "allow", "disallow":
                inRules = true
                // An empty value is no rule (§2.2.2 examples: `Disallow:` allows everything).
                guard !value.isEmpty else { continue }
                let rule = RobotsRules.Rule(
                    allow: key == "allow", pattern: RobotsRules.normalise(value), line: number)
                if feedsOurs { ours.rules.append(rule) }
                if feedsAnyone { anyone.rules.append(rule) }
            case "crawl-delay":
                inRules = true
                guard let seconds = Double(value), seconds.isFinite, seconds >= 0 else { continue }
                if feedsOurs { ours.crawlDelay = max(ours.crawlDelay ?? 0, seconds) }
                if feedsAnyone { anyone.crawlDelay = max(anyone.crawlDelay ?? 0, seconds) }
            default:
                // Other records (sitemap, host…) end no group and start none.
                continue
            }
        }
        let rules = foundOurs ? ours : foundAnyone ? anyone : RobotsRules()
        return Parsed(rules: rules, ignoredBytes: ignored)
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        (65...90).contains(b) || (97...122).contains(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    /// Lines (ended by LF, CR or CRLF) with their 1-based numbers, comments removed.
    static func lines(_ bytes: [UInt8]) -> [(Int, [UInt8])] {
        var out: [(Int, [UInt8])] = []
        var current: [UInt8] = []
        var number = 1
        var k = 0
        while k < bytes.count {
            let b = bytes[k]
            if b == 10 || b == 13 {
                out.append((number, current))
                current.removeAll(keepingCapacity: true)
                number += 1
                if b == 13, k + 1 < bytes.count, bytes[k + 1] == 10 { k += 1 }
            } else {
                current.append(b)
            }
            k += 1
        }
        if !current.isEmpty { out.append((number, current)) }
        return out.map { n, line in (n, Array(line.prefix { $0 != UInt8(ascii: "#") })) }
    }

    /// `key: value` with both trimmed and the key lower-cased; nil for anything else.
    static func keyValue(_ line: [UInt8]) -> (String, String)? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let key = trim(line[..<colon]).lowercased()
        guard !key.isEmpty else { return nil }
        return (key, trim(line[(colon + 1)...]))
    }

    private static func trim(_ s: ArraySlice<UInt8>) -> String {
        let blank: (UInt8) -> Bool = { $0 == 32 || $0 == 9 }
        let start = s.firstIndex { !blank($0) } ?? s.endIndex
        let end = s.lastIndex { !blank($0) }.map { $0 + 1 } ?? start
        return String(decoding: s[start..<max(start, end)], as: UTF8.self)
    }
}
