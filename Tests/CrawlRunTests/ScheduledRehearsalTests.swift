import AWS
import Foundation
import JSONKit
import TestSupport
import Testing

extension Chrome {
    /// The scheduled path on the Fargate rehearsal, IAM on, every identity holding what
    /// `crawlrun iam-policy --scheduled` prints: `crawlrun schedule`, then two fires of the
    /// schedule at once (the rehearsal's RunTask as the scheduler's role). Exactly one
    /// coordinator task runs the job on batch tasks; the other finds the lease and exits 75.
    /// The run's results, report (with the coordinator's own cost) and the finished event.
    @Suite struct ScheduledRehearsalTests {
        @Test func scheduleFireTwiceOneRunsTheOtherExits75() async throws {
            let site = try FixtureServer()
            defer { site.stop() }
            let rehearsal = try await FargateRehearsal.start(crawler: binary("crawler"))
            let dir = tempDir("scheduled")
            let urls = (1...6).map { site.baseURL + "/page/\($0)" }
            let job = try writeJob(
                [
                    "name": "nightly", "urls": .array(urls.map { .string($0) }), "batching": ["batchSize": 3],
                    "crawl": ["allowPrivateNetworks": true], "task": ["stopTimeout": 5],
                ], in: dir)
            let copy = dir + "/nightly-rehearsal.json"
            let env = try await rehearsal.prepare(job: job, copy: copy, crawlrun: binary("crawlrun"), scheduled: true)
            defer { Task { await rehearsal.stop() } }

            let made = try await CrawlrunProcess.run(
                ["schedule", copy, "--cron", "cron(0 3 * * ? *)"], environment: env)
            #expect(made.code == 0, "\(made.stderr)")
            async let first = rehearsal.control("POST", "fire", ["name": "nightly", "group": "crawlrun"])
            async let second = rehearsal.control("POST", "fire", ["name": "nightly", "group": "crawlrun"])
            let fired = try await [first, second].compactMap { $0["taskArns"]?.arrayValue?.first?.stringValue }
            #expect(fired.count == 2)

            // Both coordinator tasks stop; their exit codes: one ran the job (1 or 0), one 75.
            @Sendable func coordinators() async -> [JSONValue] {
                ((try? await rehearsal.tasks()) ?? []).filter { fired.contains($0["taskArn"]?.stringValue ?? "") }
            }
            let stopped = await eventually(timeout: .seconds(180)) {
                let tasks = await coordinators()
                return tasks.count == 2 && tasks.allSatisfy { $0["lastStatus"] == "STOPPED" }
            }
            let codes = await coordinators().compactMap { $0["containers"]?.arrayValue?.first?["exitCode"]?.intValue }
                .sorted()
            #expect(stopped && codes == [0, 75], "coordinator exit codes \(codes)")

            let aws = AWSServices(region: env["AWS_REGION"] ?? "us-east-1", variables: env)
            let fargate = try readJSON(copy)["fargate"] ?? [:]
            let bucket = fargate["bucket"]?.stringValue ?? ""
            let runs = "crawlrun/nightly/runs/"
            let keys = try await aws.s3.listObjects(bucket: bucket, prefix: runs).map(\.key)
            let report = try #require(keys.first { $0.hasSuffix("/report.json") }, "\(keys)")
            let run = String(report.dropFirst(runs.count).prefix { $0 != "/" })
            let results = try await aws.s3.getObject(S3Location(bucket: bucket, key: runs + run + "/results.jsonl"))
            let lines = String(decoding: results, as: UTF8.self).split(separator: "\n")
            #expect(lines.count == 6, "one record per URL")
            let json = try JSONValue.decode(try await aws.s3.getObject(S3Location(bucket: bucket, key: report)))
            #expect(
                json["counts"]?["ok"]?.intValue == 6,
                "\(json["errors"].map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "")")
            #expect(json["coordinator"]?["cpu"] == 256 && json["coordinator"]?["memory"] == 512)
            #expect((json["coordinator"]?["usd"]?.doubleValue ?? 0) > 0, "the coordinator's own cost")

            let events = try await rehearsal.control("GET", "events")["events"]?.arrayValue ?? []
            #expect(events.count == 1, "one event for the run, none for the fire that exited 75")
            let detail = events.first?["detail"]
            #expect(detail?["exitCode"] == 0 && detail?["run"]?.stringValue == run, "\(events)")
            #expect(detail?["report"]?.stringValue == "s3://\(bucket)/\(report)")

