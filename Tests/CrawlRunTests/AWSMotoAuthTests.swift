import AWS
import Coordinator
import CrawlKit
import FargateBackend
import Foundation
import HTTP
import JSONKit
import ProcessKit
import TestSupport
import Testing

/// moto_server with SigV4 and IAM checked after the set-up calls, and two users holding the
/// policies `crawlrun iam-policy` prints: the coordinator's and the task role's.
struct MotoAccount {
    let moto: MotoServer
    let job: Job
    let jobPath: String
    let coordinator: (accessKeyId: String, secretAccessKey: String)
    let task: (accessKeyId: String, secretAccessKey: String)
    let logStream = "crawlrun/crawler/0123456789abcdef"
    let http = CurlHTTPClient()

    /// The set-up calls moto lets through unchecked (INITIAL_NO_AUTH_ACTION_COUNT); every later
    /// call is signed and authorized.
    static let setupCalls = 22

    static func start() async throws -> MotoAccount {
        let moto = try await MotoServer.start(initialNoAuthActions: setupCalls)
        do {
            return try await setUp(moto)
        } catch {
            await moto.stop()
            throw error
        }
    }

    private static func setUp(_ moto: MotoServer) async throws -> MotoAccount {
        let query = MotoQuery(endpoint: moto.url)
        var calls = 0
        // 1: a real subnet, as RunTask on moto checks it.
        let (subnet, vpc) = try await query.defaultSubnetAndVPC()
        calls += 1
        // 2–6: made public for `doctor` (moto's default VPC has no internet gateway), and its
        // default security group (all traffic out).
        let mainTable = try await query.ec2(
            "DescribeRouteTables",
            [
                ("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc), ("Filter.2.Name", "association.main"),
                ("Filter.2.Value.1", "true"),
            ])
        try await query.routeToInternet(vpc: vpc, routeTable: try #require(mainTable.first("routeTableId")))
        let groups = try await query.ec2(
            "DescribeSecurityGroups",
            [
                ("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc), ("Filter.2.Name", "group-name"),
                ("Filter.2.Value.1", "default"),
            ])
        let securityGroup = try #require(groups.first("groupId"))
        calls += 5
        var document = try readJSON(packageRoot + "/jobs/fargate-example.json")
        guard case .object(var root) = document, case .object(var fargate)? = root["fargate"] else {
            throw FixtureError("jobs/fargate-example.json has no fargate section")
        }
        fargate["subnets"] = [.string(subnet)]
        fargate["securityGroups"] = [.string(securityGroup)]
        root["fargate"] = .object(fargate)
        root["urlsFile"] = nil
        root["urls"] = ["http://127.0.0.1:9/"]
        document = .object(root)
        let jobPath = try writeJob(document, in: tempDir("moto-job"))
        let job = try Job.load(path: jobPath, backend: .fargate)

        // 7–14: the two users, holding the policies exactly as the real binary prints them
        // (resources widened only where moto cannot evaluate them; see `motoEvaluable`).
        let printed = try await CrawlrunProcess.run(["iam-policy", jobPath, "--json"])
        #expect(printed.code == 0, "\(printed.stderr)")
        let policies = try JSONValue.decode(Data(printed.stdout.utf8))
        let coordinator = try await query.user(
            "crawlrun-coordinator", policy: motoEvaluable(try #require(policies["coordinator"])))
        let task = try await query.user("crawlrun-task", policy: motoEvaluable(try #require(policies["taskRole"])))
        calls += 8

        // 15–22: the cluster, a log group with a stream of three events, the bucket, and the
        // crawler's image in ECR (moto's account is the example job's, 123456789012).
        let setup = AWSServices(
            region: "us-east-1",
            variables: [
                "AWS_ACCESS_KEY_ID": "AKIASETUPSETUPSETUP0", "AWS_SECRET_ACCESS_KEY": "setup",
                "AWS_ENDPOINT_URL": moto.url,
            ])
        // FARGATE and FARGATE_SPOT associated, as the job's capacity providers need (README,
        // "AWS set-up"; doctor checks it).
        _ = try await setup.ecs.client.call(
            "CreateCluster",
            ["clusterName": .string(job.fargate.cluster), "capacityProviders": ["FARGATE", "FARGATE_SPOT"]])
        try await setup.logs.createLogGroup(job.fargate.logGroup)
        let account = MotoAccount(
            moto: moto, job: job, jobPath: jobPath, coordinator: coordinator, task: task)
        _ = try await setup.logs.client.call(
            "CreateLogStream",
            ["logGroupName": .string(job.fargate.logGroup), "logStreamName": .string(account.logStream)])
        let now = Double(Int(Date().timeIntervalSince1970 * 1000))
        _ = try await setup.logs.client.call(
            "PutLogEvents",
            [
                "logGroupName": .string(job.fargate.logGroup), "logStreamName": .string(account.logStream),
                "logEvents": .array(
                    ["batch b1: 2 URLs", "summary: ok 2", "done 2/2"].enumerated().map {
                        ["timestamp": .number(now + Double($0.offset)), "message": .string($0.element)]
                    }),
            ])
        _ = try await setup.s3.send("PUT", job.fargate.bucket ?? "", key: "", operation: "CreateBucket")
        let image = try #require(ECRImageReference(job.task.crawlerImage))
        try await setup.ecr(region: image.region).createFakeImage(image)
        calls += 8
        #expect(calls == setupCalls, "INITIAL_NO_AUTH_ACTION_COUNT must equal the set-up calls")
        // moto's count can come out one short, leaving the first checked call free; this pins it.
        try await moto.enforceAuthentication()
        return account
    }

    /// moto checks the Resource of S3 statements against the object's ARN, but evaluates ECS and
    /// CloudWatch Logs calls against the resource "*" (moto/core/responses.py `call_action`;
    /// access_control.py: "TODO add support for the Resource and Condition parts of IAM
    /// policies"), so a statement scoped to the job's cluster could never match there. Those
    /// statements get `Resource: "*"` for moto; their actions, and every S3 statement, stay as
    /// printed.
    static func motoEvaluable(_ policy: JSONValue) -> JSONValue {
        guard case .object(var root) = policy, let statements = root["Statement"]?.arrayValue else { return policy }
        root["Statement"] = .array(
            statements.map { statement in
                let actions = statement["Action"]?.arrayValue?.compactMap(\.stringValue) ?? []
                guard case .object(var s) = statement, !actions.allSatisfy({ $0.hasPrefix("s3:") }) else {
                    return statement
                }
                s["Resource"] = "*"
                return .object(s)
            })
        return .object(root)
    }

    /// Variables for a process or client using `key`: nothing else from the caller's AWS set-up.
    func environment(_ key: (accessKeyId: String, secretAccessKey: String)) -> [String: String] {
        [
            "AWS_ACCESS_KEY_ID": key.accessKeyId, "AWS_SECRET_ACCESS_KEY": key.secretAccessKey,
            "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto.url,
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "AWS_CONFIG_FILE": "/nonexistent",
        ]
    }

    func services(_ key: (accessKeyId: String, secretAccessKey: String)) -> AWSServices {
        AWSServices(region: "us-east-1", variables: environment(key), http: http)
    }
}

/// Checks an error is an `AWSError` matching `predicate`.
func awsError(_ error: any Error, _ predicate: (AWSError) -> Bool) -> Bool {
    guard let e = error as? AWSError else { return false }
    return predicate(e)
}

@Suite(.serialized) struct MotoAuthTests {
    /// Every client operation, signed with the coordinator's key and allowed by its printed policy;
    /// a wrong secret and calls outside the policy fail clearly.
    @Test func everyOperationUnderThePrintedPolicies() async throws {
        let account = try await MotoAccount.start()
        defer { Task { await account.moto.stop() } }
        let job = account.job
        let f = job.fargate
        let bucket = try #require(f.bucket)

        // First, proof that moto now checks signatures: the right key id with a wrong secret.
        let wrong = account.services((account.coordinator.accessKeyId, "not-the-secret"))
        await #expect {
            _ = try await wrong.ecs.describeClusters([f.cluster])
        } throws: { error in
            awsError(error) { $0.isSignatureMismatch && $0.description.contains("signature") && !$0.isRetryable }
        }
        await #expect {
            _ = try await wrong.s3.getObject(S3Location(bucket: bucket, key: "x"))
        } throws: { awsError($0) { $0.isSignatureMismatch } }

        let aws = account.services(account.coordinator)
        // ECS.
        let clusters = try await aws.ecs.describeClusters([f.cluster])
        #expect(clusters["clusters"]?.arrayValue?.first?["status"] == "ACTIVE")
        let registered = try await TaskDefinitionRegistry.ensure(TaskDefinition.render(job), ecs: aws.ecs)
        #expect(!registered.reused && registered.revision == 1)
        let again = try await TaskDefinitionRegistry.ensure(TaskDefinition.render(job), ecs: aws.ecs)
        #expect(again.reused && again.arn == registered.arn, "an identical revision is reused")
        let described = try await aws.ecs.describeTaskDefinition("crawlrun-" + job.name)
        #expect(described["taskDefinition"]?["revision"] == 1)
        let overrides = TaskDefinition.overrides(
            batchLocation: "s3://\(bucket)/\(IAMPolicy.jobPrefix(job))r1/batches/b1.json",
            outLocation: "s3://\(bucket)/\(IAMPolicy.jobPrefix(job))r1/results/b1.jsonl")
        var request = RunTaskRequest(cluster: f.cluster, taskDefinition: registered.arn)
        request.network = AwsVpcConfiguration(
            subnets: f.subnets, securityGroups: f.securityGroups, assignPublicIp: f.assignPublicIp)
        request.clientToken = "r1-b1-a0"
        request.startedBy = "crawlrun"
        request.overrides = overrides
        let run = try await aws.ecs.runTask(request)
        #expect(run.failures.isEmpty)
        let taskArn = try #require(run.tasks.first?.taskArn)
        let tasks = try await aws.ecs.describeTasks(cluster: f.cluster, tasks: [taskArn])
        #expect(tasks.tasks.map(\.taskArn) == [taskArn])
        let listed = try await aws.ecs.listTasks(cluster: f.cluster, startedBy: "crawlrun")
        #expect(listed.contains(taskArn))
        let stopped = try await aws.ecs.stopTask(cluster: f.cluster, task: taskArn, reason: "test over")
        #expect(stopped.stoppedReason == "test over")

        // CloudWatch Logs: the stream reads to its end (the token repeats) and no further.
        #expect(try await aws.logs.createLogGroup(f.logGroup) == false, "it exists already")
        let streams = try await aws.logs.describeLogStreams(group: f.logGroup, prefix: "crawlrun/")
        #expect(streams.map(\.name) == [account.logStream])
        let read = try await aws.logs.readStream(group: f.logGroup, stream: account.logStream)
        #expect(read.events.map(\.message) == ["batch b1: 2 URLs", "summary: ok 2", "done 2/2"])
        let more = try await aws.logs.readStream(group: f.logGroup, stream: account.logStream, from: read.token)
        #expect(more.events.isEmpty, "reading on from the last token finds nothing new")

        // S3, under the job's prefix: put, head, get, a paginated listing, delete. Keys with a space
        // only: moto re-signs paths with "+", "%", "=" or non-ASCII differently from AWS and
        // rejects them even from boto3; `S3SigningTests` checks those keys against botocore.
        let prefix = IAMPolicy.jobPrefix(job) + "r1/"
        for i in 1...5 {
            try await aws.s3.putObject(
                S3Location(bucket: bucket, key: prefix + "batches/b\(i) x.json"), body: Data("{\"n\":\(i)}".utf8))
        }
        let one = S3Location(bucket: bucket, key: prefix + "batches/b1 x.json")
        #expect(try await aws.s3.headObject(one)?.size == 7)
        #expect(try await aws.s3.getObject(one) == Data(#"{"n":1}"#.utf8))
        // A listing prefix without "/": moto re-signs the query with %2F decoded and rejects any
        // prefix holding a "/" (getmoto/moto#5948, open). The spec's encoding is what AWS checks,
        // and the SigV4 suite's query cases cover it.
        let listPrefix = String(prefix.prefix { $0 != "/" })
        var pages = 0
        var keys: [String] = []
        var token: String?
        repeat {
            let page = try await aws.s3.listObjectsPage(
                bucket: bucket, prefix: listPrefix, continuationToken: token, maxKeys: 2)
            keys += page.objects.map(\.key)
            token = page.next
            pages += 1
        } while token != nil
        #expect(pages == 3 && keys.count == 5 && keys.allSatisfy { $0.hasPrefix(prefix + "batches/b") })
        #expect(try await aws.s3.listObjects(bucket: bucket, prefix: listPrefix).map(\.key) == keys)
        try await aws.s3.deleteObject(one)
        #expect(try await aws.s3.headObject(one) == nil)
        await #expect {
            _ = try await aws.s3.getObject(one)
        } throws: { awsError($0) { $0.code == "NoSuchKey" && $0.httpStatus == 404 } }

        // Outside the policy: another prefix, and an ECS call it does not name.
        await #expect {
            try await aws.s3.putObject(S3Location(bucket: bucket, key: "elsewhere/x"), body: Data("x".utf8))
        } throws: { awsError($0) { $0.isAccessDenied && $0.httpStatus == 403 } }
        await #expect {
            _ = try await aws.ecs.client.call("DeleteCluster", ["cluster": .string(f.cluster)])
        } throws: { error in
            awsError(error) { $0.isAccessDenied && $0.message.contains("not authorized to perform: ecs:DeleteCluster") }
        }

        // The task role: reads batches, writes results, and nothing else.
        let taskAWS = account.services(account.task)
        let batch = S3Location(bucket: bucket, key: prefix + "batches/b2 x.json")
        #expect(try await taskAWS.s3.getObject(batch) == Data(#"{"n":2}"#.utf8))
        try await taskAWS.s3.putObject(
            S3Location(bucket: bucket, key: prefix + "results/b2.jsonl"), body: Data("{}\n".utf8))
        await #expect {
            try await taskAWS.s3.putObject(batch, body: Data("{}".utf8))
        } throws: { awsError($0) { $0.isAccessDenied } }
        await #expect {
            _ = try await taskAWS.ecs.describeClusters([f.cluster])
        } throws: { awsError($0) { $0.isAccessDenied } }
        await account.moto.stop()
    }

