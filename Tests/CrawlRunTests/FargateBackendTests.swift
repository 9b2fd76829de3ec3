import AWS
import Coordinator
import CrawlKit
import FargateBackend
import Foundation
import JSONKit
import TestSupport
import Testing

/// A job prepared on an instant rehearsal, and the run a backend works for.
struct InstantFargate {
    let rehearsal: FargateRehearsal
    let job: Job
    let aws: AWSServices
    let layout: RunLayout
    let run: RunContext

    static func start(name: String, urls: [String], run id: String) async throws -> InstantFargate {
        let rehearsal = try await FargateRehearsal.start(
            crawler: binary("crawler"), arguments: ["--runner", "instant"])
        let dir = tempDir("fargate-" + name)
        let doc: JSONValue = ["name": .string(name), "urls": .array(urls.map { .string($0) })]
        let env = try await rehearsal.prepare(
            job: try writeJob(doc, in: dir), copy: dir + "/copy.json", crawlrun: binary("crawlrun"))
        let job = try Job.load(path: dir + "/copy.json", backend: .fargate)
        let layout = RunLayout(runsDirectory: dir, id: id)
        return InstantFargate(
            rehearsal: rehearsal, job: job, aws: AWSServices(region: env["AWS_REGION"] ?? "us-east-1", variables: env),
            layout: layout,
            run: RunContext(id: layout.id, layout: layout, job: job, taskDefinition: TaskDefinition.render(job)))
    }

    /// Puts the batch of one URL and launches its first attempt; the task's ARN.
    func launch(_ backend: FargateBackend, batch: String, url: String) async throws -> String {
        let locations = backend.locations(run: run, batch: batch, attempt: 1)
        try await backend.putBatch(
            try JSONEncoder().encode(BatchFile(batch: batch, urls: [url], crawl: job.crawl)).map { $0 },
            at: locations.batch)
        return try await backend.launch(
            TaskLaunch(
                run: run.id, batch: batch, attempt: 1, token: BatchLedger.token(run: run.id, batch: batch, attempt: 1),
                taskDefinition: run.taskDefinition,
                overrides: TaskDefinition.overrides(batchLocation: locations.batch, outLocation: locations.out),
                locations: locations, logDirectory: layout.logDirectory(batch: batch)))
    }
}

/// The Fargate backend driven directly, on the rehearsal with instant tasks (no browser): what a
/// restarted crawlrun finds of its run, and what `shutdown` leaves behind.
@Suite struct FargateBackendTests {
    @Test func reattachFindsTheRunsTasksAndShutdownStopsTheOnesLeft() async throws {
        let fixture = try await InstantFargate.start(
            name: "reattach", urls: ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"], run: "20261122-120000-test")
        let (rehearsal, job, aws, run) = (fixture.rehearsal, fixture.job, fixture.aws, fixture.run)
        var stopped = false
        defer { if !stopped { Task { await rehearsal.stop() } } }
        let first = FargateBackend(job: job, aws: aws)
        try await first.prepare(run: run)
        try await rehearsal.fault("stuckProvisioning", ["batch": "0002"])
        var arns: [String: String] = [:]
        for (batch, url) in [("0001", "http://127.0.0.1:9/a"), ("0002", "http://127.0.0.1:9/b")] {
            arns[batch] = try await fixture.launch(first, batch: batch, url: url)
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

    /// Issue 19 item 18: ECS is eventually consistent for longer than 30 s under load (the
    /// RunTask reference: back off "up to five minutes"); a new task DescribeTasks calls MISSING
    /// is asked about again, not taken for lost.
    @Test func aNewTaskCalledMissingIsAskedAboutAgain() async throws {
        #expect(FargateBackend.Options().missingGrace >= 300)
        let fixture = try await InstantFargate.start(
            name: "missing", urls: ["http://127.0.0.1:9/a"], run: "20261207-120000-miss")
        let rehearsal = fixture.rehearsal
        var stopped = false
        defer { if !stopped { Task { await rehearsal.stop() } } }
        let backend = FargateBackend(job: fixture.job, aws: fixture.aws)
        try await backend.prepare(run: fixture.run)
        try await rehearsal.fault("eventuallyConsistent", ["seconds": 2])
        let arn = try await fixture.launch(backend, batch: "0001", url: "http://127.0.0.1:9/a")
        let first = await backend.observe([arn])[arn]
        var said = ""
        if case .lostContact(let why) = first { said = why }
        #expect(
            said.contains("MISSING"), "MISSING right after RunTask is asked about again: \(String(describing: first))")
        #expect(
            await eventually(timeout: .seconds(30)) {
                if case .stopped = await backend.observe([arn])[arn] { return true }
                return false
            }, "visible, then stopped")
        await backend.shutdown()
        stopped = true
        await rehearsal.stop()
    }

    /// Issue 19 item 18: a bucket in another region than the client's answers with its region
    /// (AuthorizationHeaderMalformed, or 301 to a HEAD): followed once, then remembered.
    @Test func s3FollowsABucketInAnotherRegionOnce() async throws {
        let rehearsal = try await FargateRehearsal.start(
            crawler: binary("crawler"), arguments: ["--runner", "instant"])
        var stopped = false
        defer { if !stopped { Task { await rehearsal.stop() } } }
        var doc = try readJSON(packageRoot + "/jobs/fargate-example.json")
        doc = .object(
            (doc.objectValue ?? [:]).merging(["urls": ["https://example.com/"]]) { $1 }.filter { $0.key != "urlsFile" })
        let job = try Job.parse(doc.encoded(), path: "job.json", backend: .fargate)
        let bucket = try #require(job.fargate.bucket)
        let setUp = try await rehearsal.control(
            "POST", "setup",
            [
                "cluster": .string(job.fargate.cluster), "logGroup": .string(job.fargate.logGroup),
                "bucket": .string(bucket), "prefix": .string(IAMPolicy.jobPrefix(job)),
                "policies": IAMPolicy.all(job), "bucketRegion": "eu-west-1",
            ])
        let env = [
            "AWS_ENDPOINT_URL": rehearsal.endpoint, "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": setUp["accessKeyId"]?.stringValue ?? "",
            "AWS_SECRET_ACCESS_KEY": setUp["secretAccessKey"]?.stringValue ?? "",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
        ]
        let aws = AWSServices(region: "us-east-1", variables: env)
        let object = S3Location(bucket: bucket, key: IAMPolicy.jobPrefix(job) + "run/batches/0001.json")
        try await rehearsal.control("DELETE", "calls")
        try await aws.s3.putObject(object, body: Data("{}".utf8))
        #expect(try await rehearsal.calls()["s3:PUT"] == 2, "the wrong region once, then the bucket's")
        #expect(Array(try await aws.s3.getObject(object)) == Array("{}".utf8))
        #expect(try await rehearsal.calls()["s3:GET"] == 1, "the bucket's region remembered")
        stopped = true
        await rehearsal.stop()
    }
}

extension TaskPhase {
    var isStopped: Bool {
        if case .stopped = self { return true }
        return false
    }
}
