import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `crawl.proxy`: the proxy every page load goes through, as the W3C `proxy` capability's manual
/// form (https://www.w3.org/TR/webdriver2/#proxy): one `http://HOST:PORT` for http and https
/// (`httpProxy` and `sslProxy`), and `noProxy`, the hosts reached directly. In a job either the
/// URL alone or `{"url": "http://proxy:3128", "noProxy": ["*.internal", "<-loopback>"]}`.
public struct ProxyOption: Codable, Sendable, Equatable {
    public var url: String
    public var noProxy: [String]

    public init(url: String, noProxy: [String] = []) {
        self.url = url
        self.noProxy = noProxy
    }

    enum CodingKeys: String, CodingKey { case url, noProxy }

    public init(from decoder: any Decoder) throws {
        if let url = try? decoder.singleValueContainer().decode(String.self) {
            self.init(url: url)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            url: try c.decode(String.self, forKey: .url),
            noProxy: try c.decodeIfPresent([String].self, forKey: .noProxy) ?? [])
    }

    /// `HOST:PORT` as the capability's `httpProxy` wants it (no scheme), or why the URL cannot be
    /// one. Only plain `http://` proxies: W3C's manual proxy has no credentials (Chrome would ask
    /// for them in a dialog no crawler can answer), and a SOCKS proxy is another capability.
    public static func hostPort(_ url: String) -> Result<String, ProxyProblem> {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(),
            let host = parts.host, !host.isEmpty
        else {
            return .failure(ProxyProblem("\"\(url)\" is not a proxy URL: write it as http://HOST:PORT"))
        }
        guard scheme == "http" else {
            return .failure(
                ProxyProblem("\"\(url)\": only http:// proxies are supported (W3C manual proxy), not \(scheme)://"))
        }
        if parts.user != nil || parts.password != nil {
            return .failure(
                ProxyProblem(
                    "the proxy URL holds credentials, which a browser cannot send from a capability; allow the task's address at the proxy instead"
                ))
        }
        if !(parts.path.isEmpty || parts.path == "/") || parts.query != nil || parts.fragment != nil {
            return .failure(ProxyProblem("\"\(url)\": a proxy URL is http://HOST:PORT, with no path or query"))
        }
        let shown = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return .success(parts.port.map { "\(shown):\($0)" } ?? shown)
    }

    /// The W3C `proxy` capability (manual: `httpProxy`, `sslProxy`, `noProxy`), nil when the URL
    /// is not a valid proxy (the job was refused before).
    public var capability: [String: String]? {
        guard case .success(let hostPort) = Self.hostPort(url) else { return nil }
        return ["httpProxy": hostPort, "sslProxy": hostPort]
    }
}

/// Why a proxy URL cannot be used.
public struct ProxyProblem: Error, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

extension CrawlOptions {
    /// Problems in `userAgent`, `headers`, `proxy` and `cookies` a decoder cannot see, each as
    /// (key path under `crawl`, message). Values never appear in a message: a header or a cookie
    /// may hold a secret.
    public func requestProblems() -> [(key: String, message: String)] {
        var out: [(String, String)] = []
        if let userAgent, userAgent.contains(where: \.isNewline) {
            out.append(("userAgent", "must be one line of text"))
        }
        for name in (headers ?? [:]).keys.sorted() {
            let key = "headers.\(name)"
            if !Self.isToken(name) {
                out.append((key, "is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"))
            } else if ["host", "cookie", "user-agent", "content-length", "connection"].contains(name.lowercased()) {
                let hint =
                    switch name.lowercased() {
                    case "cookie": "use crawl.cookies"
                    case "user-agent": "use crawl.userAgent"
                    default: "the browser sets it"
                    }
                out.append((key, "cannot be set as an extra header: \(hint)"))
            } else if let value = headers?[name], value.contains(where: { $0.isNewline || $0 == "\0" }) {
                out.append((key, "the value must be one line"))
            }
        }
        if let proxy {
            if case .failure(let problem) = ProxyOption.hostPort(proxy.url) {
                out.append(("proxy", problem.message))
            }
            for (i, host) in proxy.noProxy.enumerated() where host.isEmpty || host.contains(where: \.isWhitespace) {
                out.append(("proxy.noProxy[\(i)]", "must be a host pattern without spaces"))
            }
        }
        for host in (cookies ?? [:]).keys.sorted() {
            if !Self.isCookieHost(host) {
                out.append(
                    (
                        "cookies.\(host)",
                        "is not a host name: write the host alone (shop.example.com, or .example.com for every subdomain), no scheme, port or path"
                    ))
                continue
            }
            for name in (cookies?[host] ?? [:]).keys.sorted() {
                let key = "cookies.\(host).\(name)"
                if !Self.isToken(name) {
                    out.append((key, "is not a cookie name (letters, digits and !#$%&'*+-.^_`|~ only)"))
                } else if let value = cookies?[host]?[name],
                    value.unicodeScalars.contains(where: {
                        $0.value < 0x21 || $0.value > 0x7e || ";,\"\\".unicodeScalars.contains($0)
                    })
                {
                    out.append((key, "the value may hold printable ASCII except spaces, ; , \" and \\ (RFC 6265)"))
                }
            }
        }
        if !isChromeFamily {
            if !(headers ?? [:]).isEmpty {
                out.append(("headers", "is supported for chrome, chromium and MicrosoftEdge only (it needs CDP)"))
            }
            if !(cookies ?? [:]).isEmpty {
                out.append(("cookies", "is supported for chrome, chromium and MicrosoftEdge only (it needs CDP)"))
            }
        }
        return out
    }

    /// `requestProblems` of a job's raw `crawl` section, each key read on its own: a type error
    /// elsewhere in the section (reported by the schema) hides none of these.
    static func requestProblems(inJob crawl: JSONValue?) -> [(key: String, message: String)] {
        guard let crawl, crawl.objectValue != nil else { return [] }
        var o = CrawlOptions()
        o.browserName = crawl["browserName"]?.stringValue ?? o.browserName
        o.userAgent = crawl["userAgent"]?.stringValue
        o.headers = crawl["headers"]?.objectValue?.compactMapValues(\.stringValue)
        o.cookies = crawl["cookies"]?.objectValue?.compactMapValues { $0.objectValue?.compactMapValues(\.stringValue) }
        if let proxy = crawl["proxy"] {
            if let url = proxy.stringValue ?? proxy["url"]?.stringValue {
                o.proxy = ProxyOption(url: url, noProxy: proxy["noProxy"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            }
        }
        return o.requestProblems()
    }

    /// An RFC 9110 token (§5.6.2): a header or cookie name.
    static func isToken(_ s: String) -> Bool {
        !s.isEmpty
            && s.unicodeScalars.allSatisfy {
                $0.isASCII && (Self.isAlphanumeric($0) || "!#$%&'*+-.^_`|~".unicodeScalars.contains($0))
            }
    }

    static func isAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
    }

    /// A host name or address a cookie is set for; a leading dot makes it a domain cookie.
    static func isCookieHost(_ s: String) -> Bool {
        let host = s.hasPrefix(".") ? String(s.dropFirst()) : s
        return !host.isEmpty && !host.hasPrefix(".") && !host.hasSuffix(".")
            && host.unicodeScalars.allSatisfy {
                $0.isASCII && (Self.isAlphanumeric($0) || "-.".unicodeScalars.contains($0))
            }
    }
}
