import CrawlKit
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

@testable import AWS

/// The typed ECS surface the Fargate backend builds on, against recorded AWS answers (what moto
/// does not produce: failures[], MISSING, stopCode, an absent exit code, paging).
@Suite struct ECSRecordedTests {
    /// Answers `answer(target, input)`; records every operation called.
    func ecs(
        _ calls: LineBox, _ answer: @escaping @Sendable (String, JSONValue) -> HTTPResponse
    ) -> ECSClient {
        let transport = ClosureTransport { request in
            let target = String(request.header("X-Amz-Target")?.split(separator: ".").last ?? "")
            calls.append(target)
            return answer(target, try JSONValue.decode(request.body ?? Data()))
        }
        var ecs = ECSClient(
            region: "us-east-1", environment: AWSEnvironment(["AWS_ENDPOINT_URL": "http://127.0.0.1:1"]),
            credentials: CredentialChain(environment: AWSClientUnitTests.keys, http: transport), http: transport)
        ecs.client.retry.baseDelay = .milliseconds(1)
        return ecs
    }

    static func ok(_ body: String) -> HTTPResponse { HTTPResponse(status: 200, body: Data(body.utf8)) }

    @Test func runTaskSendsEveryFieldAndReturnsFailures() async throws {
        let calls = LineBox()
        let sent = LineBox()
        let ecs = ecs(calls) { _, input in
            sent.append(String(decoding: input.encoded(), as: UTF8.self))
            return Self.ok(
                #"{"tasks":[],"failures":[{"reason":"Capacity is unavailable at this time. Please try again later or in a different availability zone"}]}"#
            )
        }
        var request = RunTaskRequest(cluster: "crawlers", taskDefinition: "crawlrun-demo:3")
        request.network = AwsVpcConfiguration(subnets: ["subnet-1"], securityGroups: ["sg-1"], assignPublicIp: false)
        request.launch = .capacityProviders([
            CapacityProviderStrategyItem(provider: "FARGATE_SPOT", weight: 3),
            CapacityProviderStrategyItem(provider: "FARGATE", weight: 1, base: 1),
        ])
        request.platformVersion = "LATEST"
        request.startedBy = "run-20261122-0315"
        request.tags = [ECSTag("crawlrun:run", "r1"), ECSTag("crawlrun:batch", "b0001")]
        request.propagateTags = .taskDefinition
        request.enableECSManagedTags = true
        request.overrides = [
            "containerOverrides": [["name": "crawler", "environment": [["name": "X", "value": "1"]]]]
        ]
        request.clientToken = "r1-b0001-a1"
        let result = try await ecs.runTask(request)
        #expect(result.tasks.isEmpty && result.failures.count == 1)
        #expect(result.failures.first?.isCapacity == true)
        let body = try JSONValue.decode(Data(sent.all.joined().utf8))
        #expect(body["launchType"] == nil, "ECS rejects a launch type beside a strategy")
        #expect(
            body["capacityProviderStrategy"] == [
                ["capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0],
                ["capacityProvider": "FARGATE", "weight": 1, "base": 1],
            ])
        #expect(
            body["networkConfiguration"] == [
                "awsvpcConfiguration": [
                    "subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED",
                ]
            ])
        #expect(body["count"] == 1 && body["platformVersion"] == "LATEST" && body["clientToken"] == "r1-b0001-a1")
        #expect(body["startedBy"] == "run-20261122-0315" && body["propagateTags"] == "TASK_DEFINITION")
        #expect(body["enableECSManagedTags"] == true)
        #expect(
            body["tags"] == [["key": "crawlrun:run", "value": "r1"], ["key": "crawlrun:batch", "value": "b0001"]])
        #expect(body["overrides"]?["containerOverrides"]?.arrayValue?.first?["name"] == "crawler")
    }

    /// Each limit of ECS's is checked before the call, all named in one error; nothing is sent.
    @Test func runTaskLimitsAreCheckedBeforeTheCall() async throws {
        let calls = LineBox()
        let ecs = ecs(calls) { _, _ in Self.ok("{}") }
        var request = RunTaskRequest(cluster: "c", taskDefinition: "td")
        request.startedBy = String(repeating: "r", count: 37)
        request.clientToken = "has a space"
        request.overrides = [
            "containerOverrides": [["name": "crawler", "command": [.string(String(repeating: "u", count: 8200))]]]
        ]
        request.tags =
            (0..<51).map { ECSTag("k\($0)", "v") } + [
                ECSTag(String(repeating: "k", count: 129), String(repeating: "v", count: 257))
            ]
        request.launch = .capacityProviders([
            CapacityProviderStrategyItem(provider: "FARGATE", weight: 1001, base: 1),
            CapacityProviderStrategyItem(provider: "FARGATE_SPOT", weight: 1, base: 2),
        ])
        await #expect {
            _ = try await ecs.runTask(request)
        } throws: { error in
            guard let e = error as? AWSError else { return false }
            let m = e.message
            return e.category == .invalidParameter && !e.isRetryable && m.hasPrefix("RunTask was not sent: ")
                && m.contains("startedBy is 37 characters; ECS allows at most 36")
                && m.contains("clientToken may hold only printable ASCII characters without spaces")
                && m.contains("overrides are 8258 characters of JSON; ECS allows at most 8192")
                && m.contains("52 tags; ECS allows at most 50") && m.contains("is 129 characters; ECS allows 1 to 128")
                && m.contains("is 257 characters; ECS allows 256") && m.contains("FARGATE weight 1001 is not 0–1000")
                && m.contains("only one capacity provider of a strategy may have a base")
        }
        #expect(calls.count == 0, "nothing was sent")
        var fine = RunTaskRequest(cluster: "c", taskDefinition: "td")
        fine.startedBy = String(repeating: "r", count: 36)
        fine.clientToken = String(repeating: "~", count: 64)
        fine.tags = (0..<50).map { ECSTag("k\($0)", String(repeating: "v", count: 256)) }
        #expect(fine.problems.isEmpty, "the limits themselves are allowed")
        #expect(RunTaskRequest(cluster: "c", taskDefinition: "td").json["launchType"] == "FARGATE")
    }

    /// A real DescribeTasks answer's shape: a Spot task interrupted, a task that never pulled its
    /// image (no exit codes at all), and an unknown ARN.
    static let recordedDescribe = #"""
        {"tasks":[
          {"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/crawlers/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
           "clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/crawlers",
           "taskDefinitionArn":"arn:aws:ecs:us-east-1:123456789012:task-definition/crawlrun-catalog-crawl:3",
           "lastStatus":"STOPPED","desiredStatus":"STOPPED","stopCode":"SpotInterruption",
           "stoppedReason":"Your Spot Task was interrupted.","capacityProviderName":"FARGATE_SPOT",
           "cpu":"1024","memory":"4096","group":"family:crawlrun-catalog-crawl","startedBy":"r1",
           "launchType":"FARGATE","platformVersion":"1.4.0","availabilityZone":"us-east-1a",
           "createdAt":1.732245000123E9,"pullStartedAt":1.732245010456E9,"pullStoppedAt":1.732245030E9,
           "startedAt":1732245041.5,"stoppingAt":1.732245400E9,"executionStoppedAt":1.732245430E9,
           "stoppedAt":1.732245460E9,
           "tags":[{"key":"crawlrun:batch","value":"b0001"}],
           "containers":[
             {"containerArn":"arn:aws:ecs:us-east-1:123456789012:container/crawlers/0f1e/aa","name":"webdriver",
              "lastStatus":"STOPPED","exitCode":143,"runtimeId":"0f1e-1111","healthStatus":"HEALTHY"},
             {"containerArn":"arn:aws:ecs:us-east-1:123456789012:container/crawlers/0f1e/bb","name":"crawler",
              "lastStatus":"STOPPED","exitCode":0,"runtimeId":"0f1e-2222"}]},
          {"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/crawlers/11112222333344445555666677778888",
           "lastStatus":"STOPPED","desiredStatus":"STOPPED","stopCode":"TaskFailedToStart",
           "stoppedReason":"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/crawlrun-crawler:1.0.0: i/o timeout",
           "createdAt":1.7322450E9,"stoppedAt":1.7322451E9,"cpu":"1024","memory":"4096",
           "containers":[
             {"name":"webdriver","lastStatus":"STOPPED","reason":"CannotPullContainerError: ref pull has been retried"},
             {"name":"crawler","lastStatus":"STOPPED"}]}],
         "failures":[{"arn":"arn:aws:ecs:us-east-1:123456789012:task/crawlers/deadbeef","reason":"MISSING"}]}
        """#

    @Test func describeTasksReadsWhatAWSSends() async throws {
        let calls = LineBox()
        let ecs = ecs(calls) { _, input in
            #expect(input["include"] == ["TAGS"])
            return Self.ok(Self.recordedDescribe)
        }
        let result = try await ecs.describeTasks(cluster: "crawlers", tasks: ["a", "b", "c"], includeTags: true)
        let spot = try #require(result.tasks.first)
        #expect(spot.taskId == "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
        #expect(spot.lastStatus == .stopped && spot.desiredStatus == .stopped && spot.stopCode == .spotInterruption)
        #expect(spot.capacityProviderName == "FARGATE_SPOT" && spot.cpu == 1024 && spot.memory == 4096)
        #expect(spot.pullStartedAt == Date(timeIntervalSince1970: 1_732_245_010.456))
        #expect(spot.startedAt == Date(timeIntervalSince1970: 1_732_245_041.5))
        #expect(spot.stoppedAt.map { $0.timeIntervalSince1970 } == 1_732_245_460)
        #expect(spot.createdAt != nil && spot.pullStoppedAt != nil && spot.stoppingAt != nil)
        #expect(spot.executionStoppedAt != nil)
        #expect(spot.tags == [ECSTag("crawlrun:batch", "b0001")] && spot.startedBy == "r1")
        #expect(spot.container("webdriver")?.exitCode == 143 && spot.container("crawler")?.exitCode == 0)
        #expect(spot.container("crawler")?.runtimeId == "0f1e-2222")
        let failed = result.tasks[1]
        #expect(failed.stopCode == .taskFailedToStart)
        #expect(failed.stoppedReason?.hasPrefix("CannotPullContainerError") == true)
        #expect(failed.containers.allSatisfy { $0.exitCode == nil }, "absent exit codes stay absent")
        #expect(failed.container("webdriver")?.reason?.hasPrefix("CannotPullContainerError") == true)
        #expect(failed.pullStartedAt == nil && failed.capacityProviderName == nil && failed.tags.isEmpty)
        #expect(
            result.failures == [
                ECSFailure(arn: "arn:aws:ecs:us-east-1:123456789012:task/crawlers/deadbeef", reason: "MISSING")
            ])
        #expect(result.failures.first?.isMissing == true && result.failures.first?.isCapacity == false)
        #expect(ECSStopCode(rawValue: "SomethingNew").rawValue == "SomethingNew", "unknown codes survive")
    }

    /// ListTasks follows nextToken to the last page, with the filters on every page.
    @Test func listTasksFollowsEveryPage() async throws {
        let calls = LineBox()
        let ecs = ecs(calls) { _, input in
            #expect(input["startedBy"] == "r1" && input["desiredStatus"] == nil && input["maxResults"] == 100)
            switch input["nextToken"]?.stringValue {
            case nil: return Self.ok(#"{"taskArns":["t1","t2"],"nextToken":"p2"}"#)
            case "p2": return Self.ok(#"{"taskArns":["t3"],"nextToken":"p3"}"#)
            default: return Self.ok(#"{"taskArns":["t4"]}"#)
            }
        }
        #expect(try await ecs.listTasks(cluster: "c", startedBy: "r1") == ["t1", "t2", "t3", "t4"])
        #expect(calls.count == 3)
    }

    /// "When you specify startedBy as the filter, it must be the only filter that you use"
    /// (API_ListTasks): refused before anything is sent, as ECS would refuse it.
    @Test func listTasksTakesStartedByAlone() async throws {
        let calls = LineBox()
        let ecs = ecs(calls) { _, _ in Self.ok(#"{"taskArns":[]}"#) }
        for (status, family) in [(ECSTaskStatus.stopped, String?.none), (nil, "crawlrun-x")] {
            await #expect(throws: AWSError.self) {
                _ = try await ecs.listTasks(cluster: "c", startedBy: "r1", desiredStatus: status, family: family)
            }
        }
        #expect(calls.count == 0)
    }

    @Test func stopTaskShortensALongReason() async throws {
        let calls = LineBox()
        let reasons = LineBox()
        let ecs = ecs(calls) { _, input in
            reasons.append(input["reason"]?.stringValue ?? "")
            return Self.ok(#"{"task":{"taskArn":"t1","desiredStatus":"STOPPED","lastStatus":"RUNNING"}}"#)
        }
        let task = try await ecs.stopTask(cluster: "c", task: "t1", reason: String(repeating: "x", count: 300))
        #expect(task.desiredStatus == .stopped && task.lastStatus == .running)
        #expect(reasons.all.first?.count == 255 && reasons.all.first?.hasSuffix("…") == true)
        _ = try await ecs.stopTask(cluster: "c", task: "t1", reason: "run interrupted")
        #expect(reasons.all.last == "run interrupted")
    }

    /// What a caller needs to decide: back off, fix the set-up, or stop.
    @Test(arguments: [
        (
            400, #"{"__type":"com.amazonaws.ecs#ThrottlingException","message":"Rate exceeded"}"#,
            AWSErrorCategory.throttling
        ),
        (400, #"{"__type":"ClientException","message":"Capacity is unavailable at this time."}"#, .capacity),
        (
            400, #"{"__type":"AccessDeniedException","Message":"User is not authorized to perform: ecs:RunTask"}"#,
            .accessDenied
        ),
        (400, #"{"__type":"ClusterNotFoundException","message":"Cluster not found."}"#, .clusterNotFound),
        (400, #"{"__type":"InvalidParameterException","message":"startedBy too long"}"#, .invalidParameter),
        (500, #"{"__type":"ServerException","message":"Service Unavailable."}"#, .server),
        (
            400,
            #"{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}"#,
            .credentials
        ),
        (
            403,
            "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors></Response>",
            .accessDenied
        ),
    ])
    func errorsAreClassified(_ status: Int, _ body: String, _ category: AWSErrorCategory) async throws {
        let calls = LineBox()
        let ecs = ecs(calls) { _, _ in HTTPResponse(status: status, body: Data(body.utf8)) }
        await #expect {
            _ = try await ecs.listTasks(cluster: "c")
        } throws: { error in
            (error as? AWSError)?.category == category
        }
        let retried: Set<AWSErrorCategory> = [.throttling, .server]
        #expect(calls.count == (retried.contains(category) ? 5 : 1), "only throttling and 5xx are retried here")
    }
}
