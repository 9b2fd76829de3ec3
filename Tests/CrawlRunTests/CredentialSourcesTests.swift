import Digest
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

@testable import AWS

/// Writes `~/.aws/config` (and the SSO token cache) under a fresh HOME.
struct AWSHome {
    let home = tempDir("aws-home")
    var config: String { home + "/.aws/config" }

    init(config text: String) throws {
        try FileManager.default.createDirectory(atPath: home + "/.aws/sso/cache", withIntermediateDirectories: true)
        try text.write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// What `aws sso login` leaves: `cache/<sha1 of key>.json`.
    func cacheSSOToken(key: String, token: String, expiresAt: String) throws {
        let json =
            #"{"startUrl":"https://d-1234.awsapps.com/start","region":"eu-west-1","accessToken":"\#(token)","expiresAt":"\#(expiresAt)"}"#
        try json.write(toFile: home + "/.aws/sso/cache/\(SHA1.hex(key)).json", atomically: true, encoding: .utf8)
    }

    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        ["HOME": home, "AWS_EC2_METADATA_DISABLED": "true"].merging(extra) { $1 }
    }
}

func credentialError(_ error: any Error, contains parts: String...) -> Bool {
    guard let e = error as? AWSError else { return false }
    return parts.allSatisfy { e.description.contains($0) }
}

/// IAM Identity Center, credential_process and the profile rules, against the loopback peer
/// (CredentialPeer) playing the SSO portal. Each of these fails on the chain before issue 19,
/// which knew only keys, container credentials and IMDS ("no AWS credentials found").
@Suite struct CredentialSourcesTests {
    static let ssoConfig = """
        [profile dev]
        sso_session = corp
        sso_account_id = 111122223333
        sso_role_name = CrawlRunner
        region = eu-west-1

        [sso-session corp]
        sso_start_url = https://d-1234.awsapps.com/start
        sso_region = eu-west-1
        sso_registration_scopes = sso:account:access

        [profile legacy]
        sso_start_url = https://d-1234.awsapps.com/start
        sso_region = eu-west-1
        sso_account_id = 111122223333
        sso_role_name = CrawlRunner
        """

    @Test func sha1AsFIPS180() {
        #expect(SHA1.hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(
            SHA1.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }

    /// (1) The CLI's cached token, exchanged at the portal; the legacy profile form by its start URL.
    @Test func ssoProfilesUseTheCachedToken() async throws {
        let peer = try CredentialPeer()
        defer { peer.stop() }
        peer.acceptSSOToken("sso-access-token-1")
        let aws = try AWSHome(config: Self.ssoConfig)
        let later = CredentialPeer.iso8601(Date().timeIntervalSince1970 + 3600)
        try aws.cacheSSOToken(key: "corp", token: "sso-access-token-1", expiresAt: later)
        try aws.cacheSSOToken(key: "https://d-1234.awsapps.com/start", token: "sso-access-token-1", expiresAt: later)
        for profile in ["dev", "legacy"] {
            let chain = CredentialChain(
                environment: aws.environment(["AWS_PROFILE": profile, "AWS_ENDPOINT_URL_SSO": peer.url]),
                http: CurlHTTPClient())
            let c = try await chain.credentials()
            #expect(c.accessKeyId.hasPrefix("ASIAPEER") && c.sessionToken?.hasPrefix("peer-token") == true)
            #expect(c.source == "IAM Identity Center, profile \(profile) (111122223333, CrawlRunner)")
            #expect(c.expiration.map { $0 > Date().timeIntervalSince1970 + 3000 } == true)
        }
    }

