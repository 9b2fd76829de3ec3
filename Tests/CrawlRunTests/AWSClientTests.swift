import AWS
import CrawlKit
import FargateBackend
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

/// The AWS layer against recorded answers (faults a real peer will not produce on demand).
@Suite struct AWSClientUnitTests {
    static let keys = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE1234", "AWS_SECRET_ACCESS_KEY": "secret/key"]

    func client(_ transport: ClosureTransport) -> JSONProtocolClient {
        var c = JSONProtocolClient(
            service: "ecs", targetPrefix: "AmazonEC2ContainerServiceV20141113", region: "us-east-1",
            endpoint: "http://127.0.0.1:1", credentials: CredentialChain(environment: Self.keys, http: transport),
            http: transport, bucket: TokenBucket(capacity: 100, refillPerSecond: 100))
        c.retry.baseDelay = .milliseconds(1)
        return c
    }

    @Test func throttlingIsRetriedAndAccessDeniedIsNot() async throws {
        let calls = LineBox()
        let throttled = client(
            ClosureTransport { request in
                calls.append("x")
                #expect(request.header("X-Amz-Target") == "AmazonEC2ContainerServiceV20141113.ListTasks")
                #expect(
                    request.header("Authorization")?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE1234/") == true)
                if calls.count < 3 {
                    return HTTPResponse(
                        status: 400,
                        body: Data(#"{"__type":"com.amazonaws#ThrottlingException","message":"Rate exceeded"}"#.utf8))
                }
                return HTTPResponse(status: 200, body: Data(#"{"taskArns":["a"]}"#.utf8))
            })
        let listed = try await throttled.call("ListTasks", ["cluster": "c"])
        #expect(listed["taskArns"] == ["a"] && calls.count == 3)

        let denied = LineBox()
        let deny = client(
            ClosureTransport { _ in
                denied.append("x")
                return HTTPResponse(
                    status: 400,
                    body: Data(
                        #"{"__type":"AccessDeniedException","Message":"User is not authorized to perform: ecs:RunTask"}"#
                            .utf8))
            })
        await #expect {
            _ = try await deny.call("RunTask", [:])
        } throws: { error in
            guard let e = error as? AWSError else { return false }
            return e.isAccessDenied && e.description.contains("not authorized to perform: ecs:RunTask")
                && !e.isRetryable
        }
        #expect(denied.count == 1, "a 4xx other than throttling is not retried")
    }

    @Test func credentialsFromProfileFilesAndContainer() async throws {
        let dir = tempDir("aws")
        try
            "[default]\naws_access_key_id = AKIDDEFAULT0000\naws_secret_access_key = s1\n\n[ci]\naws_access_key_id=AKIDPROFILE9999\naws_secret_access_key=s2\naws_session_token = tok\n"
            .write(toFile: dir + "/credentials", atomically: true, encoding: .utf8)
        try "[profile ci]\nregion = eu-west-1\n".write(toFile: dir + "/config", atomically: true, encoding: .utf8)
        let none = ClosureTransport { _ in throw HTTPError(code: .connect, curlCode: 7, message: "refused", url: "") }
        let env = [
            "AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials", "AWS_CONFIG_FILE": dir + "/config",
            "AWS_PROFILE": "ci",
        ]
        let c = try await CredentialChain(environment: env, http: none).credentials()
        #expect(c.accessKeyId == "AKIDPROFILE9999" && c.sessionToken == "tok")
        #expect(c.description == "profile ci (\(dir)/credentials), key …9999", "source and last four only")
        #expect(AWSEnvironment(env).region() == "eu-west-1")
        // The environment comes first.
        let fromEnv = try await CredentialChain(environment: env.merging(Self.keys) { $1 }, http: none).credentials()
        #expect(fromEnv.source == "environment")
        // ECS container credentials, with the authorization token.
        let container = ClosureTransport { request in
            #expect(request.url == "http://127.0.0.1:9/creds" && request.header("Authorization") == "Bearer t0k")
            return HTTPResponse(
                status: 200,
                body: Data(
                    #"{"AccessKeyId":"ASIATASKROLE4321","SecretAccessKey":"x","Token":"session","Expiration":"2099-01-01T00:00:00Z"}"#
                        .utf8))
        }
        let task = try await CredentialChain(
            environment: [
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer t0k", "HOME": dir,
            ], http: container
        ).credentials()
        #expect(task.accessKeyId == "ASIATASKROLE4321" && task.sessionToken == "session")
        #expect(task.expiration == 4_070_908_800)
        // Nothing anywhere: a clear message.
        await #expect {
            _ = try await CredentialChain(environment: ["HOME": dir, "AWS_EC2_METADATA_DISABLED": "true"], http: none)
                .credentials()
        } throws: { ($0 as? AWSError)?.message.contains("no AWS credentials found") == true }
    }
}

/// The AWS layer against moto_server on loopback.
@Suite(.serialized) struct MotoTests {
    /// The rendered task definition is accepted by a real RegisterTaskDefinition and reads back
    /// with both containers.
    @Test func taskDefinitionRegisters() async throws {
        let moto = try await MotoServer.start()
        defer { Task { await moto.stop() } }
        let job = try Job.load(path: packageRoot + "/jobs/fargate-example.json", backend: .fargate)
        let env = AWSEnvironment(["AWS_ENDPOINT_URL": moto.url])
        let http = CurlHTTPClient()
        let ecs = ECSClient(
            region: job.fargate.region ?? "us-east-1", environment: env,
            credentials: CredentialChain(
                environment: ["AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "x"], http: http),
            http: http)
        let registered = try await ecs.registerTaskDefinition(TaskDefinition.render(job))
        let def = try #require(registered["taskDefinition"])
        #expect(def["family"]?.stringValue == "crawlrun-" + job.name)
        #expect(def["status"] == "ACTIVE" && def["revision"] == 1)
        let described = try await ecs.describeTaskDefinition("crawlrun-" + job.name)
        let containers = described["taskDefinition"]?["containerDefinitions"]?.arrayValue ?? []
        #expect(containers.compactMap { $0["name"]?.stringValue } == ["webdriver", "crawler"])
        #expect(containers.last?["dependsOn"] == [["containerName": "webdriver", "condition": "HEALTHY"]])
        #expect(described["taskDefinition"]?["networkMode"] == "awsvpc")
        await moto.stop()
    }
}

/// `crawlrun iam-policy`: least privilege, scoped to the job's own resources.
@Suite struct IAMPolicyTests {
    @Test func policiesNameOnlyTheJobsResources() async throws {
        let r = try await CrawlrunProcess.run(["iam-policy", packageRoot + "/jobs/fargate-example.json", "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        let doc = try JSONValue.decode(Data(r.stdout.utf8))
        let statements = doc["coordinator"]?["Statement"]?.arrayValue ?? []
        func statement(_ sid: String) -> JSONValue? { statements.first { $0["Sid"]?.stringValue == sid } }
        #expect(
            statement("PassTheJobsRoles")?["Resource"] == [
                "arn:aws:iam::123456789012:role/crawlrun-execution", "arn:aws:iam::123456789012:role/crawlrun-task",
            ])
        #expect(
            statement("RunTasks")?["Resource"]
                == "arn:aws:ecs:us-east-1:123456789012:task-definition/crawlrun-catalog-crawl:*")
        #expect(statement("RunFiles")?["Resource"] == "arn:aws:s3:::example-crawl-bucket/crawlrun/catalog-crawl/*")
        #expect(
            statement("TagNewTasks")?["Resource"] == "arn:aws:ecs:us-east-1:123456789012:task/crawlers/*"
                && statement("TagNewTasks")?["Condition"] == ["StringEquals": ["ecs:CreateAction": "RunTask"]],
            "RunTask's tags, and no other tagging")
        let wildcards = statements.filter { $0["Resource"] == "*" }.compactMap { $0["Sid"]?.stringValue }
        #expect(
            wildcards == ["TaskDefinitions", "WatchAndStopTasks", "NetworkChecks"],
            "only where ECS and EC2 take no resource")
        #expect(statement("NetworkChecks")?["Condition"] == ["StringEquals": ["ec2:Region": "us-east-1"]])
        #expect(
            statement("CheckImages")?["Resource"]
                == ["arn:aws:ecr:us-east-1:123456789012:repository/crawlrun-crawler"],
            "the job's ECR repository only (the sidecar is on Docker Hub)")
        #expect(statement("WatchAndStopTasks")?["Condition"] != nil, "… and then limited to the job's cluster")
        let actions = statements.flatMap { $0["Action"]?.arrayValue ?? [] }.compactMap(\.stringValue)
        #expect(!actions.contains { $0.hasSuffix("*") }, "no action wildcards")
        let task = doc["taskRole"]?["Statement"]?.arrayValue ?? []
        #expect(task.flatMap { $0["Action"]?.arrayValue ?? [] } == ["s3:GetObject", "s3:PutObject"])
        #expect(task.first?["Resource"] == "arn:aws:s3:::example-crawl-bucket/crawlrun/catalog-crawl/*/batches/*")
        // Issue 19 item 9: the execution role's policy too, without logs:CreateLogGroup (the task
        // definition sets no awslogs-create-group; crawlrun creates the group).
        let execution = doc["executionRole"]?["Statement"]?.arrayValue ?? []
        let executionActions = execution.flatMap { $0["Action"]?.arrayValue ?? [] }.compactMap(\.stringValue)
        #expect(
            executionActions == [
                "logs:CreateLogStream", "logs:PutLogEvents", "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
            ], "\(executionActions)")
        #expect(
            execution.first?["Resource"]
                == [
                    "arn:aws:logs:us-east-1:123456789012:log-group:/crawlrun/catalog",
                    "arn:aws:logs:us-east-1:123456789012:log-group:/crawlrun/catalog:*",
                ])
        let text = try await CrawlrunProcess.run(["iam-policy", packageRoot + "/jobs/fargate-example.json"])
        #expect(text.stdout.contains("# Execution role policy (attach to arn:aws:iam::"), "\(text.stdout)")
        let missing = try await CrawlrunProcess.run(["iam-policy", packageRoot + "/jobs/demo.json"])
        #expect(missing.code == 65 && missing.stderr.contains("fargate"), "the demo job has no fargate section")
    }
}

@Suite struct PrettyJSONTests {
    @Test func prettyPrintedReadsBackTheSame() throws {
        let v: JSONValue = ["b": [1, "two", ["c": .null, "d": []]], "a": true, "e": [:], "f": "q\"uote"]
        let text = v.prettyPrinted()
        #expect(try JSONValue.decode(Data(text.utf8)) == v)
        #expect(text.hasPrefix("{\n  \"a\": true,\n  \"b\": [\n    1,\n"))
    }
}
