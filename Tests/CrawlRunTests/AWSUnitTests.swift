import AWS
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

@testable import CrawlRunCLI
@testable import FargateBackend

/// Error shapes, the log-reading rule and credentials from each endpoint, with recorded answers
/// and a loopback server playing the ECS and EC2 credential endpoints.
@Suite struct AWSErrorShapeTests {
    static let keys = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE1234", "AWS_SECRET_ACCESS_KEY": "secret/key"]

    func services(_ transport: ClosureTransport) -> AWSServices {
        AWSServices(
            region: "us-east-1", variables: Self.keys.merging(["AWS_ENDPOINT_URL": "http://127.0.0.1:1"]) { $1 },
            http: transport)
    }

    @Test func xmlAndJSONErrorsDecode() async throws {
        // A gateway's XML answer to a JSON-protocol call (moto's auth layer answers this way).
        let gateway = services(
            ClosureTransport { _ in
                HTTPResponse(
                    status: 403,
                    body: Data(
                        "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: u is not authorized to perform: logs:GetLogEvents</Message></Error></Errors></ErrorResponse>"
                            .utf8))
            })
        await #expect {
            _ = try await gateway.logs.getLogEvents(group: "g", stream: "s")
        } throws: { error in
            awsError(error) {
                $0.isAccessDenied
                    && $0.message == "GetLogEvents: User: u is not authorized to perform: logs:GetLogEvents"
            }
        }
        // S3's XML error, entities decoded; HEAD's body-less 404 is "no such object".
        let s3 = services(
            ClosureTransport { request in
                if request.method == "HEAD" { return HTTPResponse(status: 404) }
                return HTTPResponse(
                    status: 404,
                    body: Data(
                        "<Error><Code>NoSuchKey</Code><Message>The key &quot;a&amp;b&quot; does not exist</Message><Key>a&amp;b</Key></Error>"
                            .utf8))
            })
        let location = S3Location(bucket: "bkt", key: "a&b")
        #expect(try await s3.s3.headObject(location) == nil)
        await #expect {
            _ = try await s3.s3.getObject(location)
        } throws: { error in
            awsError(error) {
                $0.code == "NoSuchKey" && !$0.isRetryable
                    && $0.description == "NoSuchKey: GetObject s3://bkt/a&b: The key \"a&b\" does not exist (HTTP 404)"
            }
        }
        // SlowDown is retried, then succeeds.
        let calls = LineBox()
        var slow = services(
            ClosureTransport { _ in
                calls.append("x")
                if calls.count == 1 {
                    return HTTPResponse(status: 503, body: Data("<Error><Code>SlowDown</Code></Error>".utf8))
                }
                return HTTPResponse(status: 200, body: Data("ok".utf8))
            }
        ).s3
        slow.retry.baseDelay = .milliseconds(1)
        #expect(try await slow.getObject(location) == Data("ok".utf8) && calls.count == 2)
        #expect(S3Location(uri: "s3://b/k/x.json") == S3Location(bucket: "b", key: "k/x.json"))
        #expect(S3Location(uri: "s3://b/") == nil && S3Location(uri: "s3:///k") == nil)
    }

    /// Empty pages come before the end; the end is the token coming back unchanged.
    @Test func logStreamIsReadToTheRepeatedToken() async throws {
        let pages: [String: (events: [String], next: String)] = [
            "": (["one"], "t1"), "t1": ([], "t2"), "t2": (["two", "three"], "t3"), "t3": ([], "t3"),
        ]
        let sent = LineBox()
        let logs = services(
            ClosureTransport { request in
                let input = try JSONValue.decode(request.body ?? Data())
                #expect(input["startFromHead"] == true, "with a token too, or the token reads backwards")
                let token = input["nextToken"]?.stringValue ?? ""
                sent.append(token)
                let page = try #require(pages[token])
                let body: JSONValue = [
                    "events": .array(page.events.map { ["timestamp": 1, "message": .string($0)] }),
                    "nextForwardToken": .string(page.next),
                ]
                return HTTPResponse(status: 200, body: Data(body.encoded()))
            }
        ).logs
        let read = try await logs.readStream(group: "g", stream: "s")
        #expect(read.events.map(\.message) == ["one", "two", "three"])
        #expect(read.token == "t3" && sent.all == ["", "t1", "t2", "t3"])
    }

    /// Calls beyond the bucket's burst wait for tokens instead of reaching the API.
    @Test func tokenBucketSpacesABurst() async throws {
        let bucket = TokenBucket(capacity: 2, refillPerSecond: 20)
        let start = ContinuousClock.now
        for _ in 0..<6 { try await bucket.take() }
        // Two from the burst, four at 20 a second: at least 200 ms (a lower bound cannot flake).
        #expect(ContinuousClock.now - start >= .milliseconds(190))
    }

    /// Connection failures are retried, but not past the call's deadline.
    @Test func retriesStopAtTheDeadline() async {
        let calls = LineBox()
        var s3 = services(
            ClosureTransport { _ in
                calls.append("x")
                throw HTTPError(code: .connect, curlCode: 7, message: "refused", url: "")
            }
        ).s3
        s3.retry.maxAttempts = 1000
        s3.retry.baseDelay = .milliseconds(20)
        s3.retry.maxDelay = .milliseconds(50)
        // A deadline well above one attempt even while the whole suite loads the machine (1 s
        // was not, once), and far below 1000 pauses of 20–50 ms.
        s3.retry.deadline = .seconds(3)
        await #expect {
            _ = try await s3.getObject(S3Location(bucket: "b", key: "k"))
        } throws: { awsError($0) { $0.kind == .transport && $0.message.contains("did not get an answer") } }
        // Gave up at the deadline, long before 1000 attempts. (How many fit in before it depends
        // on the cooperative pool, which CPU-heavy suites beside this one can hold for seconds;
        // that retries happen at all is `throttlingIsRetriedAndAccessDeniedIsNot`'s to show.)
        #expect(calls.count >= 1 && calls.count < 1000, "gave up at the deadline")
    }

    @Test func doctorUnderstandsJobsAndDefinitions() async throws {
        #expect(Doctor.isRoleARN("arn:aws:iam::123456789012:role/path/crawlrun-task"))
        #expect(Doctor.isRoleARN("arn:aws-cn:iam::123456789012:role/a+b=c,d.e@f_g-h"))
        #expect(!Doctor.isRoleARN("arn:aws:iam::12345:role/x"))
        #expect(!Doctor.isRoleARN("arn:aws:iam::123456789012:user/x"))
        #expect(!Doctor.isRoleARN("arn:aws:iam::123456789012:role/"))
        #expect(!Doctor.isRoleARN("arn:aws:s3:::123456789012:role/x"))
        // ECS adds defaults to what it stores; the job's definition is still "identical".
        let wanted: JSONValue = [
            "family": "f", "containerDefinitions": [["name": "a", "environment": [["name": "X"]]]],
        ]
        let stored: JSONValue = [
            "family": "f", "revision": 3,
            "containerDefinitions": [["name": "a", "cpu": 0, "mountPoints": [], "environment": [["name": "X"]]]],
        ]
        #expect(TaskDefinitionRegistry.contains(stored, wanted))
        let changed: JSONValue = ["family": "f", "containerDefinitions": [["name": "a", "environment": []]]]
        #expect(!TaskDefinitionRegistry.contains(stored, changed))
        #expect(await CLI.main(["crawlrun", "doctor"]) == ExitCode.usage.rawValue)
        #expect(await CLI.main(["crawlrun", "doctor", "a.json", "--fix"]) == ExitCode.usage.rawValue)
    }
}

