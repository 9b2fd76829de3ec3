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

/// Refreshes an IAM Identity Center access token the way botocore's SSOTokenProvider does: when
/// the cached token (an `sso_session` login) is within 15 minutes of expiry and the cache holds
/// the client registration and a refresh token, SSO OIDC CreateToken (`grant_type`
/// `refresh_token`, unsigned) gives a new one, written back to the cache file as the CLI would.
/// A run of hours thus outlives the hour-long access token, up to the session's own duration.
/// A failed refresh is not an error here: the cached token is used while valid, then the user is
/// told to run `aws sso login`. The refresh token and client secret never appear in a message.
/// https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_CreateToken.html
/// https://github.com/boto/botocore/blob/develop/botocore/tokens.py (SSOTokenProvider)
struct SSOTokenRefresh: Sendable {
    static let window: Double = 15 * 60
    let environment: [String: String]
    let http: any HTTPTransport
    let region: String

    /// The new access token, or nil when the cache cannot be refreshed.
    func refresh(_ cached: JSONValue, file: String) async -> String? {
        let now = SigningClock.localNow()
        guard case .object(var entry) = cached, let clientId = entry["clientId"]?.stringValue,
            let clientSecret = entry["clientSecret"]?.stringValue,
            let refreshToken = entry["refreshToken"]?.stringValue,
            let registration = entry["registrationExpiresAt"]?.stringValue.flatMap(parseISO8601), registration > now
        else { return nil }
        let base = AWSEnvironment(environment).endpoint(service: "SSO_OIDC", host: "oidc.\(region).amazonaws.com").url
        let body: JSONValue = [
            "clientId": .string(clientId), "clientSecret": .string(clientSecret), "grantType": "refresh_token",
            "refreshToken": .string(refreshToken),
        ]
        let request = HTTPRequest(
            method: "POST", url: base + "/token", headers: [("Content-Type", "application/json")],
            body: Data(body.encoded()), timeout: .seconds(30))
        guard let response = try? await http.send(request), response.status == 200,
            let answer = try? JSONValue.decode(response.body), let token = answer["accessToken"]?.stringValue,
            let expiresIn = answer["expiresIn"]?.doubleValue
        else { return nil }
        entry["accessToken"] = .string(token)
        entry["expiresAt"] = .string(formatISO8601(now + expiresIn))
        if let next = answer["refreshToken"]?.stringValue { entry["refreshToken"] = .string(next) }
        Self.write(JSONValue.object(entry).encoded(), to: file)
        return token
    }

    /// Replaces `file` whole (a temporary file renamed over it), readable by its owner only.
    static func write(_ data: Data, to file: String) {
        let temporary = file + ".crawlrun-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
        else { return }
        if rename(temporary, file) != 0 { unlink(temporary) }
    }
}