            let listed = try await CrawlrunProcess.run(
                ["runs", "--runs-dir", "s3://\(bucket)/crawlrun/nightly/runs"], environment: env)
            #expect(
                listed.code == 0 && listed.stdout.contains(run) && listed.stdout.contains("finished"),
                "\(listed.stdout)")
        }

        /// The coordinator task SIGKILLed mid-run; once its lease has expired the schedule fires
        /// again: the new coordinator resumes the same run, adopts the batch task still running,
        /// launches only what is missing; one record per URL, no batch launched twice.
        @Test func aKilledCoordinatorsRunIsResumedByTheNextFire() async throws {
            let site = try FixtureServer()
            defer { site.stop() }
            let rehearsal = try await FargateRehearsal.start(crawler: binary("crawler"))
            let dir = tempDir("scheduledkill")
            let urls = (1...8).map { site.baseURL + "/slow?ms=500&n=\($0)" }
            let job = try writeJob(
                [
                    "name": "resumed", "urls": .array(urls.map { .string($0) }), "batching": ["batchSize": 2],
                    "crawl": ["allowPrivateNetworks": true], "task": ["stopTimeout": 5],
                    "fargate": [
                        "maxConcurrentTasks": 1, "schedule": ["environment": ["CRAWLRUN_LEASE_SECONDS": "3"]],
                    ],
                ], in: dir)
            let copy = dir + "/resumed-rehearsal.json"
            let env = try await rehearsal.prepare(job: job, copy: copy, crawlrun: binary("crawlrun"), scheduled: true)
            defer { Task { await rehearsal.stop() } }
            let made = try await CrawlrunProcess.run(["schedule", copy, "--cron", "rate(1 day)"], environment: env)
            #expect(made.code == 0, "\(made.stderr)")

            let fire: JSONValue = ["name": "resumed", "group": "crawlrun"]
            let first = try #require(
                try await rehearsal.control("POST", "fire", fire)["taskArns"]?.arrayValue?.first?.stringValue)
            @Sendable func task(_ arn: String) async -> JSONValue? {
                ((try? await rehearsal.tasks()) ?? []).first { $0["taskArn"]?.stringValue == arn }
            }
            @Sendable func batchTasks() async -> [JSONValue] {
                ((try? await rehearsal.tasks()) ?? []).filter {
                    !($0["startedBy"]?.stringValue ?? "").hasPrefix("chronos-")
                }
            }
            // The second batch's task running: one batch done, one in flight, the rest to launch.
            #expect(await eventually(timeout: .seconds(120)) { await batchTasks().count >= 2 })
            let pid = try #require(await task(first)?["pids"]?["coordinator"]?.intValue)
            kill(pid_t(pid), SIGKILL)
            #expect(await eventually(timeout: .seconds(30)) { await task(first)?["lastStatus"] == "STOPPED" })
            let launchedBefore = await batchTasks().count
            // The lease (3 s) expires: awaited by its own clock, nothing else to watch.
            try await Task.sleep(for: .seconds(4))

            let second = try #require(
                try await rehearsal.control("POST", "fire", fire)["taskArns"]?.arrayValue?.first?.stringValue)
            #expect(await eventually(timeout: .seconds(180)) { await task(second)?["lastStatus"] == "STOPPED" })
            let code = await task(second)?["containers"]?.arrayValue?.first?["exitCode"]?.intValue
            #expect(code == 0, "the resuming coordinator's exit code")

            let aws = AWSServices(region: env["AWS_REGION"] ?? "us-east-1", variables: env)
            let bucket = (try readJSON(copy)["fargate"]?["bucket"]?.stringValue) ?? ""
            let runs = "crawlrun/resumed/runs/"
            let reports = try await aws.s3.listObjects(bucket: bucket, prefix: runs).map(\.key).filter {
                $0.hasSuffix("/report.json")
            }
            #expect(reports.count == 1, "one run, resumed: \(reports)")
            let run = String((reports.first ?? "").dropFirst(runs.count).prefix { $0 != "/" })
            let results = try await aws.s3.getObject(S3Location(bucket: bucket, key: runs + run + "/results.jsonl"))
            let recorded = String(decoding: results, as: UTF8.self).split(separator: "\n").compactMap {
                try? JSONValue.decode(Data($0.utf8))["url"]?.stringValue
            }
            #expect(
                recorded.count == 8 && Set(recorded) == Set(urls),
                "one record per URL: \(recorded.count) records, \(Set(recorded).count) URLs")
            let batches = await batchTasks().compactMap { t in
                t["tags"]?.arrayValue?.first { $0["key"] == "crawlrun:batch" }?["value"]?.stringValue
            }
            #expect(batches.count == 4 && Set(batches).count == 4, "each batch launched once: \(batches)")
            #expect(
                batches.count - launchedBefore == 4 - launchedBefore, "the resumed run launched only what was missing")
        }
    }
}