/// The ECS container endpoint and EC2's IMDSv2, played by a loopback server.
@Suite struct CredentialEndpointTests {
    static let temporary =
        #"{"AccessKeyId":"ASIAROLE0000WXYZ","SecretAccessKey":"role-secret","Token":"role-token","Expiration":"2099-01-01T00:00:00Z"}"#

    @Test func containerCredentialsWithTokenFile() async throws {
        let dir = tempDir("ecs-creds")
        try "Bearer from-file\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        let server = try FixtureServer(fixtures: false) { request in
            guard request.url == "/v2/credentials/task" else { return HTTPResponse(status: 404) }
            guard request.header("Authorization") == "Bearer from-file" else { return HTTPResponse(status: 401) }
            return HTTPResponse(status: 200, body: Data(Self.temporary.utf8))
        }
        defer { server.stop() }
        let http = CurlHTTPClient()
        let env = [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/v2/credentials/task",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": dir + "/token", "HOME": dir,
        ]
        let chain = CredentialChain(environment: env, http: http)
        let c = try await chain.credentials()
        #expect(c.accessKeyId == "ASIAROLE0000WXYZ" && c.sessionToken == "role-token")
        #expect(c.description == "ECS container credentials, key …WXYZ")
        #expect(!c.description.contains("role-secret") && !c.description.contains("role-token"))
        _ = try await chain.credentials()
        #expect(server.hits("/v2/credentials/task") == 1, "cached until five minutes before expiry")

        var wrongToken = env
        wrongToken["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = nil
        wrongToken["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "Bearer wrong"
        await #expect {
            _ = try await CredentialChain(environment: wrongToken, http: http).credentials()
        } throws: { awsError($0) { $0.message == "cannot fetch ECS container credentials: HTTP 401" } }
    }

    @Test func instanceMetadataV2() async throws {
        let server = try FixtureServer(fixtures: false) { request in
            switch (request.method, request.url) {
            case ("PUT", "/latest/api/token"):
                guard request.header("X-aws-ec2-metadata-token-ttl-seconds") != nil else {
                    return HTTPResponse(status: 400)
                }
                return HTTPResponse(status: 200, body: Data("imds-session".utf8))
            case ("GET", let path) where path.hasPrefix("/latest/meta-data/iam/security-credentials/"):
                // IMDSv2 only: a request without the session token is refused.
                guard request.header("X-aws-ec2-metadata-token") == "imds-session" else {
                    return HTTPResponse(status: 401)
                }
                if path.hasSuffix("/") { return HTTPResponse(status: 200, body: Data("crawler-host\n".utf8)) }
                if path.hasSuffix("/crawler-host") { return HTTPResponse(status: 200, body: Data(Self.temporary.utf8)) }
                return HTTPResponse(status: 404)
            default:
                return HTTPResponse(status: 404)
            }
        }
        defer { server.stop() }
        let c = try await CredentialChain(
            environment: ["HOME": tempDir("imds"), "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL],
            http: CurlHTTPClient()
        ).credentials()
        #expect(c.accessKeyId == "ASIAROLE0000WXYZ" && c.source == "EC2 instance role crawler-host")
        #expect(c.expiration == 4_070_908_800)
    }
}
