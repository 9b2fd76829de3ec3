import Coordinator
import CrawlKit
import Foundation

/// Hand-built runs for report.html: a ledger driven through its events with made-up times, as
/// the scheduler would drive it.
enum ReportSample {
    /// What one batch attempt does: runs `seconds` and ends with `end` (nil task: fails to start).
    struct Plan {
        var task: String?
        var seconds = 20.0
        /// From the slot coming free to the task launched (the driver collecting, the backend launching).
        var delay = 0.2
        var failed = 0
        var missing = 0
        var end = TaskEnd(
            stopCode: .essentialContainerExited, reason: "Essential container in task exited",
            containers: [ContainerExit(name: "crawler", exitCode: 0), ContainerExit(name: "webdriver", exitCode: 143)])
    }

    static let t0 = 1_790_000_000.0
    // swift-format-ignore: NeverUseForceTry
    static let task = try! Job.parse(
        Data(#"{"name": "x", "urls": ["http://x/"]}"#.utf8), path: "x.json", backend: .local
    )
    .task

    static func killed(_ code: Int32 = 137) -> TaskEnd {
        TaskEnd(
            stopCode: .essentialContainerExited, reason: "Essential container in task exited",
            containers: [ContainerExit(name: "crawler", exitCode: code), ContainerExit(name: "webdriver", exitCode: 0)])
    }

    /// Drives `ledger` to its end: launches as slots free up, each attempt as `plan` says; at
    /// `interruptAt` the run is interrupted and the running tasks stop 1.5 s later.
    static func simulate(
        _ ledger: inout BatchLedger, interruptAt: Double? = nil, plan: (String, Int) -> Plan
    ) {
        var now = t0
        var running: [(at: Double, order: LaunchOrder, plan: Plan)] = []
        var interrupted = false
        func perform(_ actions: [LedgerAction]) {
            for case .launch(let o) in actions {
                let p = plan(o.batch, o.attempt)
                let urls = (0..<o.urls).map { "https://site.example/\(o.batch)/\($0)" }
                guard let task = p.task else {
                    perform(
                        ledger.launchFailed(
                            batch: o.batch, attempt: o.attempt, error: .failedToStart(p.end.reason), urls: urls,
                            now: now + 3))
                    continue
                }
                _ = ledger.launched(batch: o.batch, attempt: o.attempt, task: task, now: now + p.delay)
                ledger.observed(batch: o.batch, attempt: o.attempt, running: true, now: now + 2)
                // Kept in order of their end: the next to end is first.
                let at = now + p.delay + p.seconds
                running.insert((at, o, p), at: running.firstIndex { $0.at > at } ?? running.count)
            }
        }
        perform(ledger.start())
        while !running.isEmpty {
            let next = 0
            if let at = interruptAt, !interrupted, running[next].at > at {
                interrupted = true
                now = at
                _ = ledger.interrupt("SIGINT")
                for i in running.indices {
                    running[i].at = at + 1.5
                    running[i].plan.missing = max(1, running[i].order.urls / 2)
                    running[i].plan.end = TaskEnd(
                        stopCode: .userInitiated, reason: "Task stopped by user",
                        containers: [ContainerExit(name: "crawler", exitCode: 75)])
                }
                continue
            }
            let r = running.remove(at: next)
            now = r.at
            let missing = (0..<min(r.plan.missing, r.order.urls)).map { "https://site.example/\(r.order.batch)/\($0)" }
            perform(
                ledger.taskEnded(
                    batch: r.order.batch, attempt: r.order.attempt, records: r.order.urls - missing.count,
                    failed: r.plan.failed, missing: missing, end: r.plan.end, now: now))
        }
        _ = ledger.close()
    }

    static func report(_ ledger: BatchLedger, counts: RecordCounts, seconds: Double, job: String = "demo") -> RunReport
    {
        var r = RunReport(
            run: "20261122-000000-abcd", job: job, backend: "local",
            status: ledger.failure != nil ? .failed : ledger.interruptReason != nil ? .interrupted : .finished,
            startedAt: Timestamp.format(epochSeconds: t0), finishedAt: Timestamp.format(epochSeconds: t0 + seconds),
            seconds: seconds, merger: ResultMerger(urls: counts.urls), ledger: ledger, task: task, problems: [])
        r.counts = counts
        return r
    }

    /// Seven batches, every outcome, a retry of each kind, and hostile text where a task id, a
    /// reason, a hint and an example URL go. 13 attempts.
    static func small() -> RunReport {
        let sizes = [5, 5, 5, 5, 4, 5, 3]
        var ledger = BatchLedger(
            run: "20261122-000000-abcd",
            batches: sizes.enumerated().map { (String(format: "%04d", $0.offset + 1), $0.element) },
            options: .init(maxTasks: 3, retries: 2, maxRunSeconds: 3600))
        simulate(&ledger, interruptAt: t0 + 118) { batch, attempt in
            var p = Plan(task: "task-\(batch)-a\(attempt)", seconds: 14 + Double(Int(batch) ?? 0) * 2.5)
            switch (batch, attempt) {
            case ("0002", _): p.failed = 2
            case ("0003", 1):
                p.end = killed()
                p.missing = 2
            case ("0004", 1):
                p.task = nil
                p.end = TaskEnd(stopCode: .taskFailedToStart, reason: "CannotPullContainerError: pull access denied")
            case ("0005", _):
                p.end = killed(70)
                p.missing = 4
                p.seconds = 9
            case ("0007", _):
                p.task = "t-<script>alert('task')</script>&\"x\""
                p.end = TaskEnd(
                    stopCode: .essentialContainerExited,
                    reason: "exited <img src=x onerror=alert(1)> & \"quoted\" 'single'",
                    containers: [ContainerExit(name: "crawler", exitCode: 73)],
                    hint: "check </title><script>alert(2)</script>")
                p.missing = 3
                p.seconds = 40
            default: break
            }
            return p
        }
        var r = report(ledger, counts: RecordCounts(urls: 32, ok: 19, failed: 2, incomplete: 11), seconds: 121.4)
        r.errors = [
            (kind: "incomplete", count: 11, example: "https://site.example/0005/0"),
            (kind: "http", count: 1, example: "http://x.example/?a=1&b=\"><script>alert(3)</script>"),
            (kind: "dns", count: 1, example: "javascript:alert(4)"),
        ]
        return r
    }

    /// `batches` batches of 50 URLs, `maxTasks` at once, each running `seconds` (90 + up to 36)
    /// `delay` after its slot came free; every 20th first attempt is killed and retried,
    /// every 500th never starts.
    static func large(batches: Int, maxTasks: Int = 64, seconds: Double = 90, delay: Double = 0.2) -> RunReport {
        var ledger = BatchLedger(
            run: "20261122-000000-abcd", batches: (0..<batches).map { (Planner.batchID($0, of: batches), 50) },
            options: .init(maxTasks: maxTasks, retries: 2, maxRunSeconds: 3600))
        simulate(&ledger) { batch, attempt in
            let n = Int(batch) ?? 0
            var p = Plan(
                task: "0123456789abcdef0123456789\(String(n, radix: 16))", seconds: seconds + Double(n % 37),
                delay: delay, failed: n % 3)
            if attempt == 1 && n % 20 == 7 {
                p.end = killed()
                p.missing = 10
            }
            if attempt == 1 && n % 500 == 11 {
                p.task = nil
                p.end = TaskEnd(stopCode: .taskFailedToStart, reason: "RESOURCE:ENI")
            }
            return p
        }
        let end = ledger.batches.flatMap(\.attempts).compactMap(\.end?.at).max() ?? t0
        return report(
            ledger, counts: RecordCounts(urls: batches * 50, ok: batches * 48, failed: batches * 2),
            seconds: end - t0 + 1)
    }
}
