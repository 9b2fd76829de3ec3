import Coordinator
import CrawlKit
import Foundation
import TestSupport

/// The scheduler with a backend in memory: a 1,000,000-URL job at batch size 50 is 20,000
/// batches. Prints how often state.json was written and what each write costs, and the driver's
/// own throughput (tasks per second with instant tasks).
func ledgerSection(batches: Int, size: Int, maxTasks: Int) async throws {
    let runs = NSTemporaryDirectory() + "crawlrun-bench-ledger-\(UUID().uuidString.prefix(8))"
    defer { try? FileManager.default.removeItem(atPath: runs) }
    let job = try Job.parse(
        Data(#"{"name": "bench", "urls": ["http://x/"]}"#.utf8), path: "bench.json", backend: .local)
    let store = try RunStore(runsDirectory: runs)
    var planned: [(id: String, urls: Int)] = []
    for b in 0..<batches {
        let id = Planner.batchID(b, of: batches)
        let urls = (0..<size).map { "https://site-\(b % 2000).example/page/\(b)/\($0)" }
        try store.writeBatch(BatchFile(batch: id, urls: urls, crawl: job.crawl), attempt: 1)
        planned.append((id, urls.count))
    }
    let backend = FakeBackend { launch in
        .run(records: Dictionary(uniqueKeysWithValues: launch.urls.map { ($0, true) }))
    }
    let ledger = BatchLedger(
        run: store.id, batches: planned, options: .init(maxTasks: maxTasks, retries: 2, maxRunSeconds: 3600))
    let context = RunContext(id: store.id, layout: store.layout, job: job, taskDefinition: TaskDefinition.render(job))
    let scheduler = Scheduler(
        run: context, backend: backend, store: store, ledger: ledger, merger: ResultMerger(urls: batches * size))
    let t0 = ContinuousClock.now
    let report = await scheduler.execute()
    let seconds = (ContinuousClock.now - t0).seconds
    let size = (try? FileManager.default.attributesOfItem(atPath: store.layout.statePath)[.size] as? Int) ?? 0
    // One write on its own, for its cost: encoding, then the atomic write.
    let state = try RunStore.loadState(store.layout)
    let e0 = ContinuousClock.now
    let bytes = try state.jsonBytes()
    let encode = (ContinuousClock.now - e0).seconds
    let w0 = ContinuousClock.now
    try RunStore.writeAtomically(path: store.layout.statePath, bytes)
    let write = (ContinuousClock.now - w0).seconds + encode
    print("")
    print("scheduler, \(batches) batches × \(planned.first?.urls ?? 0) URLs, instant tasks, \(maxTasks) at once")
    print(
        "  run: \(f(seconds, 2)) s, \(f(Double(backend.tasks.count) / seconds, 0)) tasks/s, status \(report.status.rawValue), \(report.counts.ok) records"
    )
    print(
        "  state.json: \(store.stateWrites) writes in \(f(seconds, 1)) s = \(f(Double(store.stateWrites) / seconds, 1)) writes/s; \(size / 1024) KiB, \(f(write * 1000, 0)) ms per write"
    )
    print("  observe calls: \(backend.observeCalls), largest \(backend.largestObserve) tasks in one call")
    let p0 = ContinuousClock.now
    let page = ReportPage.html(report, exitCode: 0)
    print("  report.html: \(page.utf8.count / 1024) KiB in \(f((ContinuousClock.now - p0).seconds * 1000, 0)) ms")
}
