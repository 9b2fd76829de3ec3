import AWS
import Coordinator
import CrawlKit
import FargateBackend
import Foundation
import JSONKit
import Testing

/// A batch attempt as a RunTask call, and each way RunTask can answer, as the ledger sees it.
@Suite struct FargateLaunchTests {
    static func job(_ change: (inout JSONValue) -> Void = { _ in }) throws -> Job {
        var doc = try readJSON(packageRoot + "/jobs/fargate-example.json")
        doc = .object(
            (doc.objectValue ?? [:]).merging(["urls": ["https://example.com/"]]) { $1 }.filter { $0.key != "urlsFile" })
        change(&doc)
        return try Job.parse(doc.encoded(), path: "job.json", backend: .fargate)
    }

    static func launch(batch: String = "0002", attempt: Int = 1, location: String = "s3://b/k") -> TaskLaunch {
        TaskLaunch(
            run: "20261122-101500-ab12", batch: batch, attempt: attempt,
            token: BatchLedger.token(run: "20261122-101500-ab12", batch: batch, attempt: attempt), taskDefinition: [:],
            overrides: TaskDefinition.overrides(batchLocation: location, outLocation: location + ".out"),
            locations: TaskLocations(batch: location, out: location + ".out"), logDirectory: "/tmp")
    }

    @Test func theRequestCarriesTheRunTheTagsAndTheToken() throws {
        let job = try Self.job {
            $0 = .object(
                ($0.objectValue ?? [:]).merging(["fargate": Self.fargate($0, tags: ["team": "search"])]) { $1 })
        }
        let r = FargateLaunch.request(Self.launch(attempt: 2), job: job, taskDefinitionArn: "arn:td:7")
        #expect(r.problems.isEmpty, "\(r.problems)")
        let json = r.json
        #expect(json["clientToken"] == "20261122-101500-ab12-0002-a2")
        #expect(json["startedBy"] == "20261122-101500-ab12")
        #expect(json["taskDefinition"] == "arn:td:7" && json["cluster"] == "crawlers")
        #expect(json["launchType"] == nil, "a capacity provider strategy replaces the launch type")
        #expect(
            json["capacityProviderStrategy"] == [
                ["capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0],
                ["capacityProvider": "FARGATE", "weight": 1, "base": 1],
            ])
        #expect(
            json["networkConfiguration"]?["awsvpcConfiguration"]?["assignPublicIp"] == "ENABLED"
                && json["networkConfiguration"]?["awsvpcConfiguration"]?["subnets"]?.arrayValue?.count == 2)
        #expect(
            json["tags"] == [
                ["key": "crawlrun:run", "value": "20261122-101500-ab12"],
                ["key": "crawlrun:job", "value": "catalog-crawl"],
                ["key": "crawlrun:batch", "value": "0002"], ["key": "crawlrun:attempt", "value": "2"],
                ["key": "team", "value": "search"],
            ])
        #expect(json["propagateTags"] == "TASK_DEFINITION" && json["platformVersion"] == "LATEST")
        #expect(
            json["overrides"]?["containerOverrides"]?.arrayValue?.first?["environment"]?.arrayValue?.first
                == ["name": "CRAWL_BATCH", "value": "s3://b/k"],
            "references only")
    }

    static func fargate(_ doc: JSONValue, tags: [String: JSONValue]) -> JSONValue {
        .object((doc["fargate"]?.objectValue ?? [:]).merging(["tags": .object(tags)]) { $1 })
    }

    @Test func longOverridesAreRefusedNamingTheBatch() {
        let long = Self.launch(batch: "0042", location: "s3://b/" + String(repeating: "k", count: 5000))
        #expect(
            FargateLaunch.overridesProblem(long)?.hasPrefix("batch 0042 attempt 1: its RunTask overrides are ") == true)
        #expect(FargateLaunch.overridesProblem(Self.launch()) == nil)
    }

    @Test func answersAndErrorsAsLaunchErrors() throws {
        let job = try Self.job()
        let launch = Self.launch()
        let capacity = RunTaskResult(
            tasks: [],
            failures: [ECSFailure(arn: nil, reason: "Capacity is unavailable at this time. Please try again later")])
        guard case .failure(.retryLater(let why)) = FargateLaunch.outcome(capacity, launch: launch) else {
            Issue.record("capacity: later")
            return
        }
        #expect(why.contains("Capacity is unavailable"))
        func kind(_ e: AWSError) -> String {
            switch FargateLaunch.error(e, launch: launch, job: job) {
            case .retryLater: return "later"
            case .failedToStart: return "spent"
            case .fatal(let f): return "fatal: \(f.description)"
            }
        }
        #expect(kind(AWSError(.service, "Rate exceeded", code: "ThrottlingException", httpStatus: 400)) == "later")
        #expect(kind(AWSError(.service, "Service Unavailable", code: "ServerException", httpStatus: 500)) == "later")
        #expect(kind(AWSError(.transport, "ecs RunTask did not get an answer")) == "later", "the same token finds it")
        let denied = kind(AWSError(.service, "not authorized to perform: ecs:RunTask", code: "AccessDeniedException"))
        #expect(
            denied.hasPrefix("fatal: batch 0002 attempt 1: RunTask was denied")
                && denied.contains("crawlrun iam-policy"))
        #expect(
            kind(AWSError(.service, "Cluster not found.", code: "ClusterNotFoundException")).contains("fargate.cluster")
        )
        #expect(kind(AWSError(.service, "bad subnet", code: "InvalidParameterException")).hasPrefix("fatal"))
        // Issue 19 item 16: a throttled EC2 call behind RunTask comes back as an
        // InvalidParameterException; it passes by itself.
        let wrapped = AWSError(
            .service, "Error retrieving subnet information for [subnet-0abc]: Request limit exceeded.",
            code: "InvalidParameterException", httpStatus: 400)
        #expect(kind(wrapped) == "later" && wrapped.isRetryable && wrapped.category == .throttling)
        // Item 15: a token ECS saw with other parameters is not the run's end.
        let conflict = AWSError(
            .service, "The specified clientToken is already in use with a different RunTask request.",
            code: "ConflictException", httpStatus: 400)
        #expect(kind(conflict) == "later")
    }

    /// Issue 19 item 15: after an answer with `failures[]` only (no task), or a ConflictException,
    /// the launch's next RunTask takes a fresh token; otherwise it keeps its own (a lost answer
    /// finds its task). Always within ECS's 64 characters.
    @Test func aSpentTokenIsReplacedByAFreshOne() {
        var tokens = FargateLaunch.Tokens()
        let base = Self.launch().token
        #expect(tokens.token(for: base) == base)
        tokens.spent(base)
        #expect(tokens.token(for: base) == base + "-r1")
        tokens.spent(base)
        #expect(tokens.token(for: base) == base + "-r2" && tokens.token(for: "other") == "other")
        let long = String(repeating: "x", count: 64)
        tokens.spent(long)
        #expect(tokens.token(for: long).count == 64 && tokens.token(for: long).hasSuffix("-r1"))
    }

    @Test func jobTagsAreChecked() throws {
        #expect(throws: JobError.self) {
            try Self.job {
                $0 = .object(
                    ($0.objectValue ?? [:]).merging(["fargate": Self.fargate($0, tags: ["aws:x": "y"])]) { $1 })
            }
        }
        let job = try Self.job()
        #expect(job.fargate.provisioningTimeout == 600 && job.fargate.tags.isEmpty)
    }
}
