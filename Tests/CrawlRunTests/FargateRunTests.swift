import AWS
import Coordinator
import CrawlKit
import Foundation
import JSONKit
import TestSupport
import Testing

/// A job made ready for the Fargate rehearsal (as scripts/rehearse-fargate.sh makes it): the
/// loopback fixture site, the rehearsal with IAM on and the coordinator holding exactly the
/// policy `crawlrun iam-policy` prints (ECS/Logs statements widened to "*", as moto needs).
struct RehearsedJob {
    let site: FixtureServer
    let rehearsal: FargateRehearsal
    let dir: String
    /// The job as written (runs on the local backend too), and its copy for the rehearsal.
    let job: String
    let copy: String
    /// `crawlrun`'s environment: the rehearsal's endpoint and the coordinator user's key.
    let env: [String: String]
    let fargate: JSONValue

    static func start(
        urls: (String) -> [String], batchSize: Int, crawl: [String: JSONValue] = [:], task: JSONValue = [:],
        fargate: JSONValue = [:], rehearsalArguments: [String] = []
    ) async throws -> RehearsedJob {
        let site = try FixtureServer()
        let rehearsal: FargateRehearsal
        do {
            rehearsal = try await FargateRehearsal.start(crawler: binary("crawler"), arguments: rehearsalArguments)
        } catch {
            site.stop()
            throw error
        }
        let dir = tempDir("fargate")
        var c = crawl
        c["allowPrivateNetworks"] = true
        c["retryBackoff"] = .number(0.05)
        let doc: JSONValue = [
            "name": "rehearsed", "urls": .array(urls(site.baseURL).map { .string($0) }),
            "batching": ["batchSize": .number(Double(batchSize))], "crawl": .object(c),
            "task": .object((task.objectValue ?? [:]).merging(["stopTimeout": 5]) { a, _ in a }), "fargate": fargate,
        ]
        let job = try writeJob(doc, in: dir)
        let copy = dir + "/job-rehearsal.json"
        do {
            let env = try await rehearsal.prepare(job: job, copy: copy, crawlrun: binary("crawlrun"))
            return RehearsedJob(
                site: site, rehearsal: rehearsal, dir: dir, job: job, copy: copy, env: env,
                fargate: try readJSON(copy)["fargate"] ?? [:])
        } catch {
            await rehearsal.stop()
            site.stop()
            throw error
        }
    }

    /// `crawlrun run COPY --backend fargate`; the run directory lands in DIR/fargate-runs.
    func run(_ extra: [String] = []) async throws -> (code: Int32?, stdout: String, stderr: String, run: String) {
        let p = try CrawlrunProcess(
            ["run", copy, "--backend", "fargate", "--runs-dir", dir + "/fargate-runs"] + extra, environment: env)
        // Longer than CrawlrunProcess.run's two minutes: a run with every fault takes its back-offs.
        let status = await p.process.wait(timeout: .seconds(300))
        if status == nil { await p.process.terminate(grace: .seconds(10)) }
        await p.process.outputDrained()
        return (status?.code, p.stdout.text, p.stderr.text, (try? runDirectory(dir + "/fargate-runs")) ?? "")
    }

    /// The coordinator's clients, for what a user would check with the AWS CLI.
    var aws: AWSServices { AWSServices(region: env["AWS_REGION"] ?? "us-east-1", variables: env) }
    var cluster: String { fargate["cluster"]?.stringValue ?? "" }

    /// Stops the rehearsal (and with it any task process) and the site; true when no task
    /// process outlived it.
    func stop() async -> Bool {
        let groups = ((try? await rehearsal.tasks()) ?? []).flatMap { ($0["pids"]?.objectValue ?? [:]).values }
            .compactMap(\.intValue)
        await rehearsal.stop()
        site.stop()
        return groups.allSatisfy { processesInGroup(pid_t($0)).isEmpty }
    }
}

