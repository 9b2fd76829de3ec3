import Coordinator
import CrawlKit
import Foundation
import JSONKit
import Synchronization
import TestSupport
import Testing

/// The driver around the ledger, with a backend in memory and a clock the test moves: what a run
/// writes (results.jsonl, state.json) and what it asks of the backend, without a browser.
@Suite struct SchedulerTests {
    struct Run {
        let store: RunStore
        let scheduler: Scheduler
        let urls: [String]

        func records() throws -> [ResultRecord] { try readRecords(store.resultsPath) }
    }

    /// `batches` batches of `size` URLs each, run on `backend`.
    func makeRun(
        batches: Int, size: Int, backend: any TaskBackend, clock: any RunClock = SystemClock(), retries: Int = 2,
        maxTasks: Int = 2, maxRunSeconds: Double = 3600, onEvent: @escaping @Sendable (RunEvent) -> Void = { _ in }
    ) throws -> Run {
        let job = try Job.parse(Data(#"{"name": "t", "urls": ["http://x/"]}"#.utf8), path: "t.json", backend: .local)
        let store = try RunStore(runsDirectory: tempDir("sched"))
        var planned: [(id: String, urls: Int)] = []
        var all: [String] = []
        for b in 1...batches {
            let id = String(format: "%04d", b)
            let urls = (1...size).map { "http://site.test/\(id)/\($0)" }
            try store.writeBatch(BatchFile(batch: id, urls: urls, crawl: job.crawl), attempt: 1)
            planned.append((id, urls.count))
            all += urls
        }
        let ledger = BatchLedger(
            run: store.id, batches: planned,
            options: .init(maxTasks: maxTasks, retries: retries, maxRunSeconds: maxRunSeconds))
        let context = RunContext(
            id: store.id, layout: store.layout, job: job, taskDefinition: TaskDefinition.render(job))
        let scheduler = Scheduler(
            run: context, backend: backend, store: store, ledger: ledger, merger: ResultMerger(urls: all.count),
            clock: clock, onEvent: onEvent)
        return Run(store: store, scheduler: scheduler, urls: all)
    }

    func everyURLOnce(_ run: Run) throws {
        let records = try run.records()
        #expect(records.map(\.url).sorted() == run.urls.sorted(), "exactly one record per URL")
    }

    @Test func retriesOnlyTheMissingURLsUntilEveryURLHasARecord() async throws {
        // The first attempt of every batch loses its last URL (a killed crawler).
        let backend = FakeBackend { launch in
            let recorded = launch.attempt == 1 ? Array(launch.urls.dropLast()) : launch.urls
            return .run(
                records: Dictionary(uniqueKeysWithValues: recorded.map { ($0, true) }),
                end: launch.attempt == 1 ? LedgerTests.killed : nil)
        }
        let run = try makeRun(batches: 3, size: 4, backend: backend)
        let report = await run.scheduler.execute()
        #expect(report.status == .finished)
        try everyURLOnce(run)
        #expect(report.counts == RecordCounts(urls: 12, ok: 12, failed: 0, incomplete: 0))
        #expect(backend.tasks.map(\.attempt).sorted() == [1, 1, 1, 2, 2, 2])
        // Each retry's batch file holds only the URL that was missing.
        let retried = try run.store.batchURLs("0002", attempt: 2)
        #expect(retried == ["http://site.test/0002/4"])
        #expect(report.tasks.retriedTasks == 3 && report.tasks.infrastructureFailures == 3)
        let state = try readJSON(run.store.layout.statePath)
        #expect(state["status"] == "finished")
        #expect(state["batches"]?.arrayValue?.allSatisfy { $0["status"] == "done" } == true)
    }

    @Test func exhaustedURLsGetOneIncompleteRecordSayingWhy() async throws {
        // Only the first URL ever gets a record (a failed page); the crawler dies every time.
        let backend = FakeBackend { launch in
            let first = "http://site.test/0001/1"
            return .run(records: launch.urls.contains(first) ? [first: false] : [:], end: LedgerTests.killed)
        }
        let run = try makeRun(batches: 1, size: 3, backend: backend, retries: 1)
        let report = await run.scheduler.execute()
        try everyURLOnce(run)
        let incomplete = try run.records().filter { $0.error?.kind == .incomplete }
        #expect(incomplete.count == 2)
        #expect(incomplete.first?.error?.message == "no result after 2 attempts: crawler was killed (SIGKILL)")
        #expect(report.counts == RecordCounts(urls: 3, ok: 0, failed: 1, incomplete: 2))
        #expect(report.errors.map(\.kind).sorted() == ["http", "incomplete"])
    }

    @Test func aTaskPastMaxRunSecondsIsStoppedAndItsURLsRetried() async throws {
        let clock = TestClock()
        // The first attempt hangs after one record; the retry finishes.
        let backend = FakeBackend { launch in
            launch.attempt == 1
                ? .run(records: [launch.urls[0]: true], untilStopped: true)
                : .run(records: Dictionary(uniqueKeysWithValues: launch.urls.map { ($0, true) }))
        }
        // The deadline counts from the launch the scheduler saw (its clock then): the clock must not
        // move before that, or the deadline would move with it.
        let started = Mutex(false)
        let run = try makeRun(
            batches: 1, size: 3, backend: backend, clock: clock, maxRunSeconds: 600,
            onEvent: { if case .taskStarted = $0 { started.withLock { $0 = true } } })
        let execution = Task { await run.scheduler.execute() }
        // Let the task start and the scheduler settle on a sleep, then pass the deadline.
        try #require(
            await eventually(timeout: .seconds(60)) { started.withLock { $0 } && clock.sleepers > 0 })
        #expect(backend.stopped.isEmpty)
        clock.advance(by: 599)
        #expect(backend.stopped.isEmpty)
        clock.advance(by: 2)
        let report = await execution.value
        #expect(backend.stopped == ["fake-task-0001-a1"], "the task past its deadline was stopped")
        #expect(report.status == .finished)
        try everyURLOnce(run)
        let first = report.ledger.attempt(batch: "0001", attempt: 1)
        #expect(first?.end?.reason == "ran longer than task.maxRunSeconds (600 s)")
        #expect(first?.stopRequested == .deadline(.maxRun(seconds: 600)))
        #expect(first.map { AttemptOutcome($0) } == .infrastructure, "a deadline stop is no stop of the user's")
        #expect(first?.end?.missing == 2 && report.tasks.retriedURLs == 2)
    }

    @Test func refusedLaunchesAreRetriedWithTheSameTokenAndLaunchOnce() async throws {
        let clock = TestClock()
        let backend = FakeBackend { launch in
            launch.earlierTries < 2
                ? .refuse(.retryLater("ThrottlingException: Rate exceeded"))
                : .run(records: Dictionary(uniqueKeysWithValues: launch.urls.map { ($0, true) }))
        }
        let run = try makeRun(batches: 1, size: 2, backend: backend, clock: clock, retries: 0)
        let execution = Task { await run.scheduler.execute() }
        // Two back-offs (1 s, then 2 s, ±20 %): move time until the launch is accepted.
        let launched = await eventually(timeout: .seconds(60)) {
            if clock.sleepers > 0 { clock.advance(by: 0.5) }
            return !backend.tasks.isEmpty
        }
        try #require(launched, "the launch was never accepted")
        let report = await execution.value
        #expect(backend.launchCalls == 3 && backend.tasks.count == 1)
        #expect(backend.tasks[0].token == "\(run.store.id)-0001-a1")
        #expect(report.tasks.relaunches == 2 && report.tasks.retriedTasks == 0, "no retry of the batch spent")
        try everyURLOnce(run)
    }

    @Test func aFatalLaunchErrorEndsTheRunWithARecordPerURL() async throws {
        let backend = FakeBackend { _ in
            .refuse(.fatal(RunFailure("AccessDeniedException: not authorized to perform ecs:RunTask")))
        }
        let run = try makeRun(batches: 3, size: 2, backend: backend, maxTasks: 1)
        let report = await run.scheduler.execute()
        #expect(report.status == .failed)
        #expect(report.ledger.failure?.message == "AccessDeniedException: not authorized to perform ecs:RunTask")
        #expect(backend.launchCalls == 1, "nothing more is launched")
        try everyURLOnce(run)
        #expect(report.counts.incomplete == 6)
    }

    /// Issue 22 item 5: a batch file that cannot be read back (here: overwritten while its
    /// launch was under way) fails the run naming the file, wherever the scheduler reads it — a
    /// refused launch, a relaunch after a back-off, a task's end. It once read as "no URL
    /// missing": the batch was marked done and its URLs lost without a record or a word.
    @Test(arguments: ["launch refused", "relaunch due", "task ended"])
    func anUnreadableBatchFileFailsTheRunNamingIt(_ site: String) async throws {
        let batchPath = Mutex<String?>(nil)
        let backend = FakeBackend { launch in
            if launch.earlierTries == 0, let path = batchPath.withLock({ $0 }) {
                _ = FileManager.default.createFile(atPath: path, contents: Data("{not json".utf8))
            }
            switch site {
            case "launch refused": return .refuse(.failedToStart("CannotPullContainerError"))
            case "relaunch due":
                return launch.earlierTries == 0
                    ? .refuse(.retryLater("ThrottlingException: Rate exceeded"))
                    : .run(records: [:])
            default: return .run(records: [launch.urls[0]: true], end: LedgerTests.killed)
            }
        }
        let run = try makeRun(batches: 1, size: 2, backend: backend, maxTasks: 1)
        let path = run.store.batchPath("0001", attempt: 1)
        batchPath.withLock { $0 = path }
        // The system clock: the one back-off ("relaunch due") is a second; no test loop spins.
        let report = await run.scheduler.execute()
        #expect(report.status == .failed)
        #expect(report.ledger.failure?.message == "cannot read the batch file \(path)")
        #expect(backend.launchCalls == 1, "nothing launched once the run failed")
        let state = try readJSON(run.store.layout.statePath)
        #expect(state["status"] == "failed")
        #expect(state["batches"]?.arrayValue?.first?["status"] == "failed", "the batch is not done: resume takes it up")
        #expect(
            report.problems.contains("batch 0001: no incomplete records written: cannot read the batch file \(path)"),
            "\(report.problems)")
    }

