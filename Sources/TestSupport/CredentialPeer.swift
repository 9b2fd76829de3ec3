import AWS
import HTTP
import JSONKit
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A loopback peer that issues short-lived credentials the way each temporary source does, and
/// checks every call signed with them the way AWS does. moto has no IAM Identity Center portal
/// and never lets credentials expire or checks the signing time; this peer does, per the API
/// references:
/// - `GET /federation/credentials?account_id=&role_name=` with `x-amz-sso_bearer_token`: the SSO
///   portal's GetRoleCredentials (200 `roleCredentials`, expiration in ms; 401
///   UnauthorizedException for an unknown token; 400 InvalidRequestException without the
///   parameters; 404 ResourceNotFoundException for a role not assigned).
///   https://docs.aws.amazon.com/singlesignon/latest/PortalAPIReference/API_GetRoleCredentials.html
/// - `POST /token`: SSO OIDC CreateToken with `grantType` `refresh_token` (200 a new access and
///   refresh token; 400 InvalidGrantException `invalid_grant` for an unknown refresh token; 401
///   InvalidClientException for a wrong client secret).
///   https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_CreateToken.html
/// - `GET /container`: the ECS container endpoint; `PUT /latest/api/token` and
///   `GET /latest/meta-data/iam/security-credentials/[ROLE]`: IMDSv2; `GET /process`: the JSON a
///   `credential_process` prints (Version 1).
/// - `POST /` signed for `sts` (GetCallerIdentity) or any request signed for `s3`: the signature
///   checked with the issued secret; an expired key answers ExpiredToken, an unknown one
///   InvalidClientTokenId, a signing time more than 15 minutes from the peer's clock (the real
///   clock plus `clockOffset`) `SignatureDoesNotMatch` "Signature expired" (STS) or
///   `RequestTimeTooSkewed` (S3), each with the peer's `Date`.
///   https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
///   https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
public final class CredentialPeer: Sendable {
    public struct Issued: Sendable {
        public var accessKeyId: String
        public var secretAccessKey: String
        public var sessionToken: String
        public var expiration: Double
        public var arn: String

        public init(accessKeyId: String, secretAccessKey: String, sessionToken: String, expiration: Double, arn: String)
        {
            self.accessKeyId = accessKeyId
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
            self.expiration = expiration
            self.arn = arn
        }
    }

    /// A signed call as the peer judged it: the key, and the error code when refused.
    public struct Call: Sendable {
        public var accessKeyId: String
        public var refused: String?
    }

    struct State {
        var keys: [String: Issued] = [:]
        var ssoTokens: Set<String> = []
        var oidcClients: [String: String] = [:]
        var refreshTokens: Set<String> = []
        var tokenRefreshes = 0
        var calls: [Call] = []
        var serial = 0
    }

    public let clockOffset: Double
    public let lifetime: Double
    let state = Mutex(State())
    private let server = Mutex<FixtureServer?>(nil)
    public let url: String

    /// `lifetime`: seconds each issued credential lives. `clockOffset`: the peer's clock minus ours.
    public init(lifetime: Double = 3600, clockOffset: Double = 0) throws {
        self.lifetime = lifetime
        self.clockOffset = clockOffset
        let box = Mutex<CredentialPeer?>(nil)
        let fixture = try FixtureServer(fixtures: false) { request in box.withLock { $0 }?.answer(request) }
        url = fixture.baseURL
        server.withLock { $0 = fixture }
        box.withLock { $0 = self }
    }

    public func stop() { server.withLock { $0?.stop() } }

    public var calls: [Call] { state.withLock { $0.calls } }

    /// The peer's time.
    public func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 + clockOffset
    }

    /// A new credential valid for `lifetime` seconds from now (whole seconds, as AWS states them).
    public func issue(arn: String = "arn:aws:sts::123456789012:assumed-role/peer-role/peer") -> Issued {
        state.withLock { s in
            s.serial += 1
            let id = "ASIAPEER" + String(String(s.serial + 100_000_000).suffix(8)) + "TEST"
            let issued = Issued(
                accessKeyId: id, secretAccessKey: "peer-secret-\(s.serial)-\(UInt32.random(in: 0...UInt32.max))",
                sessionToken: "peer-token-\(s.serial)-\(UInt32.random(in: 0...UInt32.max))",
                expiration: (now() + lifetime).rounded(.down), arn: arn)
            s.keys[id] = issued
            return issued
        }
    }

    /// Credentials issued elsewhere (moto's STS answers) that calls to this peer may be signed with.
    public func register(_ issued: Issued) { state.withLock { $0.keys[issued.accessKeyId] = issued } }

    /// An SSO access token the portal accepts (as `aws sso login` would have obtained it).
    public func acceptSSOToken(_ token: String) { state.withLock { _ = $0.ssoTokens.insert(token) } }

    /// An SSO OIDC client registration and a refresh token for it (what `aws sso login` caches).
    public func registerOIDCClient(id: String, secret: String, refreshToken: String) {
        state.withLock {
            $0.oidcClients[id] = secret
            $0.refreshTokens.insert(refreshToken)
        }
    }

    /// CreateToken calls that gave a new access token.
    public var tokenRefreshes: Int { state.withLock { $0.tokenRefreshes } }

    public static func iso8601(_ seconds: Double) -> String { formatISO8601(seconds) }

    func json(_ status: Int, _ value: JSONValue, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Content-Type", "application/json")] + headers, body: Data(value.encoded()))
    }

    func answer(_ r: HTTPRequest) -> HTTPResponse? {
        let (path, query) = Self.split(r.url)
        switch (r.method, path) {
        case ("GET", "/federation/credentials"): return portal(r, query: query)
        case ("POST", "/token"): return createToken(r)
        case ("GET", "/container"), ("GET", "/process"):
            let c = issue()
            var body: JSONValue = [
                "AccessKeyId": .string(c.accessKeyId), "SecretAccessKey": .string(c.secretAccessKey),
                "Expiration": .string(Self.iso8601(c.expiration)),
            ]
            if case .object(var o) = body {
                if path == "/process" {
                    o["Version"] = 1
                    o["SessionToken"] = .string(c.sessionToken)
                } else {
                    o["Token"] = .string(c.sessionToken)
                }
                body = .object(o)
            }
            return json(200, body)
        case ("PUT", "/latest/api/token"): return HTTPResponse(status: 200, body: Data("imds-token".utf8))
        case ("GET", "/latest/meta-data/iam/security-credentials/"):
            return HTTPResponse(status: 200, body: Data("peer-role".utf8))
        case ("GET", "/latest/meta-data/iam/security-credentials/peer-role"):
            let c = issue()
            return json(
                200,
                [
                    "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": .string(c.accessKeyId),
                    "SecretAccessKey": .string(c.secretAccessKey), "Token": .string(c.sessionToken),
                    "Expiration": .string(Self.iso8601(c.expiration)),
                ])
        default: return signedCall(r, path: path, query: query)
        }
    }

    static func split(_ target: String) -> (String, [String: String]) {
        let parts = target.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        if parts.count > 1 {
            for item in parts[1].split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1)
                query[String(kv[0])] = kv.count > 1 ? String(kv[1]).removingPercentEncoding ?? "" : ""
            }
        }
        return (String(parts.first ?? "/"), query)
    }
}