extension Chrome {
    /// `crawlrun run JOB --backend fargate` end to end on the rehearsal: the real crawlrun and
    /// crawler binaries, chromedriver, the loopback fixture site. What every backend promises (a
    /// multi-batch run, a killed crawler, an unhealthy sidecar, Ctrl-C, `stop`) is asserted on the
    /// rehearsal by BackendContractTests.
    @Suite struct FargateRunTests {
        /// Issue 26: a failed task's sidecar and crawler logs reach the run directory from
        /// CloudWatch; a task that ended well costs one S3 GET and no GetLogEvents; its sidecar's
        /// stream is read on demand by `crawlrun logs`.
        @Test func aFailedTasksLogsComeFromCloudWatchAndAGoodOnesFromS3() async throws {
            let job = try await RehearsedJob.start(
                urls: { base in [base + "/page/1", base + "/page/2"] }, batchSize: 1)
            var clean = false
            defer { if !clean { Task { _ = await job.stop() } } }
            try await job.rehearsal.fault("crawlerKilled", ["batch": "0002", "afterLine": "WebDriver ready"])
            let r = try await job.run()
            #expect(r.code == 0, "the retry crawls 0002\n\(r.stderr)")
            func log(_ name: String) -> String {
                (try? String(contentsOfFile: r.run + "/logs/" + name, encoding: .utf8)) ?? ""
            }
            // The killed attempt: both containers from CloudWatch; then the retry's upload.
            let killed = log("0002/crawler.log")
            let fromCloudWatch = killed.range(of: "crawler's output from CloudWatch Logs")
            let uploaded = killed.range(of: "as it uploaded it to s3://")
            #expect(fromCloudWatch != nil && uploaded != nil, "\(killed)")
            if let fromCloudWatch, let uploaded { #expect(fromCloudWatch.lowerBound < uploaded.lowerBound) }
            #expect(killed.contains("WebDriver ready") && killed.contains("crawler: done 1/1"), "\(killed)")
            #expect(log("0002/webdriver.log").contains("ChromeDriver was started"), "\(log("0002/webdriver.log"))")
            // The task that ended well: its upload only.
            #expect(log("0001/crawler.log").contains("as it uploaded it to s3://"), "\(log("0001/crawler.log"))")
            #expect(log("0001/crawler.log").contains("crawler: done 1/1"))
            #expect(!FileManager.default.fileExists(atPath: r.run + "/logs/0001/webdriver.log"))
            let read = (try await job.rehearsal.calls())["logs:GetLogEvents"] ?? 0
            #expect(read > 0, "the killed attempt's streams were read")

            // On demand: the good task's sidecar, from CloudWatch.
            try await job.rehearsal.control("DELETE", "calls")
            let shown = try await CrawlrunProcess.run(
                ["logs", r.run, "0001", "--container", "webdriver"], environment: job.env)
            #expect(
                shown.code == 0 && shown.stdout.contains("ChromeDriver was started"), "\(shown.stdout)\(shown.stderr)")
            #expect((try await job.rehearsal.calls())["logs:GetLogEvents"] ?? 0 > 0)
            let listed = try await CrawlrunProcess.run(["logs", r.run])
            #expect(listed.stdout.contains("logs/0002/webdriver.log"), "\(listed.stdout)")
            clean = true
            #expect(await job.stop())
        }

        @Test func aLostRunTaskResponseStillLaunchesOneTaskPerBatchAttempt() async throws {
            let job = try await RehearsedJob.start(urls: { base in (1...4).map { base + "/page/\($0)" } }, batchSize: 2)
            var clean = false
            defer { if !clean { Task { _ = await job.stop() } } }
            try await job.rehearsal.fault("runTaskLostResponse", ["mode": "close"])
            try await job.rehearsal.fault("runTaskLostResponse", ["mode": "500"])
            let r = try await job.run()
            #expect(r.code == 0, "\(r.stderr)")
            #expect(try readRecords(r.run + "/results.jsonl").count == 4)
            let seen = try await job.rehearsal.tasks()
            #expect(seen.count == 2, "two batches, two tasks: the retries found the tasks their lost answers named")
            #expect(Set(seen.compactMap { $0["clientToken"]?.stringValue }).count == 2)
            #expect(try await job.rehearsal.calls()["ecs:RunTask"] == 4, "each lost answer was asked again")
            let report = try readJSON(r.run + "/report.json")
            #expect(report["tasks"]?["started"] == 2 && report["tasks"]?["relaunches"] == 2)
            #expect(r.stderr.contains("retried with the same client token"), "\(r.stderr)")
            clean = true
            #expect(await job.stop())
        }

