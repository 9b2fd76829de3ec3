import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

@testable import AWS
@testable import CrawlKit
@testable import FargateBackend

/// Credentials that expire every few seconds, from each temporary source, over a run that
/// outlives several of them; and a machine whose clock is an hour off.
@Suite(.serialized) struct CredentialRefreshTests {
    /// moto's STS answers, passed on to the checking peer so that calls signed with them are judged.
    static func registering(_ peer: CredentialPeer) -> WatchedTransport {
        var watched = WatchedTransport()
        watched.onResponse = { _, response in
            guard response.status == 200, let root = XMLNode.parse(response.body), root.name.hasPrefix("AssumeRole"),
                let id = root.first("AccessKeyId"), let secret = root.first("SecretAccessKey"),
                let token = root.first("SessionToken"), let expiry = root.first("Expiration").flatMap(parseISO8601)
            else { return }
            peer.register(
                CredentialPeer.Issued(
                    accessKeyId: id, secretAccessKey: secret, sessionToken: token, expiration: expiry,
                    arn: root.first("Arn") ?? ""))
        }
        return watched
    }

    /// (5) SSO, credential_process, the container endpoint, IMDS, AssumeRole (moto, sourced from
    /// the container) and web identity (moto): 5-second credentials, a 3-second refresh window (a
    /// slow machine's calls still arrive in time), a call every 200 ms until each source has gone
    /// through three credentials. The peer checks each call's signature and expiry: none is refused. Before issue 19 the SSO,
    /// process, role and web identity sources did not exist (and the refresh window was fixed).
    @Test func everyTemporarySourceIsRefreshedBeforeItExpires() async throws {
        let peer = try CredentialPeer(lifetime: 5)
        defer { peer.stop() }
        let moto = try await MotoServer.start()
        defer { Task { await moto.stop() } }
        peer.acceptSSOToken("sso-token")
        let aws = try AWSHome(config: "")
        try aws.cacheSSOToken(
            key: "corp", token: "sso-token", expiresAt: CredentialPeer.iso8601(Date().timeIntervalSince1970 + 3600))
        try "eyJ.web.token".write(toFile: aws.home + "/web-token", atomically: true, encoding: .utf8)
        let fetch =
            "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('\(peer.url)/process').read().decode())"
        try
            (CredentialSourcesTests.ssoConfig + """

                [profile proc]
                credential_process = python3 -c "\(fetch)"
                [profile role]
                role_arn = arn:aws:iam::123456789012:role/refresh
                credential_source = EcsContainer
                duration_seconds = 5
                [profile web]
                role_arn = arn:aws:iam::123456789012:role/web-refresh
                web_identity_token_file = \(aws.home)/web-token
                duration_seconds = 5
                """).write(toFile: aws.config, atomically: true, encoding: .utf8)
        let common = aws.environment(["AWS_ENDPOINT_URL_STS": moto.url, "AWS_REGION": "us-east-1"])
        let container = ["AWS_CONTAINER_CREDENTIALS_FULL_URI": peer.url + "/container"]
        var imds = common.merging(["AWS_EC2_METADATA_SERVICE_ENDPOINT": peer.url]) { $1 }
        imds["AWS_EC2_METADATA_DISABLED"] = nil
        let sources: [(String, [String: String])] = [
            ("sso", common.merging(["AWS_PROFILE": "dev", "AWS_ENDPOINT_URL_SSO": peer.url]) { $1 }),
            ("process", common.merging(["AWS_PROFILE": "proc"]) { $1 }),
            ("container", common.merging(container) { $1 }),
            ("imds", imds),
            ("role", common.merging(container.merging(["AWS_PROFILE": "role"]) { $1 }) { $1 }),
            ("web", common.merging(["AWS_PROFILE": "web"]) { $1 }),
        ]
        let checked = AWSEnvironment(["AWS_ENDPOINT_URL_STS": peer.url])
        let results = try await withThrowingTaskGroup(of: (String, [String], Int).self) { group in
            for (name, env) in sources {
                group.addTask {
                    let chain = CredentialChain(environment: env, http: Self.registering(peer), refreshWindow: 3)
                    let sts = STSClient(
                        region: "us-east-1", environment: checked, credentials: chain, http: CurlHTTPClient())
                    var keys: [String] = []
                    let deadline = ContinuousClock.now + .seconds(60)
                    var calls = 0
                    while keys.count < 3 && ContinuousClock.now < deadline {
                        _ = try await sts.getCallerIdentity()
                        let key = try await chain.credentials().accessKeyId
                        if keys.last != key { keys.append(key) }
                        calls += 1
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    return (name, keys, calls)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let refused = peer.calls.filter { $0.refused != nil }
        #expect(refused.isEmpty, "calls refused: \(refused.map { "\($0.accessKeyId) \($0.refused ?? "")" })")
        for (name, keys, calls) in results {
            #expect(keys.count >= 3 && calls > keys.count, "\(name): \(keys.count) credentials over \(calls) calls")
        }
        #expect(peer.calls.count == results.reduce(0) { $0 + $1.2 })
        await moto.stop()
    }

    /// (6) The peer's clock an hour ahead (and an hour behind): STS's "Signature expired" and S3's
    /// RequestTimeTooSkewed set the signing clock from the answer's Date, and the call is signed
    /// again once and succeeds; a wrong secret on a clock in step is not retried. `doctor` says how
    /// far off this machine's clock is. Before issue 19 each of these calls failed.
    @Test func clockSkewIsCorrectedFromTheServersDate() async throws {
        for offset in [3600.0, -3600.0] {
            let peer = try CredentialPeer(clockOffset: offset)
            defer { peer.stop() }
            let key = peer.issue()
            let env = [
                "AWS_ACCESS_KEY_ID": key.accessKeyId, "AWS_SECRET_ACCESS_KEY": key.secretAccessKey,
                "AWS_SESSION_TOKEN": key.sessionToken, "AWS_ENDPOINT_URL": peer.url, "HOME": tempDir("skew"),
            ]
            let aws = AWSServices(region: "us-east-1", variables: env)
            let identity = try await aws.sts.getCallerIdentity()
            #expect(identity.arn == key.arn && abs(aws.credentials.clock.offsetSeconds - offset) <= 2)
            #expect(peer.calls.map(\.refused) == ["SignatureDoesNotMatch", nil])
            // S3, on a fresh clock.
            let s3 = AWSServices(region: "us-east-1", variables: env).s3
            try await s3.putObject(S3Location(bucket: "b", key: "k"), body: Data("x".utf8))
            #expect(peer.calls.map(\.refused) == ["SignatureDoesNotMatch", nil, "RequestTimeTooSkewed", nil])

            let job = try Job.load(path: packageRoot + "/jobs/fargate-example.json", backend: .fargate)
            let lines = LineBox()
            var doctor = Doctor(job: job, variables: env) { lines.append($0) }
            #expect(await doctor.checkCredentials(AWSServices(region: "us-east-1", variables: env)))
            #expect(lines.contains("✓ credentials      environment, key …\(key.accessKeyId.suffix(4)) as \(key.arn)"))
            let side = offset > 0 ? "behind" : "ahead of"
            #expect(
                lines.contains(
                    "  clock: this machine's clock is 3600 s off (\(side) AWS's); calls are signed with AWS's time")
                    || lines.contains("is 3599 s off") || lines.contains("is 3601 s off"), "\(lines.text)")
        }
        let inStep = try CredentialPeer()
        defer { inStep.stop() }
        let key = inStep.issue()
        let wrong = AWSServices(
            region: "us-east-1",
            variables: [
                "AWS_ACCESS_KEY_ID": key.accessKeyId, "AWS_SECRET_ACCESS_KEY": "not-the-secret",
                "AWS_SESSION_TOKEN": key.sessionToken, "AWS_ENDPOINT_URL": inStep.url, "HOME": tempDir("skew"),
            ])
        await #expect {
            _ = try await wrong.sts.getCallerIdentity()
        } throws: { ($0 as? AWSError)?.code == "SignatureDoesNotMatch" && !"\($0)".contains("not-the-secret") }
        #expect(inStep.calls.count == 1 && wrong.credentials.clock.offsetSeconds == 0)
    }
}
