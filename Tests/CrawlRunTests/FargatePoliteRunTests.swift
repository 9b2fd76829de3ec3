import AWS
import CrawlKit
import Foundation
import JSONKit
import TestSupport
import Testing

extension Chrome {
    /// Per-host limits across the fleet on the Fargate rehearsal (IAM on, the coordinator holding
    /// what `crawlrun iam-policy` prints), measured where a site owner would: request timestamps at
    /// two loopback hosts; which tasks held a host when, as ECS saw them. Six batches (three per
    /// host) on five task slots, at most two tasks per host, 0.8 requests/s per host: each task's
    /// share (a request every 2.5 s) reaches its crawler in the batch file on S3. The rate is low
    /// so that it binds on a loaded machine (four browsers on two cores took up to 1.5 s a page
    /// per task): with each task at the whole rate instead of its share, 8 requests fell in a
    /// 5-second window that allows 6.
    @Suite struct FargatePoliteRunTests {
        @Test func perHostLimitsHoldAcrossFargateTasks() async throws {
            let a = try FixtureServer(address: "127.0.0.2")
            let b = try FixtureServer(address: "127.0.0.3")
            defer {
                a.stop()
                b.stop()
            }
            let rehearsal = try await FargateRehearsal.start(crawler: binary("crawler"))
            defer { Task { await rehearsal.stop() } }
            let urls = [a, b].flatMap { server in (1...12).map { server.baseURL + "/page/\($0)" } }
            let rate = 0.8
            let dir = tempDir("fargatepolite")
            let job = try writeJob(
                [
                    "name": "polite", "urls": .array(urls.map { .string($0) }), "batching": ["tasks": 6],
                    "crawl": [
                        "allowPrivateNetworks": true, "tabsPerSession": 2, "sessions": 1, "retryBackoff": .number(0.05),
                    ],
                    "politeness": ["maxTasksPerHost": 2, "requestsPerSecondPerHost": .number(rate)],
                    "task": ["stopTimeout": 5],
                ], in: dir)
            let copy = dir + "/polite-rehearsal.json"
            let env = try await rehearsal.prepare(job: job, copy: copy, crawlrun: binary("crawlrun"))

            let r = try await CrawlrunProcess.run(
                ["run", copy, "--backend", "fargate", "--runs-dir", dir + "/runs", "--max-tasks", "5"],
                environment: env)
            #expect(r.code == 0, "\(r.stderr)")
            let run = try runDirectory(dir + "/runs")
            let records = try readRecords(run + "/results.jsonl")
            #expect(records.count == 24 && Set(records.map(\.url)) == Set(urls), "one record per URL")
            #expect(records.filter(\.ok).count == 24, "every URL ok")

            // Each task's share travels in its batch file on S3: 2 tasks at once, 0.8 req/s → 2.5 s.
            let aws = AWSServices(region: env["AWS_REGION"] ?? "us-east-1", variables: env)
            let fargate = try readJSON(copy)["fargate"] ?? [:]
            let bucket = fargate["bucket"]?.stringValue ?? ""
            let prefix = (fargate["prefix"]?.stringValue ?? "") + "polite/runs/"
            let keys = try await aws.s3.listObjects(bucket: bucket, prefix: prefix).map(\.key).filter {
                $0.contains("/batches/")
            }
            #expect(keys.count == 6, "\(keys)")
            for key in keys {
                let batch = try JSONValue.decode(try await aws.s3.getObject(S3Location(bucket: bucket, key: key)))
                let intervals = batch["crawl"]?["hostIntervals"]?.objectValue ?? [:]
                #expect(intervals.count == 1 && intervals.values.first?.doubleValue == 2.5, "\(key): \(intervals)")
            }

            // At most 2 tasks held a host at once, as ECS saw them: each task from its first state
            // to STOPPED, its host from its batch's records (not from the ledger under test). The
            // other host's tasks ran meanwhile: more than 2 tasks at once in all.
            let hostByBatch = Dictionary(records.map { ($0.batch, URL(string: $0.url)?.host ?? "") }) { h, _ in h }
            var spans: [String: [(String, String)]] = [:]
            for task in try await rehearsal.tasks() {
                let states = task["states"]?.arrayValue ?? []
                guard let batch = task["tags"]?.arrayValue?.first(where: { $0["key"] == "crawlrun:batch" })?["value"],
                    let host = batch.stringValue.flatMap({ hostByBatch[$0] }),
                    let from = states.first?["at"]?.stringValue,
                    let to = states.last(where: { $0["status"] == "STOPPED" })?["at"]?.stringValue
                else { continue }
                // ISO 8601 times in UTC from one clock: their text sorts as they do.
                spans[host, default: []].append((from, to))
            }
            #expect(spans.keys.sorted() == ["127.0.0.2", "127.0.0.3"] && spans.values.allSatisfy { $0.count == 3 })
            for (host, list) in spans { #expect(mostAtOnce(list) <= 2, "\(host): tasks \(list)") }
            #expect(mostAtOnce(spans.values.flatMap { $0 }) > 2, "both hosts' tasks at once")

            // Each host's requests as its server saw them: within the rate over two of a task's
            // intervals (expectPaced).
            for server in [a, b] { expectPaced(server, pages: 12, rate: rate, holders: 2, window: .seconds(5)) }
            let report = try readJSON(run + "/report.json")
            let hosts = report["hosts"]?["list"]?.arrayValue ?? []
            #expect(hosts.count == 2)
            for h in hosts { #expect((h["perSecond"]?.doubleValue ?? .infinity) <= rate * 1.1, "\(h)") }
        }
    }
}
