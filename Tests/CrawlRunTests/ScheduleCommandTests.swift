import AWS
import Foundation
import JSONKit
import TestSupport
import Testing

/// `crawlrun schedule …` against moto_server: the job uploaded under a content-addressed key,
/// the coordinator task definition, the schedule created then updated, listed, fired once by
/// run-now, deleted; a bad expression stops everything before any call.
@Suite(.serialized) struct ScheduleCommandTests {
    static let account = "123456789012"

    func fargateJob(subnet: String, name: String = "nightly") -> JSONValue {
        [
            "name": .string(name), "urlsFile": "urls.txt",
            "task": ["crawlerImage": "crawlrun/crawler:test"],
            "fargate": [
                "region": "us-east-1", "cluster": "crawlers", "subnets": [.string(subnet)],
                "securityGroups": ["sg-0123456789abcdef0"], "assignPublicIp": true,
                "executionRoleArn": .string("arn:aws:iam::\(Self.account):role/crawlrun-execution"),
                "taskRoleArn": .string("arn:aws:iam::\(Self.account):role/crawlrun-task"),
                "bucket": .string(S3Peer.bucket), "prefix": "crawlrun/",
                "schedule": [
                    "coordinatorRoleArn": .string("arn:aws:iam::\(Self.account):role/crawlrun-coordinator"),
                    "schedulerRoleArn": .string("arn:aws:iam::\(Self.account):role/crawlrun-scheduler"),
                ],
            ],
        ]
    }

