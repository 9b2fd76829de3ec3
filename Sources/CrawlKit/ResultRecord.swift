import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why a URL failed: a closed, documented set (README "Error kinds").
public enum ErrorKind: String, Codable, Sendable, CaseIterable {
    /// Page load, script or wait exceeded its timeout.
    case timeout
    /// The host name did not resolve.
    case dns
    /// Refused, reset, closed or empty connection.
    case connection
    /// Certificate or TLS handshake failure.
    case tls
    /// The main document answered 4xx or 5xx (`status` holds it).
    case http
    /// The URL answered with a file to save (`Content-Disposition: attachment`, or a type the
    /// browser does not display), not a page (`status` holds the server's answer).
    case download
    /// Too many redirects, or a redirect loop.
    case redirect
    /// Any other navigation failure the browser reported (`net::ERR_*`).
    case navigation
    /// The extraction script failed on the page.
    case script
    /// The `waitFor` selector never appeared.
    case selector
    /// The browser or the WebDriver session died (tab crash, lost sidecar).
    case browserCrash = "browser-crash"
    /// Refused by the network policy (link-local, loopback, private addresses).
    case blocked
    /// The URL does not parse, or is not http(s).
    case invalidURL = "invalid-url"
    /// Any other WebDriver error.
    case webdriver
    /// The host's robots.txt disallows the URL for our product token (or could not be fetched:
    /// RFC 9309 §2.3.1.4); never retried.
    case robots
    /// The coordinator gave up: every attempt's task ended without a record for this URL.
    case incomplete

    /// Kinds worth another attempt; `http` only for 429 and 5xx (see `isRetryable(status:)`).
    public func isRetryable(status: Int?) -> Bool {
        switch self {
        case .timeout, .connection, .browserCrash: return true
        case .http:
            guard let status else { return false }
            return status == 429 || status >= 500
        default: return false
        }
    }
}

public struct RecordError: Codable, Sendable, Equatable {
    public var kind: ErrorKind
    public var message: String
    public init(kind: ErrorKind, message: String) {
        self.kind = kind
        self.message = message
    }
}

/// One line of results.jsonl: exactly one terminal record per input URL (DESIGN.md).
public struct ResultRecord: Decodable, Sendable, Equatable {
    /// The URL as the user wrote it.
    public var url: String
    public var ok: Bool
    /// HTTP status of the main document, when the browser exposes it.
    public var status: Int?
    public var finalUrl: String?
    public var title: String?
    public var fields: [String: JSONValue]
    public var error: RecordError?
    public var attempts: Int
    public var batch: String
    /// ISO 8601 time of the first attempt.
    public var startedAt: String
    /// Milliseconds from the first attempt to the record.
    public var ms: Int
    /// Paths of saved screenshots / page sources, relative to the results file.
    public var artifacts: [String: String]?
    /// Times the URL's host answered 429/503 and the crawler waited its back-off before trying
    /// it again (nil: never; the key is then omitted).
    public var backoffs: Int?

    public init(
        url: String, ok: Bool, status: Int? = nil, finalUrl: String? = nil, title: String? = nil,
        fields: [String: JSONValue] = [:], error: RecordError? = nil, attempts: Int, batch: String,
        startedAt: String, ms: Int, artifacts: [String: String]? = nil
    ) {
        self.url = url
        self.ok = ok
        self.status = status
        self.finalUrl = finalUrl
        self.title = title
        self.fields = fields
        self.error = error
        self.attempts = attempts
        self.batch = batch
        self.startedAt = startedAt
        self.ms = ms
        self.artifacts = artifacts
    }

    enum CodingKeys: String, CodingKey {
        case url, ok, status, finalUrl, title, fields, error, attempts, batch, startedAt, ms, artifacts, backoffs
    }

    /// One JSON Lines line, newline included. Keys in the documented order, and every key
    /// present (explicit nulls), so downstream tools need no special cases.
    public func jsonLine() -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.field("url", .string(url))
        w.field("ok", .bool(ok))
        w.field("status", status.map { .number(Double($0)) } ?? .null)
        w.field("finalUrl", finalUrl.map { .string($0) } ?? .null)
        w.field("title", title.map { .string($0) } ?? .null)
        w.field("fields", .object(fields))
        w.field(
            "error",
            error.map { .object(["kind": .string($0.kind.rawValue), "message": .string($0.message)]) } ?? .null)
        w.field("attempts", .number(Double(attempts)))
        w.field("batch", .string(batch))
        w.field("startedAt", .string(startedAt))
        w.field("ms", .number(Double(ms)))
        if let artifacts { w.field("artifacts", .object(artifacts.mapValues { .string($0) })) }
        if let backoffs, backoffs > 0 { w.field("backoffs", .number(Double(backoffs))) }
        w.endObject()
        var bytes = w.bytes
        bytes.append(10)
        return bytes
    }
}
