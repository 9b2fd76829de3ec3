import AWS
import CrawlKit
import Foundation
import JSONKit
import TestSupport
import Testing

/// The typed ECS surface against moto_server (what moto supports; FARGATE-REHEARSAL.md lists
/// its quirks: it needs `launchType`, ignores clientToken and paging, never fills failures[]).
@Suite(.serialized) struct ECSMotoTests {
    @Test func runDescribeListStopOnMoto() async throws {
        let moto = try await MotoServer.start()
        defer { Task { await moto.stop() } }
        let job = try Job.load(path: packageRoot + "/jobs/fargate-example.json", backend: .fargate)
        let aws = AWSServices(
            region: "us-east-1",
            variables: ["AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "x", "AWS_ENDPOINT_URL": moto.url])
        let subnet = try await MotoQuery(endpoint: moto.url).defaultSubnet()
        _ = try await aws.ecs.client.call("CreateCluster", ["clusterName": "crawlers"])
        let definition = try #require(
            try await aws.ecs.registerTaskDefinition(TaskDefinition.render(job))["taskDefinition"]?[
                "taskDefinitionArn"]?
                .stringValue)

        var request = RunTaskRequest(cluster: "crawlers", taskDefinition: definition)
        request.network = AwsVpcConfiguration(subnets: [subnet], securityGroups: ["sg-1"], assignPublicIp: true)
        request.platformVersion = "1.4.0"
        request.startedBy = "r1"
        request.tags = [ECSTag("crawlrun:run", "r1"), ECSTag("crawlrun:batch", "b0001")]
        request.propagateTags = .taskDefinition
        request.enableECSManagedTags = true
        request.overrides = TaskDefinition.overrides(
            batchLocation: "s3://b/p/r1/batches/b0001.json", outLocation: "s3://b/p/r1/results/b0001.jsonl")
        request.clientToken = "r1-b0001-a1"
        let run = try await aws.ecs.runTask(request)
        #expect(run.failures.isEmpty && run.tasks.count == 1)
        let task = try #require(run.tasks.first)
        #expect(task.taskArn.contains(":task/crawlers/") && task.startedBy == "r1" && task.launchType == "FARGATE")

        var other = request
        other.startedBy = "r2"
        other.clientToken = "r2-b0001-a1"
        let second = try #require(try await aws.ecs.runTask(other).tasks.first)

        let described = try await aws.ecs.describeTasks(cluster: "crawlers", tasks: [task.taskArn], includeTags: true)
        let seen = try #require(described.tasks.first)
        #expect(seen.taskArn == task.taskArn && seen.group == "family:crawlrun-catalog-crawl")
        #expect(seen.tags.contains(ECSTag("crawlrun:batch", "b0001")))
        #expect(seen.lastStatus != nil && seen.desiredStatus == .running)
        #expect(seen.containers.first?.name == "webdriver")

        #expect(try await aws.ecs.listTasks(cluster: "crawlers", startedBy: "r1") == [task.taskArn])
        let stopped = try await aws.ecs.stopTask(cluster: "crawlers", task: task.taskArn, reason: "run interrupted")
        #expect(stopped.desiredStatus == .stopped && stopped.stoppedReason == "run interrupted")
        #expect(try await aws.ecs.listTasks(cluster: "crawlers", desiredStatus: .stopped) == [task.taskArn])
        #expect(try await aws.ecs.listTasks(cluster: "crawlers", startedBy: "r2") == [second.taskArn])

        // The errors a caller must tell apart, from a real peer.
        await #expect {
            _ = try await aws.ecs.describeTasks(cluster: "no-such-cluster", tasks: [task.taskArn])
        } throws: { ($0 as? AWSError)?.category == .clusterNotFound }
        var bogus = request
        bogus.launch = .launchType("BOGUS")
        await #expect {
            _ = try await aws.ecs.runTask(bogus)
        } throws: { ($0 as? AWSError)?.category == .invalidParameter }
        await moto.stop()
    }
}
