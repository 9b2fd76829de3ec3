#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where a URL's robots.txt lives: one file per scheme, host and port (RFC 9309 §2.3), and the
/// part of the URL its rules are matched against (path and query, §2.2.2).
public struct RobotsOrigin: Sendable, Hashable {
    public var scheme: String
    public var host: String
    public var port: Int
    public var pathAndQuery: String

    public init?(url raw: String) {
        guard let components = URLComponents(string: String(raw.split(whereSeparator: \.isWhitespace).first ?? "")),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host?.lowercased(), !host.isEmpty
        else { return nil }
        self.scheme = scheme
        self.host = host
        port = components.port ?? (scheme == "https" ? 443 : 80)
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        pathAndQuery = path + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    /// The key of the batch file's `crawl.robots` map: `http://host:port`.
    public var key: String { "\(scheme)://\(host):\(port)" }
    /// The robots.txt URL (IPv6 literals in brackets).
    public var robotsURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(h):\(port)/robots.txt"
    }
}
