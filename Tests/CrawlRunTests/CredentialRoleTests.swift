import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

@testable import AWS

/// The real transport, watched: every request passes through to the peer unchanged, and the
/// test reads what was sent (an AssumeRoleWithWebIdentity must go unsigned).
struct WatchedTransport: HTTPTransport {
    let inner = CurlHTTPClient()
    let sent = LineBox()
    var onResponse: (@Sendable (HTTPRequest, HTTPResponse) -> Void)?

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = request.body.map { String(decoding: $0, as: UTF8.self) } ?? ""
        // "unsigned BODY", or "KEY-ID BODY" for the key the request was signed with.
        let key = request.header("Authorization").flatMap { auth in
            auth.firstRange(of: "Credential=").map { String(auth[$0.upperBound...].prefix { $0 != "/" }) }
        }
        sent.append("\(key ?? "unsigned") \(body)")
        let response = try await inner.send(request)
        onResponse?(request, response)
        return response
    }
}

/// Roles from profiles against moto_server's STS (AssumeRole, AssumeRoleWithWebIdentity,
/// GetCallerIdentity), with signatures and IAM checked where moto can: a trust policy naming the
/// principal and the external id, a permission to assume only the next role of the chain. Each
/// fails on the chain before issue 19, which ignored role_arn and web identity.
@Suite(.serialized) struct CredentialRoleTests {
    static let account = "123456789012"
    static func role(_ name: String) -> String { "arn:aws:iam::\(account):role/\(name)" }

    static func allow(_ action: String, _ resource: String) -> JSONValue {
        [
            "Version": "2012-10-17",
            "Statement": [["Effect": "Allow", "Action": .string(action), "Resource": .string(resource)]],
        ]
    }

    static func trust(_ principal: String, externalId: String? = nil) -> String {
        var statement: JSONValue = [
            "Effect": "Allow", "Principal": ["AWS": .string(principal)], "Action": "sts:AssumeRole",
        ]
        if let externalId, case .object(var o) = statement {
            o["Condition"] = ["StringEquals": ["sts:ExternalId": .string(externalId)]]
            statement = .object(o)
        }
        let doc: JSONValue = ["Version": "2012-10-17", "Statement": [statement]]
        return String(decoding: doc.encoded(), as: UTF8.self)
    }