    /// (1) An expired cached token, a token the portal refuses, no token: each says what to run,
    /// and none shows the token.
    @Test func ssoSessionExpiredSaysToLogIn() async throws {
        let peer = try CredentialPeer()
        defer { peer.stop() }
        let aws = try AWSHome(config: Self.ssoConfig)
        let env = aws.environment(["AWS_PROFILE": "dev", "AWS_ENDPOINT_URL_SSO": peer.url])
        // No cache file yet.
        await #expect {
            _ = try await CredentialChain(environment: env, http: CurlHTTPClient()).credentials()
        } throws: {
            credentialError($0, contains: "not signed in to IAM Identity Center", "aws sso login --profile dev")
        }
        // Expired.
        try aws.cacheSSOToken(key: "corp", token: "sso-secret-token", expiresAt: "2020-01-01T00:00:00Z")
        await #expect {
            _ = try await CredentialChain(environment: env, http: CurlHTTPClient()).credentials()
        } throws: {
            credentialError($0, contains: "expired at 2020-01-01T00:00:00Z", "run `aws sso login --profile dev`")
                && !"\($0)".contains("sso-secret-token")
        }
        #expect(peer.calls.isEmpty)
        // Valid by its date, refused by the portal (signed out elsewhere): 401 UnauthorizedException.
        let later = CredentialPeer.iso8601(Date().timeIntervalSince1970 + 3600)
        try aws.cacheSSOToken(key: "corp", token: "sso-secret-token", expiresAt: later)
        await #expect {
            _ = try await CredentialChain(environment: env, http: CurlHTTPClient()).credentials()
        } throws: {
            credentialError(
                $0, contains: "UnauthorizedException", "Session token not found or invalid",
                "run `aws sso login --profile dev`") && !"\($0)".contains("sso-secret-token")
        }
    }

    /// (1) An `sso_session` access token near its expiry is refreshed with the cached refresh
    /// token (SSO OIDC CreateToken) and written back, as the CLI does: a run outlives the hour-long
    /// token. A refresh token refused, on an expired token, says to log in, showing no secret.
    @Test func ssoAccessTokenIsRefreshedWithTheRefreshToken() async throws {
        let peer = try CredentialPeer()
        defer { peer.stop() }
        peer.registerOIDCClient(id: "client-1", secret: "client-secret-xyz", refreshToken: "refresh-1")
        let aws = try AWSHome(config: Self.ssoConfig)
        let now = Date().timeIntervalSince1970
        let file = aws.home + "/.aws/sso/cache/\(SHA1.hex("corp")).json"
        func cache(token: String, expiresAt: Double, refresh: String) throws {
            let entry: JSONValue = [
                "startUrl": "https://d-1234.awsapps.com/start", "region": "eu-west-1", "accessToken": .string(token),
                "expiresAt": .string(CredentialPeer.iso8601(expiresAt)), "clientId": "client-1",
                "clientSecret": "client-secret-xyz", "refreshToken": .string(refresh),
                "registrationExpiresAt": .string(CredentialPeer.iso8601(now + 86400)),
            ]
            try entry.encoded().write(to: URL(fileURLWithPath: file))
        }
        // Valid for one more minute: inside the 15-minute window. The portal knows only the new token.
        try cache(token: "old-access-token", expiresAt: now + 60, refresh: "refresh-1")
        let env = aws.environment([
            "AWS_PROFILE": "dev", "AWS_ENDPOINT_URL_SSO": peer.url, "AWS_ENDPOINT_URL_SSO_OIDC": peer.url,
        ])
        let c = try await CredentialChain(environment: env, http: CurlHTTPClient()).credentials()
        #expect(c.accessKeyId.hasPrefix("ASIAPEER") && peer.tokenRefreshes == 1)
        let written = try JSONValue.decode(try Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(written["accessToken"] == "sso-refreshed-1" && written["refreshToken"] == "refresh-2")
        #expect(written["expiresAt"]?.stringValue.flatMap(parseISO8601).map { $0 > now + 3000 } == true)
        #expect(
            written["clientSecret"] == "client-secret-xyz" && written["startUrl"] == "https://d-1234.awsapps.com/start")
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // Expired, and a refresh token the service no longer knows.
        try cache(token: "old-access-token", expiresAt: now - 60, refresh: "refresh-1")
        await #expect {
            _ = try await CredentialChain(environment: env, http: CurlHTTPClient()).credentials()
        } throws: { error in
            credentialError(error, contains: "expired at", "run `aws sso login --profile dev`")
                && !["client-secret-xyz", "refresh-1", "old-access-token"].contains { "\(error)".contains($0) }
        }
    }

    /// (2) credential_process: its JSON, Expiration honoured; a failing program and a wrong
    /// Version are errors that show the program's message, never its arguments or its output.
    @Test func credentialProcess() async throws {
        let dir = tempDir("process")
        let script = dir + "/creds.sh"
        try """
        #!/bin/sh
        if [ "$1" = fail ]; then echo "the token is revoked" >&2; exit 3; fi
        if [ "$1" = v2 ]; then echo '{"Version": 2, "AccessKeyId": "AKIAX", "SecretAccessKey": "process-secret"}'; exit 0; fi
        printf '{"Version": 1, "AccessKeyId": "ASIAPROCESS0001", "SecretAccessKey": "process-secret",\\n'
        printf ' "SessionToken": "process-token", "Expiration": "2099-01-01T00:00:00Z"}\\n'
        """.write(toFile: script, atomically: true, encoding: .utf8)
        // Run by /bin/sh rather than exec'd: a script just written can be "busy" (ETXTBSY) while
        // a process another test spawns at that moment still holds its write descriptor.
        let aws = try AWSHome(
            config: """
                [profile tool]
                credential_process = /bin/sh "\(script)" ok 'two words'
                [profile failing]
                credential_process = /bin/sh \(script) fail hunter2
                [profile v2]
                credential_process = /bin/sh \(script) v2
                """)
        let c = try await CredentialChain(environment: aws.environment(["AWS_PROFILE": "tool"]), http: CurlHTTPClient())
            .credentials()
        #expect(c.accessKeyId == "ASIAPROCESS0001" && c.sessionToken == "process-token")
        #expect(c.expiration == 4_070_908_800 && c.source == "credential_process /bin/sh (profile tool)")
        await #expect {
            _ = try await CredentialChain(
                environment: aws.environment(["AWS_PROFILE": "failing"]), http: CurlHTTPClient()
            ).credentials()
        } throws: { error in
            credentialError(error, contains: "profile failing: credential_process /bin/sh failed (exit 3)")
                && "\(error)".contains("the token is revoked") && !"\(error)".contains("hunter2")
        }
        await #expect {
            _ = try await CredentialChain(environment: aws.environment(["AWS_PROFILE": "v2"]), http: CurlHTTPClient())
                .credentials()
        } throws: { credentialError($0, contains: "printed Version 2") && !"\($0)".contains("process-secret") }
        #expect(CredentialProcess.split(#"a "b c" 'd e' f\ g "h\"i""#) == ["a", "b c", "d e", "f g", "h\"i"])
    }

    /// (4) A profile named by AWS_PROFILE that gives no credentials is an error naming it and
    /// what is missing, even where the instance role would answer.
    @Test func namedProfileNeverFallsThroughToTheInstanceRole() async throws {
        let peer = try CredentialPeer()
        defer { peer.stop() }
        let aws = try AWSHome(
            config: """
                [profile regional]
                region = eu-west-1
                [profile orphan]
                role_arn = arn:aws:iam::123456789012:role/crawl
                [profile sourced]
                role_arn = arn:aws:iam::123456789012:role/crawl
                source_profile = nowhere
                [profile a]
                role_arn = arn:aws:iam::123456789012:role/a
                source_profile = b
                [profile b]
                role_arn = arn:aws:iam::123456789012:role/b
                source_profile = a
                [profile sso-half]
                sso_session = corp
                [profile via-sso]
                role_arn = arn:aws:iam::123456789012:role/crawl
                source_profile = sso-half
                """)
        var env = aws.environment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": peer.url])
        env["AWS_EC2_METADATA_DISABLED"] = nil
        // Unnamed: the instance role answers (the control).
        let imds = try await CredentialChain(environment: env, http: CurlHTTPClient()).credentials()
        #expect(imds.source == "EC2 instance role peer-role")
        let cases: [(String, String)] = [
            ("missing", "profile missing (AWS_PROFILE) is in neither \(aws.config)"),
            ("regional", "profile regional (AWS_PROFILE) gives no credentials: it has none of aws_access_key_id"),
            ("orphan", "profile orphan has role_arn but neither source_profile nor credential_source"),
            ("sourced", "profile sourced names source_profile nowhere, which is not in \(aws.config)"),
            ("a", "source_profile loop: a → b → a"),
            (
                "sso-half",
                "profile sso-half names sso_session corp, but \(aws.config) has no [sso-session corp] section"
            ),
            ("via-sso", "source_profile sso-half of profile via-sso: profile sso-half names sso_session corp"),
        ]
        for (profile, message) in cases {
            var named = env
            named["AWS_PROFILE"] = profile
            await #expect(Comment(rawValue: profile)) {
                _ = try await CredentialChain(environment: named, http: CurlHTTPClient()).credentials()
            } throws: { credentialError($0, contains: message) }
        }
    }

    /// (7) AWS_CONTAINER_CREDENTIALS_FULL_URI only to loopback or the ECS/EKS agent addresses:
    /// elsewhere nothing is sent, so the authorization token goes nowhere.
    @Test func containerFullURIOnlyToAllowedHosts() async throws {
        let sent = LineBox()
        let transport = ClosureTransport { request in
            sent.append(request.url)
            return HTTPResponse(
                status: 200,
                body: Data(
                    #"{"AccessKeyId":"ASIAC","SecretAccessKey":"s","Token":"t","Expiration":"2099-01-01T00:00:00Z"}"#
                        .utf8))
        }
        for url in [
            "http://198.51.100.7/creds", "https://example.com/creds", "http://169.254.170.3/x",
            "http://127.0.0.1.example.com/",
        ] {
            await #expect(Comment(rawValue: url)) {
                _ = try await CredentialChain(
                    environment: [
                        "HOME": tempDir("full"), "AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer secret-agent-token",
                    ], http: transport
                ).credentials()
            } throws: {
                credentialError($0, contains: "only a loopback address, 169.254.170.2, 169.254.170.23")
                    && !"\($0)".contains("secret-agent-token")
            }
        }
        #expect(sent.count == 0)
        for url in [
            "http://127.0.0.1:9/c", "http://127.1.2.3/c", "http://localhost:8/c", "http://[::1]:7/c",
            "http://169.254.170.2/v2/c", "http://169.254.170.23/v1/c", "http://[fd00:ec2::23]/c",
        ] {
            let c = try await CredentialChain(
                environment: ["HOME": tempDir("full"), "AWS_CONTAINER_CREDENTIALS_FULL_URI": url], http: transport
            ).credentials()
            #expect(c.accessKeyId == "ASIAC")
        }
        #expect(sent.count == 7)
    }
}
