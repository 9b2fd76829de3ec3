/// `crawl.blockHosts`: host names the browser must not reach (ad, analytics, tag-manager hosts),
/// to spend less CPU per page. Chromium is told to answer "name not resolved" for them
/// (`--host-resolver-rules`, `MAP pattern ~NOTFOUND`, rules tried in order, first match wins):
/// the request fails in the browser before any connection, and the page loads without it.
/// It works over classic WebDriver (a command-line switch), but only where the browser resolves
/// names itself: not through `crawl.proxy` (the proxy resolves them) and not for IP addresses.
extension CrawlOptions {
    /// The rules for `blockHosts`: a name blocks itself and every name under it
    /// (`ads.example` blocks `x.ads.example` too); `*` matches any characters, as Chromium's
    /// pattern does.
    public var hostResolverRules: String? {
        guard !blockHosts.isEmpty else { return nil }
        var rules: [String] = []
        for raw in blockHosts {
            let host = raw.lowercased()
            rules.append("MAP \(host) ~NOTFOUND")
            if !host.hasPrefix("*") { rules.append("MAP *.\(host) ~NOTFOUND") }
        }
        return rules.joined(separator: ", ")
    }

    /// The browser arguments with the block rules first in `--host-resolver-rules`, before any
    /// rules of the job's own `browserArgs` (so a job's mapping cannot undo a block).
    public func withHostResolverRules(_ args: [String]) -> [String] {
        guard let rules = hostResolverRules else { return args }
        let key = "--host-resolver-rules="
        var out = args.filter { !$0.hasPrefix(key) }
        let own = args.first { $0.hasPrefix(key) }.map { String($0.dropFirst(key.count)) }
        out.append(key + rules + (own.map { ", " + $0 } ?? ""))
        return out
    }

    /// Why `blockHosts` cannot be honoured with these options, if it cannot.
    public func blockHostsProblem() -> String? {
        guard !blockHosts.isEmpty else { return nil }
        guard isChromeFamily else { return "is supported for chrome, chromium and MicrosoftEdge only" }
        if proxy != nil {
            return "cannot be combined with crawl.proxy: the proxy resolves host names, not the browser"
        }
        return nil
    }

    /// What is wrong with one `blockHosts` entry, if anything.
    public static func hostPatternProblem(_ pattern: String) -> String? {
        let example = "a host name such as ads.example.com, or a pattern such as *.ads.example.com"
        if pattern.isEmpty { return "must not be empty" }
        if pattern.contains("://") || pattern.contains("/") { return "expected \(example), not a URL" }
        if IPAddress(pattern) != nil || pattern.hasPrefix("[") {
            return "an IP address is not looked up by name, so it cannot be blocked this way; expected \(example)"
        }
        if pattern.contains(":") { return "expected \(example), without a port" }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.*_")
        if let bad = pattern.first(where: { !allowed.contains($0) }) {
            return "\"\(bad)\" cannot be in a host name; expected \(example)"
        }
        if pattern.hasPrefix(".") || pattern.hasSuffix(".") || pattern.contains("..") {
            return "expected \(example) (an empty label)"
        }
        if pattern.allSatisfy({ $0 == "*" || $0 == "." }) { return "would block every host; expected \(example)" }
        return nil
    }
}