    @Test func scheduleListRunNowDelete() async throws {
        let peer = try await S3Peer.start()
        defer { Task { await peer.moto.stop() } }
        let aws = AWSServices(region: "us-east-1", variables: peer.env)
        _ = try await aws.ecs.client.call("CreateCluster", ["clusterName": "crawlers"])
        let subnet = try await MotoQuery(endpoint: peer.moto.url).defaultSubnet()
        let dir = tempDir("schedule")
        try "https://example.test/a\nhttps://example.test/b\n".write(
            toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        let jobPath = try writeJob(fargateJob(subnet: subnet), in: dir)

        // A bad expression: one message naming the field, nothing written anywhere.
        let bad = try await CrawlrunProcess.run(
            ["schedule", jobPath, "--cron", "cron(0 25 * * ? *)"], environment: peer.env)
        #expect(
            bad.code == 64 && bad.stderr.contains("--cron hours: expected 0-23 with , - * /, got \"25\""),
            "\(bad.stderr)")
        #expect(try await peer.keys("crawlrun/").isEmpty)
        #expect(try await aws.scheduler.listSchedules(group: "crawlrun").isEmpty)

        let made = try await CrawlrunProcess.run(
            ["schedule", jobPath, "--cron", "cron(0 3 * * ? *)", "--timezone", "Europe/Berlin"], environment: peer.env)
        #expect(made.code == 0, "\(made.stderr)")
        #expect(made.stdout.contains("schedule crawlrun/nightly created: cron(0 3 * * ? *) (Europe/Berlin), next fire"))
        let keys = try await peer.keys("crawlrun/nightly/jobs/")
        let jobKey = try #require(keys.first { $0.hasSuffix("/job.json") })
        #expect(keys.count == 2 && keys.contains { $0.hasSuffix("/urls.txt") }, "\(keys)")
        let uploaded = try JSONValue.decode(try await peer.object(jobKey))
        #expect(uploaded["urlsFile"] == "urls.txt", "the list travels beside the job")

        let schedule = try #require(try await aws.scheduler.getSchedule("nightly", group: "crawlrun"))
        #expect(schedule.timezone == "Europe/Berlin" && schedule.target.clusterArn.hasSuffix(":cluster/crawlers"))
        #expect(schedule.target.roleArn.hasSuffix(":role/crawlrun-scheduler") && schedule.target.subnets == [subnet])
        let definition = try #require(
            try await aws.ecs.describeTaskDefinition(schedule.target.taskDefinitionArn)["taskDefinition"])
        #expect(definition["family"] == "crawlrun-coordinator-nightly")
        #expect(definition["cpu"] == "256" && definition["memory"] == "512")
        #expect(definition["taskRoleArn"]?.stringValue?.hasSuffix(":role/crawlrun-coordinator") == true)
        let entryPoint = definition["containerDefinitions"]?.arrayValue?.first?["entryPoint"]?.arrayValue?
            .compactMap(\.stringValue)
        #expect(
            entryPoint == [
                "/usr/local/bin/crawlrun", "run", "s3://\(S3Peer.bucket)/\(jobKey)", "--backend", "fargate",
                "--runs-dir",
                "s3://\(S3Peer.bucket)/crawlrun/nightly/runs", "--events", "--quiet",
            ])

        // The same job again with another expression: the schedule updated, no new upload.
        let again = try await CrawlrunProcess.run(
            ["schedule", jobPath, "--cron", "rate(6 hours)"], environment: peer.env)
        #expect(
            again.code == 0 && again.stdout.contains("schedule crawlrun/nightly updated: every 6 hours"),
            "\(again.stdout)")
        #expect(try await peer.keys("crawlrun/nightly/jobs/").count == 2)
        #expect(
            (try await aws.scheduler.getSchedule("nightly", group: "crawlrun")?.timezone ?? "UTC") == "UTC",
            "UpdateSchedule replaced the time zone")

        let listed = try await CrawlrunProcess.run(["schedule", "list"], environment: peer.env)
        #expect(listed.code == 0 && listed.stdout.contains("nightly") && listed.stdout.contains("rate(6 hours)"))
        #expect(listed.stdout.contains("no run yet"), "\(listed.stdout)")

        let fired = try await CrawlrunProcess.run(["schedule", "run-now", jobPath], environment: peer.env)
        #expect(fired.code == 0 && fired.stdout.contains("coordinator task arn:aws:ecs:"), "\(fired.stderr)")
        let tasks = try await aws.ecs.listTasks(cluster: "crawlers", startedBy: "crawlrun-schedule")
        #expect(tasks.count == 1)

        let deleted = try await CrawlrunProcess.run(["schedule", "delete", jobPath], environment: peer.env)
        #expect(deleted.code == 0 && deleted.stdout.contains("schedule crawlrun/nightly deleted"))
        #expect(try await aws.scheduler.getSchedule("nightly", group: "crawlrun") == nil)
        await peer.moto.stop()
    }

    @Test func scheduledPoliciesNameTheCoordinatorAndSchedulerRoles() async throws {
        let dir = tempDir("schedpolicy")
        try "https://example.test/a\n".write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        let jobPath = try writeJob(fargateJob(subnet: "subnet-0123456789abcdef0"), in: dir)
        let r = try await CrawlrunProcess.run(["iam-policy", jobPath, "--scheduled", "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        let all = try JSONValue.decode(Data(r.stdout.utf8))
        let coordinator = try #require(all["coordinatorTaskRole"]?["Statement"]?.arrayValue)
        let put = try #require(coordinator.first { $0["Sid"] == "RunFinishedEvent" })
        #expect(put["Resource"] == "arn:aws:events:us-east-1:123456789012:event-bus/default")
        let pass = try #require(coordinator.first { $0["Sid"] == "PassTheJobsRoles" })
        #expect(pass["Resource"]?.arrayValue?.count == 2, "PassRole for the batch tasks' two roles")
        let scheduler = try #require(all["schedulerRole"]?["Statement"]?.arrayValue)
        #expect(
            scheduler.first?["Resource"]
                == "arn:aws:ecs:us-east-1:123456789012:task-definition/crawlrun-coordinator-nightly:*")
        #expect(
            scheduler.last?["Resource"]
                == [
                    "arn:aws:iam::123456789012:role/crawlrun-coordinator",
                    "arn:aws:iam::123456789012:role/crawlrun-execution",
                ])
        #expect(
            all["schedulerRoleTrust"]?["Statement"]?.arrayValue?.first?["Principal"]?["Service"]
                == "scheduler.amazonaws.com")
    }
}