    /// `crawlrun doctor` with the coordinator's key: all checks pass; a wrong secret and a missing
    /// cluster each exit 2 and say what is wrong. No secret is ever printed.
    @Test func doctorPassesAndNamesWhatIsWrong() async throws {
        let account = try await MotoAccount.start()
        defer { Task { await account.moto.stop() } }
        let good = account.environment(account.coordinator)

        let ok = try await CrawlrunProcess.run(["doctor", account.jobPath], environment: good)
        #expect(ok.code == 0, "\(ok.stdout)\n\(ok.stderr)")
        let lines = ok.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("✓ ") }.count == 11, "\(ok.stdout)")
        #expect(
            ok.stdout.contains(
                "✓ credentials      environment, key …\(account.coordinator.accessKeyId.suffix(4)) as arn:aws:iam::123456789012:user/crawlrun-coordinator"
            ), "\(ok.stdout)")
        #expect(ok.stdout.contains("crawlers is ACTIVE"))
        #expect(ok.stdout.contains("crawlrun-catalog-crawl:1 registered"))
        #expect(ok.stdout.contains("All 11 checks passed."))
        // The network checks, under the printed policy: a public subnet, all traffic out, and
        // the crawler's image in ECR (the sidecar's on Docker Hub: one task, within its anonymous limit).
        #expect(ok.stdout.contains("✓ subnet           subnet-"), "\(ok.stdout)")
        #expect(ok.stdout.contains("public, 0.0.0.0/0 → igw-"))
        #expect(ok.stdout.contains("✓ security groups  sg-") && ok.stdout.contains("allows all traffic out"))
        #expect(
            ok.stdout.contains(
                "✓ images           crawlrun-crawler:1.0.0 in ECR; selenium/standalone-chrome:4.27.0-20241225 from Docker Hub (1 task, within its anonymous limit)"
            ))
        let rerun = try await CrawlrunProcess.run(["doctor", account.jobPath], environment: good)
        #expect(rerun.code == 0 && rerun.stdout.contains("crawlrun-catalog-crawl:1 is identical"), "\(rerun.stdout)")

        var wrongSecret = good
        wrongSecret["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-value"
        let wrong = try await CrawlrunProcess.run(["doctor", account.jobPath], environment: wrongSecret)
        #expect(wrong.code == 2)
        #expect(
            wrong.stdout.contains("✗ cluster") && wrong.stdout.contains("the signature does not match"),
            "\(wrong.stdout)")
        #expect(wrong.stdout.contains("- task definition  skipped"))

        var document = try readJSON(account.jobPath)
        if case .object(var root) = document, case .object(var fargate)? = root["fargate"] {
            fargate["cluster"] = "no-such-cluster"
            root["fargate"] = .object(fargate)
            document = .object(root)
        }
        let missingPath = try writeJob(document, in: tempDir("moto-missing"))
        let missing = try await CrawlrunProcess.run(["doctor", missingPath], environment: good)
        #expect(missing.code == 2)
        #expect(missing.stdout.contains("✗ cluster          cluster \"no-such-cluster\" does not exist in us-east-1"))
        #expect(missing.stdout.contains("1 of 11 checks failed."), "\(missing.stdout)")

        for run in [ok, rerun, wrong, missing] {
            let all = run.stdout + run.stderr
            #expect(!all.contains(account.coordinator.secretAccessKey) && !all.contains("wrong-secret-value"))
        }
        await account.moto.stop()
    }
}

