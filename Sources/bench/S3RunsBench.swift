import AWS
import Coordinator
import CrawlKit
import Foundation
import S3Runs
import TestSupport

/// A run whose runs directory is on S3 (moto_server), driven by the scheduler with instant tasks
/// in memory: N URLs in batches of 50, 500 at once. What the S3 copy costs: state.json writes per
/// second, bytes written to S3 per record, the process's peak RSS, and the time from the last
/// task's end to the run complete on S3 (results.jsonl whole, pieces gone).
func s3RunsSection(urls: Int) async throws {
    let moto = try await MotoServer.start()
    defer { Task { await moto.stop() } }
    let env = [
        "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_REGION": "us-east-1",
    ]
    let s3 = AWSServices(region: "us-east-1", variables: env).s3
    _ = try await s3.send("PUT", "bench-runs", key: "", operation: "CreateBucket")
    let scratch = NSTemporaryDirectory() + "crawlrun-bench-s3-\(UUID().uuidString.prefix(8))"
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let id = RunStore.newID()
    let mirror = S3RunMirror(
        s3: s3, bucket: "bench-runs", prefix: "runs", layout: RunLayout(runsDirectory: scratch, id: id))
    let store = try RunStore(runsDirectory: scratch, id: id, mirror: mirror)
    let job = try Job.parse(
        Data(#"{"name": "bench", "urls": ["http://x/"]}"#.utf8), path: "bench.json", backend: .local)
    let size = 50
    let batches = (urls + size - 1) / size
    var planned: [(id: String, urls: Int)] = []
    for b in 0..<batches {
        let batch = Planner.batchID(b, of: batches)
        let list = (0..<min(size, urls - b * size)).map { "https://site-\(b % 2000).example/page/\(b)/\($0)" }
        try store.writeBatch(BatchFile(batch: batch, urls: list, crawl: job.crawl), attempt: 1)
        planned.append((batch, list.count))
    }
    let backend = FakeBackend { launch in
        .run(records: Dictionary(uniqueKeysWithValues: launch.urls.map { ($0, true) }))
    }
    let ledger = BatchLedger(
        run: store.id, batches: planned, options: .init(maxTasks: 500, retries: 2, maxRunSeconds: 3600))
    let context = RunContext(id: store.id, layout: store.layout, job: job, taskDefinition: TaskDefinition.render(job))
    let scheduler = Scheduler(
        run: context, backend: backend, store: store, ledger: ledger, merger: ResultMerger(urls: urls))
    let t0 = ContinuousClock.now
    let report = await scheduler.execute()
    let seconds = (ContinuousClock.now - t0).seconds
    let f0 = ContinuousClock.now
    try store.writeJSON(RunLayout.report, report.json)
    try await store.finishMirror()
    let finish = (ContinuousClock.now - f0).seconds
    let resultsBytes = (try? FileManager.default.attributesOfItem(atPath: store.layout.resultsPath)[.size] as? Int) ?? 0
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    print("")
    print("runs on S3 (moto_server), \(urls) URLs in \(batches) batches of \(size), instant tasks, 500 at once")
    print("  run: \(f(seconds, 1)) s, status \(report.status.rawValue), \(report.counts.ok) records")
    print(
        "  state.json: \(store.stateWrites) writes = \(f(Double(store.stateWrites) / seconds, 1)) writes/s (each one a PutObject)"
    )
    print(
        "  written to S3: \(mirror.bytesUploaded / 1024) KiB = \(f(Double(mirror.bytesUploaded) / Double(max(1, urls)), 0)) bytes per record (results.jsonl \(f(Double(resultsBytes) / Double(max(1, urls)), 0)) bytes per record; the rest: batch files, state.json writes, pieces)"
    )
    print("  last task's end → run complete on S3 (report, results.jsonl whole, pieces deleted): \(f(finish, 2)) s")
    print("  peak RSS of the coordinator process (scheduler + store + S3 copy): \(usage.ru_maxrss / 1024) MB")
}
