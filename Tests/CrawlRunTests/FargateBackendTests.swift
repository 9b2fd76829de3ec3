import AWS
import Coordinator
import CrawlKit
import FargateBackend
import Foundation
import JSONKit
import TestSupport
import Testing

/// The Fargate backend driven directly, on the rehearsal with instant tasks (no browser): what a
/// restarted crawlrun finds of its run, and what `shutdown` leaves behind.
@Suite struct FargateBackendTests {
    @Test func reattachFindsTheRunsTasksAndShutdownStopsTheOnesLeft() async throws {
        let rehearsal = try await FargateRehearsal.start(
            crawler: binary("crawler"), arguments: ["--runner", "instant"])
        var stopped = false
        defer { if !stopped { Task { await rehearsal.stop() } } }
        let dir = tempDir("fargate-backend")
        let doc: JSONValue = ["name": "reattach", "urls": ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]]
        let env = try await rehearsal.prepare(
            job: try writeJob(doc, in: dir), copy: dir + "/copy.json", crawlrun: binary("crawlrun"))
        let job = try Job.load(path: dir + "/copy.json", backend: .fargate)
        let aws = AWSServices(region: env["AWS_REGION"] ?? "us-east-1", variables: env)
        let layout = RunLayout(runsDirectory: dir, id: "20261122-120000-test")
        let run = RunContext(id: layout.id, layout: layout, job: job, taskDefinition: TaskDefinition.render(job))

        let first = FargateBackend(job: job, aws: aws)
        try await first.prepare(run: run)
        try await rehearsal.fault("stuckProvisioning", ["batch": "0002"])
        var arns: [String: String] = [:]
        for (batch, url) in [("0001", "http://127.0.0.1:9/a"), ("0002", "http://127.0.0.1:9/b")] {
            let locations = first.locations(run: run, batch: batch, attempt: 1)
            try await first.putBatch(
                try JSONEncoder().encode(BatchFile(batch: batch, urls: [url], crawl: job.crawl)).map { $0 },
                at: locations.batch)
            arns[batch] = try await first.launch(
                TaskLaunch(
                    run: run.id, batch: batch, attempt: 1,
                    token: BatchLedger.token(run: run.id, batch: batch, attempt: 1),
                    taskDefinition: run.taskDefinition,
                    overrides: TaskDefinition.overrides(batchLocation: locations.batch, outLocation: locations.out),
                    locations: locations, logDirectory: layout.logDirectory(batch: batch)))
        }
        let done = try #require(arns["0001"])
        #expect(
            await eventually(timeout: .seconds(30)) {
                if case .stopped = await first.observe([done])[done] { return true }
                return false
            })

        // crawlrun restarted: a backend that launched nothing finds the running task by the run's
        // id (ListTasks by startedBy alone lists only those ECS wants running), and the stopped
        // one by the ARN the run's state names.
        let second = FargateBackend(job: job, aws: aws)
        var resumed = run
        resumed.tasks = [done]
        let found = try await second.reattach(run: resumed)
        #expect(found.map(\.task) == [done, arns["0002"]])
        #expect(found.map(\.batch) == ["0001", "0002"] && found.allSatisfy { $0.attempt == 1 })
        #expect(found.first?.phase.isStopped == true && found.last?.phase == .starting)
        #expect(
            try await second.readResults(at: second.locations(run: run, batch: "0001", attempt: 1).out).map { $0.count }
                ?? 0 > 0)

        // The stuck task is the run's and still wanted running: shutdown stops it.
        await second.shutdown()
        #expect(
            try await aws.ecs.listTasks(cluster: job.fargate.cluster, startedBy: run.id).isEmpty)
        let stuck = try await rehearsal.tasks().first { $0["taskArn"]?.stringValue == arns["0002"] }
        #expect(
            stuck?["lastStatus"] == "STOPPED"
                && stuck?["stoppedReason"]?.stringValue == "crawlrun run \(run.id) is over")
        stopped = true
        #expect(await rehearsal.stop().code == 0)
    }
}

extension TaskPhase {
    var isStopped: Bool {
        if case .stopped = self { return true }
        return false
    }
}
