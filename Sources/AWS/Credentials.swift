import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// An access key, with its session token and expiry when temporary. `description` never shows
/// the secret or the token: only the source and the key id's last four characters.
public struct AWSCredentials: Sendable, CustomStringConvertible {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// Seconds since the epoch; nil for long-term keys.
    public var expiration: Double?
    /// Where they came from: "environment", "profile default (~/.aws/credentials)", "ECS container", …
    public var source: String

    public init(
        accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Double? = nil,
        source: String
    ) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    public var description: String { "\(source), key …\(accessKeyId.suffix(4))" }
}

/// One way of getting credentials (a profile's SSO session, a role, the container endpoint, …).
/// A provider fetches afresh on every call; `CredentialChain` caches and refreshes.
public protocol CredentialProvider: Sendable {
    func fetch() async throws(AWSError) -> AWSCredentials
}

/// The credentials every client of one run signs with, cached, and refreshed `refreshWindow`
/// seconds before they expire (five minutes, as soto-core and the SDKs do). The default provider
/// walks the SDKs' chain (`DefaultCredentialProvider`).
/// https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html
///
/// Refresh is single-flight, as soto-core's credential provider does it: the first caller that
/// finds no valid credentials starts one fetch, and every caller arriving while it runs waits for
/// that fetch's result, so N concurrent calls make one request to IMDS or the container endpoint.
/// The fetch runs in its own task: cancelling the caller that started it does not fail the others.
/// Credentials past their expiry are never handed out.
public actor CredentialChain {
    let provider: any CredentialProvider
    /// The signing clock shared by every client of this chain (corrected for clock skew).
    public nonisolated let clock: SigningClock
    let refreshWindow: Double
    private var cached: AWSCredentials?
    private var refreshing: Task<Result<AWSCredentials, AWSError>, Never>?
    /// Fetches started (each is one pass down the chain): what the tests observe.
    private(set) var fetches = 0

    /// The SDKs' chain over `environment`. `refreshWindow`: seconds before expiry to refresh.
    public init(
        environment: [String: String], http: any HTTPTransport, refreshWindow: Double = 300,
        clock: SigningClock = SigningClock()
    ) {
        self.init(
            provider: DefaultCredentialProvider(environment: environment, http: http, clock: clock),
            refreshWindow: refreshWindow, clock: clock)
    }

    public init(provider: any CredentialProvider, refreshWindow: Double = 300, clock: SigningClock = SigningClock()) {
        self.provider = provider
        self.refreshWindow = refreshWindow
        self.clock = clock
    }

    public func credentials() async throws(AWSError) -> AWSCredentials {
        if let c = cached, c.expiration.map({ $0 - refreshWindow > clock.now() }) ?? true { return c }
        let fetch: Task<Result<AWSCredentials, AWSError>, Never>
        if let refreshing {
            fetch = refreshing
        } else {
            fetches += 1
            fetch = Task { await self.refresh() }
            refreshing = fetch
        }
        return try await fetch.value.get()
    }

    /// One fetch. A failed refresh of credentials that have not expired yet (only their refresh
    /// window has begun) keeps the old ones: the next call tries again.
    private func refresh() async -> Result<AWSCredentials, AWSError> {
        defer { refreshing = nil }
        do {
            let fresh = try await provider.fetch()
            cached = fresh
            return .success(fresh)
        } catch {
            if let c = cached, let expiry = c.expiration, expiry > clock.now() { return .success(c) }
            return .failure(error)
        }
    }
}

/// `2026-11-21T12:00:00Z` (fractions allowed, UTC) → seconds since the epoch.
func parseISO8601(_ s: String) -> Double? {
    let digits = s.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    guard digits.count >= 6 else { return nil }
    var t = tm()
    t.tm_year = Int32(digits[0] - 1900)
    t.tm_mon = Int32(digits[1] - 1)
    t.tm_mday = Int32(digits[2])
    t.tm_hour = Int32(digits[3])
    t.tm_min = Int32(digits[4])
    t.tm_sec = Int32(digits[5])
    return Double(timegm(&t))
}

/// Seconds since the epoch → `2026-11-21T12:00:00Z` (whole seconds, UTC).
public func formatISO8601(_ seconds: Double) -> String {
    var t = time_t(seconds)
    var p = tm()
    gmtime_r(&t, &p)
    func pad(_ v: Int32, _ w: Int = 2) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, w - s.count)) + s
    }
    return "\(pad(p.tm_year + 1900, 4))-\(pad(p.tm_mon + 1))-\(pad(p.tm_mday))T"
        + "\(pad(p.tm_hour)):\(pad(p.tm_min)):\(pad(p.tm_sec))Z"
}

/// The first line of `text`, at most 200 characters: a peer's or a program's message in ours.
func firstLine(_ text: String) -> String {
    String(text.split(whereSeparator: \.isNewline).first?.prefix(200) ?? "")
}