        @Test func everyFaultEndsWithOneRecordPerURL() async throws {
            // Batch 0002 crawls slow pages and its crawler has 1 s after SIGTERM: the Spot
            // interruption leaves its URLs without a record.
            let job = try await RehearsedJob.start(
                urls: { base in (1...12).map { base + ([3, 4].contains($0) ? "/slow?ms=2000&n=\($0)" : "/page/\($0)") }
                },
                batchSize: 2, task: ["environment": ["CRAWL_STOP_GRACE": "1"]], fargate: ["provisioningTimeout": 5])
            var clean = false
            defer { if !clean { Task { _ = await job.stop() } } }
            let rehearsal = job.rehearsal
            try await rehearsal.fault("runTaskThrottling", count: 2)
            try await rehearsal.fault("runTaskCapacity")
            try await rehearsal.fault("runTaskLostResponse")
            try await rehearsal.fault("describeTasksServerError", count: 2)
            try await rehearsal.fault("cannotPullContainer", ["batch": "0001"])
            try await rehearsal.fault("spotInterruption", ["batch": "0002", "afterLine": "WebDriver ready"])
            try await rehearsal.fault("crawlerKilled", ["batch": "0003", "afterLine": "WebDriver ready"])
            try await rehearsal.fault("stuckProvisioning", ["batch": "0004"])
            try await rehearsal.fault("lateLogTail", ["batch": "0005", "seconds": 3])
            let r = try await job.run(["--max-tasks", "3"])
            #expect(r.code == 0, "every URL ok in the end\n\(r.stderr)")
            let records = try readRecords(r.run + "/results.jsonl")
            #expect(records.count == 12 && Set(records.map(\.url)).count == 12, "one record per URL, none twice")
            #expect(records.filter(\.ok).count == 12)
            // Issue 19 item 17: the tasks that wrote nothing read as "no results" although S3
            // answers 403 for their missing keys (the coordinator may list only the job's prefix).
            #expect(
                !(r.stdout + r.stderr).contains("results not read") && !(r.stdout + r.stderr).contains("AccessDenied"),
                "\(r.stderr)")

            let report = try readJSON(r.run + "/report.json")
            let tasks = report["tasks"]
            #expect(tasks?["retries"] == 4 && tasks?["infrastructureFailures"] == 4, "\(tasks ?? [:])")
            #expect((tasks?["relaunches"]?.intValue ?? 0) >= 4, "throttled twice, no capacity once, one answer lost")
            let list = tasks?["list"]?.arrayValue ?? []
            func first(_ batch: String) -> JSONValue? {
                list.first { $0["batch"]?.stringValue == batch && $0["attempt"] == 1 }
            }
            #expect(first("0001")?["stopCode"] == "TaskFailedToStart")
            #expect(first("0001")?["hint"]?.stringValue?.hasPrefix("no route to the registry") == true)
            #expect(first("0001")?["exitCodes"] == ["crawler": nil, "webdriver": nil], "no exit codes: never pulled")
            #expect(first("0002")?["stopCode"] == "SpotInterruption")
            #expect(first("0002")?["hint"]?.stringValue?.contains("FARGATE_SPOT") == true)
            #expect(first("0003")?["exitCodes"]?["crawler"] == 137)
            #expect(first("0004")?["stopCode"] == "UserInitiated")
            #expect(first("0004")?["hint"]?.stringValue?.contains("provisioningTimeout") == true)
            #expect(list.count == 10, "six batches, four retried")
            let unpulled = (try? String(contentsOfFile: r.run + "/logs/0001/crawler.log", encoding: .utf8)) ?? ""
            #expect(unpulled.contains("no log: the container never started (CannotPullContainerError"), "\(unpulled)")
            let late = (try? String(contentsOfFile: r.run + "/logs/0005/crawler.log", encoding: .utf8)) ?? ""
            #expect(late.contains("crawler: done 2/2"), "the late tail was waited for: \(late)")

            let seen = try await rehearsal.tasks()
            let tokens = seen.compactMap { $0["clientToken"]?.stringValue }
            #expect(tokens.count == 10 && Set(tokens).count == 10, "one task per batch attempt")
            #expect(try await job.aws.ecs.listTasks(cluster: job.cluster, desiredStatus: .running).isEmpty)
            clean = true
            #expect(await job.stop())
        }

    }
}