    /// (3) base keys → role first (external id) → role second: each AssumeRole signed with the
    /// previous step's credentials, the session name and duration as the profile says; the
    /// identity is the last role's. With another external id the trust policy refuses.
    @Test func roleChainFromSourceProfiles() async throws {
        let moto = try await MotoServer.start(initialNoAuthActions: 1000)
        defer { Task { await moto.stop() } }
        let setup = MotoQuery(endpoint: moto.url)
        let base = try await setup.user("base", policy: Self.allow("sts:AssumeRole", Self.role("first")))
        _ = try await setup.iam(
            "CreateRole",
            [
                ("RoleName", "first"),
                (
                    "AssumeRolePolicyDocument",
                    Self.trust("arn:aws:iam::\(Self.account):user/base", externalId: "ext-4242")
                ),
            ])
        _ = try await setup.iam(
            "PutRolePolicy",
            [
                ("RoleName", "first"), ("PolicyName", "next"),
                (
                    "PolicyDocument",
                    String(decoding: Self.allow("sts:AssumeRole", Self.role("second")).encoded(), as: UTF8.self)
                ),
            ])
        _ = try await setup.iam(
            "CreateRole",
            [
                ("RoleName", "second"),
                ("AssumeRolePolicyDocument", Self.trust("arn:aws:sts::\(Self.account):assumed-role/first/crawl-first")),
            ])
        try await moto.enforceAuthentication()

        let aws = try AWSHome(
            config: """
                [profile base]
                aws_access_key_id = \(base.accessKeyId)
                aws_secret_access_key = \(base.secretAccessKey)
                [profile first]
                role_arn = \(Self.role("first"))
                source_profile = base
                external_id = ext-4242
                role_session_name = crawl-first
                [profile second]
                role_arn = \(Self.role("second"))
                source_profile = first
                role_session_name = crawl-second
                duration_seconds = 1800
                [profile wrong-external-id]
                role_arn = \(Self.role("first"))
                source_profile = base
                external_id = ext-0000
                """)
        let env = aws.environment(["AWS_PROFILE": "second", "AWS_ENDPOINT_URL": moto.url, "AWS_REGION": "us-east-1"])
        let watched = WatchedTransport()
        let chain = CredentialChain(environment: env, http: watched)
        let c = try await chain.credentials()
        #expect(
            c.source
                == "role \(Self.role("second")) (profile second, from role \(Self.role("first")) (profile first, from profile base (\(aws.config))))"
        )
        let lifetime = (c.expiration ?? 0) - Date().timeIntervalSince1970
        #expect(lifetime > 1700 && lifetime <= 1800, "duration_seconds 1800: \(lifetime)")
        let sts = STSClient(region: "us-east-1", environment: AWSEnvironment(env), credentials: chain, http: watched)
        #expect(
            try await sts.getCallerIdentity().arn == "arn:aws:sts::\(Self.account):assumed-role/second/crawl-second")
        #expect(watched.sent.all.filter { $0.contains("Action=AssumeRole&") }.count == 2)

        var withoutId = env
        withoutId["AWS_PROFILE"] = "wrong-external-id"
        await #expect {
            _ = try await CredentialChain(environment: withoutId, http: CurlHTTPClient()).credentials()
        } throws: { error in
            credentialError(error, contains: "profile wrong-external-id: AssumeRole \(Self.role("first")) failed")
                && (error as? AWSError)?.code == "AccessDenied" && !"\(error)".contains(base.secretAccessKey)
        }
        await moto.stop()
    }

    /// (3) Web identity from the environment (EKS, CI OIDC) and from a profile: the token read from
    /// its file, sent unsigned; the identity is the role's, with the session name given.
    @Test func webIdentityAndTheInstanceRoleAsSources() async throws {
        let moto = try await MotoServer.start()
        defer { Task { await moto.stop() } }
        let aws = try AWSHome(config: "")
        try """
        [profile ci]
        role_arn = \(Self.role("web-profile"))
        web_identity_token_file = \(aws.home)/token-from-profile
        role_session_name = from-profile
        """.write(toFile: aws.config, atomically: true, encoding: .utf8)
        let tokenFile = aws.home + "/token"
        try "eyJhbGciOiJSUzI1NiJ9.web-identity-secret.sig\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try "eyJhbGciOiJSUzI1NiJ9.profile-secret.sig".write(
            toFile: aws.home + "/token-from-profile", atomically: true, encoding: .utf8)
        let base = aws.environment(["AWS_ENDPOINT_URL_STS": moto.url, "AWS_REGION": "us-east-1"])
        let fromEnv = base.merging([
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": Self.role("web"),
            "AWS_ROLE_SESSION_NAME": "ci-run",
        ]) { $1 }
        for (env, arn) in [
            (fromEnv, "assumed-role/web/ci-run"),
            (base.merging(["AWS_PROFILE": "ci"]) { $1 }, "assumed-role/web-profile/from-profile"),
        ] {
            let watched = WatchedTransport()
            let chain = CredentialChain(environment: env, http: watched)
            let c = try await chain.credentials()
            #expect(c.source.hasPrefix("web identity role"))
            let sts = STSClient(
                region: "us-east-1", environment: AWSEnvironment(env), credentials: chain, http: watched)
            #expect(try await sts.getCallerIdentity().arn == "arn:aws:sts::\(Self.account):\(arn)")
            let assume = watched.sent.all.filter { $0.contains("Action=AssumeRoleWithWebIdentity") }
            #expect(
                assume.count == 1
                    && assume.allSatisfy { $0.hasPrefix("unsigned ") && $0.contains("WebIdentityToken=eyJ") })
        }
        try "".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        await #expect {
            _ = try await CredentialChain(environment: fromEnv, http: CurlHTTPClient()).credentials()
        } throws: { credentialError($0, contains: "\(tokenFile) is empty") }
        try await roleFromTheInstanceRole(moto)
        await moto.stop()
    }

    /// (3) `credential_source = Ec2InstanceMetadata`: the role assumed with the instance role's
    /// credentials (IMDSv2 played by the peer), and AssumeRole signed with them. On the web
    /// identity test's moto (one server fewer to start).
    func roleFromTheInstanceRole(_ moto: MotoServer) async throws {
        let peer = try CredentialPeer()
        defer { peer.stop() }
        let aws = try AWSHome(
            config: """
                [profile box]
                role_arn = \(Self.role("from-box"))
                credential_source = Ec2InstanceMetadata
                role_session_name = box
                """)
        var env = aws.environment([
            "AWS_PROFILE": "box", "AWS_ENDPOINT_URL_STS": moto.url, "AWS_EC2_METADATA_SERVICE_ENDPOINT": peer.url,
        ])
        env["AWS_EC2_METADATA_DISABLED"] = nil
        let watched = WatchedTransport()
        let chain = CredentialChain(environment: env, http: watched)
        let c = try await chain.credentials()
        #expect(c.source == "role \(Self.role("from-box")) (profile box, from EC2 instance role peer-role)")
        let sts = STSClient(region: "us-east-1", environment: AWSEnvironment(env), credentials: chain, http: watched)
        #expect(try await sts.getCallerIdentity().arn == "arn:aws:sts::\(Self.account):assumed-role/from-box/box")
        let assume = watched.sent.all.filter { $0.contains("Action=AssumeRole&") }
        #expect(assume.count == 1 && assume[0].hasPrefix("ASIAPEER"), "signed with the instance role's key")
    }
}
