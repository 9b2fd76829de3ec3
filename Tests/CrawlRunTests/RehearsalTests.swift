import AWS
import Coordinator
import CrawlKit
import FargateBackend
import Foundation
import JSONKit
import TestSupport
import Testing

extension Chrome {
    /// One task end to end on the Fargate rehearsal, through our own Swift ECS, S3 and CloudWatch
    /// Logs clients signed with the coordinator's key (the policy `crawlrun iam-policy` prints):
    /// the task definition registered, a batch on S3, RunTask, DescribeTasks until STOPPED, the
    /// results on S3 and the crawler's log in its CloudWatch stream; nothing left running.
    @Suite struct RehearsalTests {
        @Test func oneTaskEndToEndWithOurClients() async throws {
            let site = try FixtureServer()
            defer { site.stop() }
            let rehearsal = try await FargateRehearsal.start(crawler: binary("crawler"))
            var stopped = false
            defer { if !stopped { Task { await rehearsal.stop() } } }

            let jobPath = packageRoot + "/jobs/fargate-example.json"
            let job = try Job.load(path: jobPath, backend: .fargate)
            let f = job.fargate
            let bucket = try #require(f.bucket)
            let printed = try await CrawlrunProcess.run(["iam-policy", jobPath, "--json"])
            #expect(printed.code == 0, "\(printed.stderr)")
            let setUp = try await rehearsal.setUp(
                cluster: f.cluster, logGroup: f.logGroup, bucket: bucket, prefix: IAMPolicy.jobPrefix(job),
                policies: try JSONValue.decode(Data(printed.stdout.utf8)))
            #expect(setUp.taskRoleArn == f.taskRoleArn, "the job's own role names, in the rehearsal's account")
            let aws = AWSServices(
                region: setUp.region,
                variables: [
                    "AWS_ACCESS_KEY_ID": setUp.accessKeyId, "AWS_SECRET_ACCESS_KEY": setUp.secretAccessKey,
                    "AWS_ENDPOINT_URL": rehearsal.endpoint, "AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
                ])

            let registered = try await TaskDefinitionRegistry.ensure(TaskDefinition.render(job), ecs: aws.ecs)
            var crawl = CrawlOptions()
            crawl.allowPrivateNetworks = true
            crawl.fields = ["h1": FieldSpec(selector: "h1")]
            let urls = [site.baseURL + "/page/1", site.baseURL + "/page/2"]
            let run = IAMPolicy.jobPrefix(job) + "r1/"
            let batch = S3Location(bucket: bucket, key: run + "batches/0001.json")
            let out = S3Location(bucket: bucket, key: run + "results/0001.jsonl")
            try await aws.s3.putObject(
                batch, body: try JSONEncoder().encode(BatchFile(batch: "0001", urls: urls, crawl: crawl)))

            var request = RunTaskRequest(cluster: f.cluster, taskDefinition: registered.arn)
            request.clientToken = "r1-0001-a1"
            request.startedBy = "r1"
            request.overrides = TaskDefinition.overrides(batchLocation: "\(batch)", outLocation: "\(out)")
            request.network = AwsVpcConfiguration(
                subnets: setUp.subnets, securityGroups: setUp.securityGroups, assignPublicIp: true)
            let launched = try await aws.ecs.runTask(request)
            #expect(launched.failures.isEmpty)
            let arn = try #require(launched.tasks.first?.taskArn)
            #expect(launched.tasks.first?.lastStatus == .provisioning)

            let statuses = StatusLog()
            let ended = await eventually(timeout: .seconds(120)) {
                let task = try await aws.ecs.describeTasks(cluster: f.cluster, tasks: [arn]).tasks.first
                statuses.record(task?.lastStatus?.rawValue ?? "?", task: task)
                return task?.lastStatus == .stopped
            }
            #expect(ended, "the task stopped; statuses seen: \(statuses.seen); rehearsal: \(rehearsal.log)")
            let task = try #require(statuses.last)
            #expect(statuses.seen.first == "PROVISIONING" && statuses.seen.contains("RUNNING"), "\(statuses.seen)")
            #expect(task.stopCode == .essentialContainerExited)
            let exit = { (name: String) in task.containers.first { $0.name == name }?.exitCode }
            #expect(exit(TaskDefinition.crawlerName) == 0)
            #expect(exit(TaskDefinition.sidecarName) == 143, "the sidecar is stopped once the crawler exits")

            let records = try String(decoding: try await aws.s3.getObject(out), as: UTF8.self).split(separator: "\n")
                .map { try JSONDecoder().decode(ResultRecord.self, from: Data($0.utf8)) }
            #expect(records.map(\.url).sorted() == urls.sorted() && records.allSatisfy(\.ok))
            let stream = "crawlrun/\(TaskDefinition.crawlerName)/\(arn.split(separator: "/").last ?? "")"
            let logged = try await aws.logs.readStream(group: f.logGroup, stream: stream).events.map(\.message)
            #expect(logged.contains { $0.hasSuffix("crawler: done 2/2") }, "\(logged)")

            let seen = try await rehearsal.tasks()
            #expect(seen.count == 1 && seen.first?["clientToken"] == "r1-0001-a1")
            #expect(try await rehearsal.calls()["ecs:RunTask"] == 1)
            let groups = (seen.first?["pids"]?.objectValue ?? [:]).values.compactMap(\.intValue)
            #expect(groups.count == 2)
            stopped = true
            #expect(await rehearsal.stop().code == 0, "\(rehearsal.log)")
            #expect(groups.allSatisfy { processesInGroup(pid_t($0)).isEmpty }, "no task process is left")
        }
    }
}

/// The lastStatus values DescribeTasks reported, in order, and the last answer.
private final class StatusLog: @unchecked Sendable {
    private let lock = NSLock()
    private var statuses: [String] = []
    private var task: ECSTask?
    func record(_ status: String, task: ECSTask?) {
        lock.withLock {
            if statuses.last != status { statuses.append(status) }
            self.task = task
        }
    }
    var seen: [String] { lock.withLock { statuses } }
    var last: ECSTask? { lock.withLock { task } }
}
