import Digest
import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// IAM Identity Center (`aws sso login`): the access token the AWS CLI cached in
/// `~/.aws/sso/cache/<SHA-1 of the sso_session name, or of sso_start_url for a legacy profile>.json`
/// (`accessToken`, `expiresAt`), exchanged at the portal for the role's credentials
/// (GetRoleCredentials, unsigned). Each refresh reads the cache again, so an `aws sso login` made
/// during a run is picked up; an expired or refused token says to run it.
/// https://docs.aws.amazon.com/sdkref/latest/guide/feature-sso-credentials.html
/// https://docs.aws.amazon.com/singlesignon/latest/PortalAPIReference/API_GetRoleCredentials.html
struct SSOCredentials: CredentialProvider {
    let profile: SharedConfig.Profile
    let config: SharedConfig
    let environment: [String: String]
    let http: any HTTPTransport
    var retry = RetryPolicy()

    init(profile: SharedConfig.Profile, config: SharedConfig, environment: [String: String], http: any HTTPTransport) {
        self.profile = profile
        self.config = config
        self.environment = environment
        self.http = http
        retry.maxAttempts = 3
    }

    var login: String { "run `aws sso login --profile \(profile.name)`" }

    func missing(_ what: String, in place: String) -> AWSError {
        AWSError(.credentials, "profile \(profile.name) uses IAM Identity Center but \(place) has no \(what)")
    }

    func fetch() async throws(AWSError) -> AWSCredentials {
        let p = profile
        let place = "profile \(p.name) in \(config.configFile)"
        let startURL: String
        let region: String
        let cacheKey: String
        if let name = p["sso_session"] {
            guard let session = config.ssoSession(name) else {
                throw AWSError(
                    .credentials,
                    "profile \(p.name) names sso_session \(name), but \(config.configFile) has no [sso-session \(name)] section"
                )
            }
            guard let url = session["sso_start_url"] else {
                throw missing("sso_start_url", in: "[sso-session \(name)]")
            }
            guard let r = session["sso_region"] else { throw missing("sso_region", in: "[sso-session \(name)]") }
            (startURL, region, cacheKey) = (url, r, name)
        } else {
            guard let url = p["sso_start_url"] else { throw missing("sso_session or sso_start_url", in: place) }
            guard let r = p["sso_region"] else { throw missing("sso_region", in: place) }
            (startURL, region, cacheKey) = (url, r, url)
        }
        guard let account = p["sso_account_id"] else { throw missing("sso_account_id", in: place) }
        guard let role = p["sso_role_name"] else { throw missing("sso_role_name", in: place) }
        let token = try await cachedToken(
            SHA1.hex(cacheKey), startURL: startURL, refreshIn: p["sso_session"] != nil ? region : nil)

        let base = AWSEnvironment(environment).endpoint(service: "SSO", host: "portal.sso.\(region).amazonaws.com").url
        let query = SigV4.encodeQuery([("account_id", account), ("role_name", role)])
        let request = HTTPRequest(
            url: base + "/federation/credentials?" + query, headers: [("x-amz-sso_bearer_token", token)],
            timeout: .seconds(30))
        let response = try await retry.run("sso GetRoleCredentials") { () async throws(AWSError) -> HTTPResponse in
            let r: HTTPResponse
            do {
                r = try await http.send(request)
            } catch {
                throw AWSError.noAnswer("sso GetRoleCredentials", error)
            }
            guard r.status == 200 else { throw refused(AWSError.decode(r, operation: "GetRoleCredentials")) }
            return r
        }
        guard let json = try? JSONValue.decode(response.body), let c = json["roleCredentials"],
            let id = c["accessKeyId"]?.stringValue, let secret = c["secretAccessKey"]?.stringValue,
            let expiration = c["expiration"]?.doubleValue
        else { throw AWSError(.invalidResponse, "sso GetRoleCredentials answered without roleCredentials") }
        return AWSCredentials(
            accessKeyId: id, secretAccessKey: secret, sessionToken: c["sessionToken"]?.stringValue,
            expiration: expiration / 1000, source: "IAM Identity Center, profile \(p.name) (\(account), \(role))")
    }

    /// The portal's refusal of the token itself (401 UnauthorizedException) says what to do.
    func refused(_ error: AWSError) -> AWSError {
        guard error.code == "UnauthorizedException" else { return error }
        return AWSError(
            .credentials,
            "profile \(profile.name): IAM Identity Center refused the session (\(error.message)): \(login)",
            code: error.code, httpStatus: error.httpStatus)
    }

    /// The access token of the CLI's cache file, if it has not expired. `refreshIn` (the SSO
    /// Region of an `sso_session` profile): a token within 15 minutes of its expiry is refreshed
    /// first with the cached refresh token, as botocore does (`SSOTokenRefresh`).
    func cachedToken(_ hash: String, startURL: String, refreshIn region: String?) async throws(AWSError) -> String {
        let file = config.home + "/.aws/sso/cache/\(hash).json"
        guard let data = FileManager.default.contents(atPath: file) else {
            throw AWSError(
                .credentials, "profile \(profile.name): not signed in to IAM Identity Center (no \(file)): \(login)")
        }
        guard let json = try? JSONValue.decode(data), let token = json["accessToken"]?.stringValue,
            let expires = json["expiresAt"]?.stringValue
        else {
            throw AWSError(
                .credentials, "profile \(profile.name): \(file) holds no accessToken and expiresAt: \(login)")
        }
        let expiry = parseISO8601(expires) ?? 0
        if let region, expiry - SigningClock.localNow() < SSOTokenRefresh.window,
            let fresh = await SSOTokenRefresh(environment: environment, http: http, region: region)
                .refresh(json, file: file)
        {
            return fresh
        }
        guard expiry > SigningClock.localNow() else {
            throw AWSError(
                .credentials,
                "profile \(profile.name): the IAM Identity Center session for \(startURL) expired at \(expires): \(login)"
            )
        }
        return token
    }
}
