import AWS
import Foundation
import JSONKit
import TestSupport
import Testing

/// EventBridge Scheduler and EventBridge PutEvents against moto_server.
@Suite(.serialized) struct SchedulerMotoTests {
    func services(_ moto: MotoServer) -> AWSServices {
        AWSServices(
            region: "us-east-1",
            variables: ["AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "x", "AWS_ENDPOINT_URL": moto.url])
    }

    @Test func createUpdateGetListDeleteASchedule() async throws {
        let moto = try await MotoServer.start()
        defer { Task { await moto.stop() } }
        let aws = services(moto)
        #expect(try await aws.scheduler.createScheduleGroup("crawlrun-shop", tags: ["project": "shop"]))
        #expect(try await aws.scheduler.createScheduleGroup("crawlrun-shop") == false)
        let target = ScheduleTarget(
            clusterArn: "arn:aws:ecs:us-east-1:123456789012:cluster/crawlers",
            roleArn: "arn:aws:iam::123456789012:role/crawlrun-scheduler",
            taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/crawlrun-coordinator-shop:1",
            subnets: ["subnet-1"], securityGroups: ["sg-1"], assignPublicIp: true)
        var schedule = ScheduleDefinition(
            name: "catalog", group: "crawlrun-shop", expression: "cron(0 3 * * ? *)", timezone: "Europe/Berlin",
            target: target, description: "crawlrun job catalog")
        let created = try await aws.scheduler.putSchedule(schedule)
        #expect(created.created && created.arn.hasSuffix(":schedule/crawlrun-shop/catalog"))

        schedule.expression = "rate(6 hours)"
        schedule.flexibleWindowMinutes = 15
        let updated = try await aws.scheduler.putSchedule(schedule)
        #expect(!updated.created && updated.arn == created.arn)
        #expect(try await aws.scheduler.getSchedule("catalog", group: "crawlrun-shop") == schedule)
        // Creating the group again kept its schedule.
        _ = try await aws.scheduler.createScheduleGroup("crawlrun-shop")
        let listed = try await aws.scheduler.listSchedules(group: "crawlrun-shop")
        #expect(listed.map(\.name) == ["catalog"] && listed.first?.enabled == true)

        #expect(try await aws.scheduler.getSchedule("missing", group: "crawlrun-shop") == nil)
        #expect(try await aws.scheduler.deleteSchedule("catalog", group: "crawlrun-shop"))
        #expect(try await aws.scheduler.deleteSchedule("catalog", group: "crawlrun-shop") == false)
        #expect(try await aws.scheduler.listSchedules(group: "crawlrun-shop").isEmpty)
        await moto.stop()
    }

    @Test func aPutEventReachesARuleMatchingIt() async throws {
        let moto = try await MotoServer.start()
        defer { Task { await moto.stop() } }
        let aws = services(moto)
        // A rule like the README's, routed to a log group (moto delivers to Logs, not SNS).
        try await aws.logs.createLogGroup("/crawlrun/events")
        _ = try await aws.events.client.call(
            "PutRule",
            [
                "Name": "crawlrun-finished",
                "EventPattern": #"{"source":["crawlrun"],"detail-type":["Crawl Run Finished"]}"#,
            ])
        _ = try await aws.events.client.call(
            "PutTargets",
            [
                "Rule": "crawlrun-finished",
                "Targets": [["Id": "log", "Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/crawlrun/events"]],
            ])
        let id = try await aws.events.putEvent(
            source: "crawlrun", detailType: "Crawl Run Finished", detail: ["exitCode": 1, "failed": 2])
        #expect(!id.isEmpty)
        let streams = try await aws.logs.describeLogStreams(group: "/crawlrun/events")
        let stream = try #require(streams.first)
        let events = try await aws.logs.readStream(group: "/crawlrun/events", stream: stream.name).events
        let event = try JSONValue.decode(Data(try #require(events.first).message.utf8))
        #expect(event["source"]?.stringValue == "crawlrun" && event["detail"]?["exitCode"]?.intValue == 1)
        await moto.stop()
    }
}
