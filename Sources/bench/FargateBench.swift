import AWS
import Coordinator
import CrawlKit
import FargateBackend
import Foundation
import JSONKit
import TestSupport

/// `bench --only fargate`: the coordinator's overhead on the Fargate rehearsal, for `batches`
/// one-URL batches whose tasks end at once. The rehearsal runs with `--runner instant` (its
/// containers played in process: the crawler writes an ok record per URL to S3, prints the
/// sentinel and exits 0), so what is measured is crawlrun and the AWS calls, not Chrome.
/// Two runs of the same job: the scheduler and the Fargate backend in this process (observe
/// calls, DescribeTasks calls per poll, the time from the last task's stop to the run's end), and
/// the `crawlrun` binary (its peak RSS and wall time).
func fargateSection(batches: Int, maxTasks: Int) async throws {
    print("")
    print("fargate backend on the rehearsal (instant tasks), \(batches) one-URL batches, \(maxTasks) at once")
    let rehearsal: FargateRehearsal
    do {
        rehearsal = try await FargateRehearsal.start(crawler: crawlerBin, arguments: ["--runner", "instant"])
    } catch {
        print(
            "  skipped: the rehearsal did not start (moto 5.2.1: scripts/setup.sh with CRAWLRUN_NEEDS_MOTO=1): \(error)"
        )
        return
    }
    defer { Task { await rehearsal.stop() } }
    let dir = workDir + "/fargate"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let urls: [JSONValue] = (1...batches).map { .string("http://127.0.0.1:9/item/\($0)") }
    let doc: JSONValue = [
        "name": "bench-fargate", "urls": .array(urls), "batching": ["batchSize": 1],
        "fargate": ["maxConcurrentTasks": .number(Double(maxTasks))],
    ]
    try doc.encoded().write(to: URL(fileURLWithPath: dir + "/job.json"))
    let copy = dir + "/job-rehearsal.json"
    let env = try await rehearsal.prepare(job: dir + "/job.json", copy: copy, crawlrun: binDir + "/crawlrun")

    // 1. In process: the scheduler's own figures.
    try await rehearsal.control("DELETE", "calls")
    let job = try Job.load(path: copy, backend: .fargate)
    let store = try RunStore(runsDirectory: dir + "/runs")
    var planned: [(id: String, urls: Int)] = []
    for (b, url) in urls.enumerated() {
        let id = Planner.batchID(b, of: batches)
        try store.writeBatch(BatchFile(batch: id, urls: [url.stringValue ?? ""], crawl: job.crawl), attempt: 1)
        planned.append((id, 1))
    }
    let backend = FargateBackend(job: job, aws: AWSServices(region: env["AWS_REGION"] ?? "us-east-1", variables: env))
    let ledger = BatchLedger(
        run: store.id, batches: planned,
        options: .init(
            maxTasks: maxTasks, retries: 2, maxRunSeconds: 3600, startTimeout: job.fargate.provisioningTimeout))
    let scheduler = Scheduler(
        run: RunContext(id: store.id, layout: store.layout, job: job, taskDefinition: TaskDefinition.render(job)),
        backend: backend, store: store, ledger: ledger, merger: ResultMerger(urls: batches))
    let t0 = ContinuousClock.now
    let report = await scheduler.execute()
    let end = Timestamp.epochSeconds()
    let wall = (ContinuousClock.now - t0).seconds
    let calls = try await rehearsal.calls()
    let polls = await scheduler.observeCalls
    let lastStop = report.attempts.compactMap { $0.attempt.end?.timing?.stoppedAt }.max() ?? end
    let lastSeen = await scheduler.lastStopSeenAt ?? end
    let describes = calls["ecs:DescribeTasks"] ?? 0
    print(
        "  in process: \(f(wall, 1)) s, status \(report.status.rawValue), \(report.counts.ok) ok of \(batches), \(report.tasks.tasksStarted) tasks (\(f(Double(report.tasks.tasksStarted) / wall, 1)) tasks/s)"
    )
    print(
        "  polls: \(polls) observe calls, \(describes) DescribeTasks (\(f(Double(describes) / Double(max(polls, 1)), 2)) per poll; largest poll \(maxTasks) tasks = \((maxTasks + 99) / 100) call(s))"
    )
    print("  API calls: \(callCounts(calls))")
    let shutdown = backend.shutdownStartedAt ?? end
    print(
        "  last task's stop → run's end: \(f(end - lastStop, 2)) s: stop seen after \(f(lastSeen - lastStop, 2)) s, every result merged after \(f(shutdown - lastStop, 2)) s, then \(f(end - shutdown, 2)) s for the log copies still queued and the final ListTasks"
    )

    // 2. The crawlrun binary: peak RSS and wall time.
    try await rehearsal.control("DELETE", "calls")
    let m = try await measure(
        binDir + "/crawlrun", ["run", copy, "--backend", "fargate", "--runs-dir", dir + "/cli-runs", "--quiet"],
        env: env)
    let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/cli-runs")
    let cli = try JSONValue.decode(
        try Data(contentsOf: URL(fileURLWithPath: dir + "/cli-runs/\(runs.first ?? "")/report.json")))
    guard m.status == .exited(0) else {
        print("  crawlrun run failed (\(m.status)): \(cli["failure"] ?? cli["status"] ?? "no report")")
        return
    }
    let stops = (cli["tasks"]?["list"]?.arrayValue ?? []).compactMap { $0["stoppedAt"]?.stringValue }.compactMap {
        logTime(Substring($0))
    }
    let finished = cli["finishedAt"]?.stringValue.flatMap { logTime(Substring($0)) } ?? 0
    let cliCalls = try await rehearsal.calls()
    print(
        "  crawlrun run: \(f(m.seconds, 1)) s, peak RSS \(f(Double(m.rssKB) / 1024)) MB, last stop → end \(f((finished - (stops.max() ?? finished)) / 1000, 2)) s"
    )
    print("  crawlrun's API calls: \(callCounts(cliCalls))")
    let t = cli["tasks"]
    let odd = (t?["list"]?.arrayValue ?? []).filter { $0["exitCodes"]?["crawler"] != 0 }
    print(
        "  crawlrun's tasks: \(t?["started"]?.intValue ?? 0) started, \(t?["retries"]?.intValue ?? 0) retried, \(t?["relaunches"]?.intValue ?? 0) launches tried again, \(odd.count) without crawler exit 0 (their logs from CloudWatch)"
            + (odd.first.map { " (first: \($0["reason"]?.stringValue ?? ""))" } ?? ""))
    let html = (try? FileManager.default.attributesOfItem(atPath: dir + "/cli-runs/\(runs.first ?? "")/report.html"))?[
        .size]
    print("  report.html: \(f(Double((html as? Int) ?? 0) / 1024)) KB")
    print("  runs directory on S3: not measured (crawlrun keeps its runs directory on local disk only)")
}

/// "ecs:DescribeTasks 30, ecs:RunTask 3000, …": every kind the rehearsal counted, by name.
func callCounts(_ calls: [String: Int]) -> String {
    calls.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
}