    @Test func interruptStopsEveryTaskAndRecordsEveryURL() async throws {
        let backend = FakeBackend { launch in .run(records: [launch.urls[0]: true], untilStopped: true) }
        let run = try makeRun(batches: 4, size: 3, backend: backend, maxTasks: 2)
        let execution = Task { await run.scheduler.execute() }
        try #require(await eventually(timeout: .seconds(60)) { backend.running >= 2 })
        run.scheduler.interrupt("SIGINT")
        let report = await execution.value
        #expect(report.status == .interrupted)
        #expect(Set(backend.stopped) == ["fake-task-0001-a1", "fake-task-0002-a1"])
        #expect(backend.tasks.count == 2, "nothing launched after the interrupt")
        try everyURLOnce(run)
        #expect(report.counts == RecordCounts(urls: 12, ok: 2, failed: 0, incomplete: 10))
        let state = try readJSON(run.store.layout.statePath)
        #expect(state["status"] == "interrupted")
    }

    /// Issue 19 item 8b: tasks whose stop is never seen (a StopTask that does nothing, an ECS
    /// that no longer answers) do not hold the run: it ends after its wind-down, or at once on a
    /// second signal, naming the tasks `resume` will find.
    @Test(arguments: ["wind-down", "second signal"])
    func aStopNeverSeenDoesNotHoldTheRun(_ how: String) async throws {
        let backend = DeafBackend(FakeBackend { launch in .run(records: [:], untilStopped: true) })
        let run = try makeRun(batches: 2, size: 2, backend: backend, maxTasks: 2)
        let scheduler = run.scheduler
        await scheduler.setWindDown(how == "wind-down" ? 0.5 : 3600)
        let execution = Task { await scheduler.execute() }
        try #require(await eventually(timeout: .seconds(60)) { backend.inner.running >= 2 })
        let started = ContinuousClock.now
        scheduler.interrupt("SIGTERM")
        if how == "second signal" {
            try await Task.sleep(for: .milliseconds(200))
            scheduler.interrupt("SIGTERM")
        }
        let report = await execution.value
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(report.status == .interrupted)
        #expect(
            report.problems.contains {
                $0.contains("2 tasks not seen stopped (`crawlrun resume` adopts or collects them)")
            },
            "\(report.problems)")
        try everyURLOnce(run)
    }

    @Test func theTokenIsOnDiskBeforeTheLaunchAndObservesAreBatched() async throws {
        let seen = LineBox()
        let statePath = Mutex<String?>(nil)
        let backend = FakeBackend(onLaunch: { launch in
            let path = statePath.withLock { $0 } ?? ""
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            seen.append(text.contains("\"\(launch.token)\"") ? "on disk" : "missing \(launch.token)")
        }) { launch in
            .run(records: Dictionary(uniqueKeysWithValues: launch.urls.map { ($0, true) }), untilStopped: false)
        }
        let run = try makeRun(batches: 30, size: 1, backend: backend, maxTasks: 30)
        statePath.withLock { $0 = run.store.layout.statePath }
        let report = await run.scheduler.execute()
        #expect(report.status == .finished)
        #expect(
            seen.all.count == 30 && seen.all.allSatisfy { $0 == "on disk" }, "\(seen.all.filter { $0 != "on disk" })")
        #expect(backend.largestObserve > 1, "one observe asks about every live task")
        #expect(run.store.stateWrites < 30, "state writes are debounced (\(run.store.stateWrites) for 30 launches)")
    }
}

/// A backend whose StopTask does nothing: its tasks are never seen to stop.
final class DeafBackend: TaskBackend {
    let inner: FakeBackend
    init(_ inner: FakeBackend) { self.inner = inner }
    var name: String { inner.name }
    var pollIntervals: PollIntervals { PollIntervals(fast: .milliseconds(50), steady: .milliseconds(50)) }
    func prepare(run: RunContext) async throws(RunFailure) { try await inner.prepare(run: run) }
    func locations(run: RunContext, batch: String, attempt: Int) -> TaskLocations {
        inner.locations(run: run, batch: batch, attempt: attempt)
    }
    func putBatch(_ bytes: [UInt8], at location: String) async throws(RunFailure) {
        try await inner.putBatch(bytes, at: location)
    }
    func launch(_ launch: TaskLaunch) async throws(LaunchError) -> String { try await inner.launch(launch) }
    func observe(_ tasks: [String]) async -> [String: TaskPhase] { await inner.observe(tasks) }
    func stop(task: String, reason: String) async throws(RunFailure) {}
    func readResults(at location: String) async throws(RunFailure) -> [UInt8]? {
        try await inner.readResults(at: location)
    }
}
