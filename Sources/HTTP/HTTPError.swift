/// A transport failure: the request got no HTTP response. HTTP error statuses are not errors
/// at this layer; callers decide what a 4xx or 5xx means.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case dns, connect, timeout, connectionLost = "connection-lost", tls, cancelled
        case invalidRequest = "invalid-request", transfer
    }

    public var code: Code
    /// libcurl's CURLcode (https://curl.se/libcurl/c/libcurl-errors.html).
    public var curlCode: Int32
    public var message: String
    /// The request URL without user information or query string: no secret can travel in it.
    public var url: String

    public init(code: Code, curlCode: Int32, message: String, url: String) {
        self.code = code
        self.curlCode = curlCode
        self.message = message
        self.url = HTTPError.redact(url)
    }

    public var description: String {
        "\(message) (\(url), curl error \(curlCode))"
    }

    /// True when a new attempt may succeed: connect failures, timeouts, dropped connections.
    public var isTransient: Bool {
        switch code {
        case .connect, .timeout, .connectionLost, .dns: return true
        case .tls, .cancelled, .invalidRequest, .transfer: return false
        }
    }

    static func redact(_ url: String) -> String {
        var s = Substring(url)
        if let q = s.firstIndex(where: { $0 == "?" || $0 == "#" }) { s = s[..<q] }
        if let scheme = s.firstRange(of: "://") {
            let rest = s[scheme.upperBound...]
            let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                return String(s[..<scheme.upperBound] + rest[rest.index(after: at)...])
            }
        }
        return String(s)
    }
}