extension Chrome {
    /// The crawler on "Fargate": its batch read from S3 and its results written there, with the
    /// task role's key from the ECS container credential endpoint (played on loopback).
    @Suite struct CrawlerS3Tests {
        @Test func batchFromS3ResultsToS3WithContainerCredentials() async throws {
            let account = try await MotoAccount.start()
            defer { Task { await account.moto.stop() } }
            let site = try FixtureServer()
            defer { site.stop() }
            let driver = try await ChromeDriver.start()
            let role = account.task
            let credentials = try FixtureServer(fixtures: false) { request in
                guard request.url == "/creds", request.header("Authorization") == "task-token" else {
                    return HTTPResponse(status: 403)
                }
                let body: JSONValue = [
                    "AccessKeyId": .string(role.accessKeyId), "SecretAccessKey": .string(role.secretAccessKey),
                    "Expiration": "2099-01-01T00:00:00Z",
                ]
                return HTTPResponse(status: 200, body: Data(body.encoded()))
            }
            defer { credentials.stop() }

            let bucket = try #require(account.job.fargate.bucket)
            let run = IAMPolicy.jobPrefix(account.job) + "r1/"
            var crawl = CrawlOptions()
            crawl.allowPrivateNetworks = true
            crawl.fields = ["h1": FieldSpec(selector: "h1")]
            let urls = [site.baseURL + "/page/1", site.baseURL + "/page/2", site.baseURL + "/status/404"]
            let batch = BatchFile(batch: "b1", urls: urls, crawl: crawl)
            let coordinator = account.services(account.coordinator)
            try await coordinator.s3.putObject(
                S3Location(bucket: bucket, key: run + "batches/b1.json"), body: try JSONEncoder().encode(batch))

            let out = LineBox()
            let crawler = try ChildProcess(
                binary("crawler"),
                environment: [
                    "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": tempDir("home"),
                    "WEBDRIVER_URL": driver.url, "CRAWL_BATCH": "s3://\(bucket)/\(run)batches/b1.json",
                    "CRAWL_OUT": "s3://\(bucket)/\(run)results/b1.jsonl",
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI": credentials.baseURL + "/creds",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN": "task-token", "AWS_REGION": "us-east-1",
                    "AWS_ENDPOINT_URL": account.moto.url, "AWS_EC2_METADATA_DISABLED": "true",
                ], stdout: .lines { out.append($0) }, stderr: .lines { out.append($0) }, name: "crawler")
            let status = await crawler.wait(timeout: .seconds(120))
            await crawler.outputDrained()
            await driver.stop()
            #expect(status?.code == 0, "\(out.text)")
            #expect(credentials.hits("/creds") >= 1, "the task role's key came from the container endpoint")
            #expect(out.text.contains("results uploaded to s3://\(bucket)/\(run)results/b1.jsonl"))
            #expect(!out.text.contains(role.secretAccessKey))

            let results = try await coordinator.s3.getObject(S3Location(bucket: bucket, key: run + "results/b1.jsonl"))
            let records = try String(decoding: results, as: UTF8.self).split(separator: "\n").map {
                try JSONDecoder().decode(ResultRecord.self, from: Data($0.utf8))
            }
            #expect(records.map(\.url).sorted() == urls.sorted(), "one record per URL")
            #expect(records.filter(\.ok).count == 2)
            #expect(records.first { $0.url.hasSuffix("/page/1") }?.fields["h1"] != nil)
            await account.moto.stop()
        }
    }
}
