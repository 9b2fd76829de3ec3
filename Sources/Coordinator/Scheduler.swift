import CrawlKit
import Foundation
import JSONKit

/// A batch of the plan, already written to the run directory.
public struct PlannedBatch: Sendable {
    public var id: String
    public var urls: Int
}

/// What the scheduler tells the display as a run goes on.
public enum RunEvent: Sendable {
    case taskStarted(batch: String, attempt: Int, task: String)
    case taskEnded(TaskReport)
    /// Merged result lines, as appended to results.jsonl.
    case records([UInt8])
}

/// One task as the report shows it.
public struct TaskReport: Sendable {
    public var task: String
    public var batch: String
    public var attempt: Int
    public var urls: Int
    public var records: Int
    public var missing: Int
    public var end: TaskEnd
    public var startedAt: String
    public var seconds: Double
    /// Why the task counts as an infrastructure failure (nil when it did its job).
    public var infrastructureProblem: String?
}

/// Counts for the display, the state file and the summary.
public struct RunCounts: Sendable {
    public var urls = 0
    public var ok = 0
    public var failed = 0
    public var incomplete = 0
    public var running = 0
    public var batchesDone = 0
    public var batches = 0
    public var tasksStarted = 0
    public var retriedTasks = 0
    public var retriedURLs = 0
    public var infrastructureFailures = 0
    public var recorded: Int { ok + failed + incomplete }
}

public enum RunStatus: String, Sendable { case running, finished, interrupted, failed }

/// Launches at most `maxTasks` tasks at once, one per batch attempt; reads each finished task's
/// results against its batch; sends the URLs that got no record back as a new attempt holding only
/// those, up to `retries` times; writes the merged results and the state as it goes.
public actor Scheduler {
    public struct Options: Sendable {
        public var maxTasks: Int
        public var retries: Int
        public var maxRunSeconds: Double
        public init(maxTasks: Int, retries: Int, maxRunSeconds: Double) {
            self.maxTasks = maxTasks
            self.retries = retries
            self.maxRunSeconds = maxRunSeconds
        }
    }

    let run: RunContext
    let backend: any TaskBackend
    let store: RunStore
    let options: Options
    let onEvent: @Sendable (RunEvent) -> Void
    private let interruptReason = OnceValue<String>()

    private struct Attempt: Sendable {
        var batch: String
        var attempt: Int
        var urls: Int
    }
    private struct Track {
        var id: String
        var urls: Int
        var status = "pending"
        var recorded = Set<String>()
        var attempts: [JSONValue] = []
        var ok = 0
        var failed = 0
        var incomplete = 0
        var seconds = 0.0
    }
    private var order: [String] = []
    private var tracks: [String: Track] = [:]
    private var running: [String: (task: String, out: String)] = [:]
    private var counts = RunCounts()
    private var errorKinds: [String: (count: Int, example: String)] = [:]
    private var tasks: [TaskReport] = []
    private var status = RunStatus.running
    private let startedAt = Timestamp.now()
    private let clock = ContinuousClock.now

    public init(
        run: RunContext, backend: any TaskBackend, store: RunStore, options: Options,
        onEvent: @escaping @Sendable (RunEvent) -> Void = { _ in }
    ) {
        self.run = run
        self.backend = backend
        self.store = store
        self.options = options
        self.onEvent = onEvent
    }

    /// Stops the run: no more launches, every running task asked to stop. Safe to call twice.
    public nonisolated func interrupt(_ reason: String) {
        guard interruptReason.set(reason) else { return }
        Task { await self.stopAll(reason) }
    }

    private func stopAll(_ reason: String) async {
        for (_, r) in running { await backend.stop(task: r.task, reason: reason) }
    }

    public func snapshot() async -> (counts: RunCounts, live: Int, elapsed: Duration) {
        var live = 0
        for (_, r) in running { live += await backend.recordsWritten(task: r.task, out: r.out) ?? 0 }
        return (counts, live, ContinuousClock.now - clock)
    }

    /// Runs every batch to the end (or the interrupt); returns the final status.
    public func execute(_ batches: [PlannedBatch]) async throws(RunFailure) -> RunStatus {
        for b in batches {
            order.append(b.id)
            tracks[b.id] = Track(id: b.id, urls: b.urls)
            counts.urls += b.urls
        }
        counts.batches = batches.count
        try writeState()
        try await backend.prepare(run: run)
        var queue = batches.map { Attempt(batch: $0.id, attempt: 1, urls: $0.urls) }
        var failure: RunFailure?
        await withTaskGroup(of: AttemptResult.self) { group in
            var inFlight = 0
            while true {
                while inFlight < max(1, options.maxTasks), !queue.isEmpty, interruptReason.value == nil {
                    let next = queue.removeFirst()
                    tracks[next.batch]?.status = "running"
                    inFlight += 1
                    group.addTask { await self.runAttempt(next) }
                }
                guard let result = await group.next() else { break }
                inFlight -= 1
                do throws(RunFailure) {
                    if let more = try await finish(result) { queue.append(more) }
                } catch {
                    // The run cannot record results: stop what runs, keep what is on disk.
                    if failure == nil { failure = error }
                    interrupt("the run failed: \(error)")
                }
            }
        }
        if let failure {
            status = .failed
            try? writeState()
            throw failure
        }
        if let reason = interruptReason.value {
            status = .interrupted
            try await closeUnfinished(reason: "run interrupted (\(reason)) before this URL was crawled")
        } else {
            status = .finished
        }
        try writeState()
        return status
    }

    private struct AttemptResult: Sendable {
        var attempt: Attempt
        var task: String?
        var end: TaskEnd
        var results: [UInt8]?
        var startedAt: String
        var seconds: Double
    }

    /// One task: put its batch, start it, watch it (stopping it past `maxRunSeconds`), read what
    /// it wrote.
    private func runAttempt(_ a: Attempt) async -> AttemptResult {
        let startedAt = Timestamp.now()
        let t0 = ContinuousClock.now
        let where_ = backend.locations(run: run, batch: a.batch, attempt: a.attempt)
        func failed(_ reason: String, task: String? = nil) -> AttemptResult {
            AttemptResult(
                attempt: a, task: task, end: TaskEnd(stopCode: .taskFailedToStart, reason: reason), results: nil,
                startedAt: startedAt, seconds: (ContinuousClock.now - t0).seconds)
        }
        let launch = TaskLaunch(
            batch: a.batch, attempt: a.attempt, taskDefinition: run.taskDefinition,
            overrides: TaskDefinition.overrides(batchLocation: where_.batch, outLocation: where_.out),
            locations: where_, logDirectory: store.logsPath + "/" + a.batch)
        let taskID: String
        do {
            guard let bytes = FileManager.default.contents(atPath: store.batchPath(a.batch, attempt: a.attempt)) else {
                return failed("the batch file \(store.batchPath(a.batch, attempt: a.attempt)) is missing")
            }
            try await backend.putBatch([UInt8](bytes), at: where_.batch)
            taskID = try await backend.start(launch)
        } catch {
            return failed(error.description)
        }
        running[a.batch] = (taskID, where_.out)
        counts.running = running.count
        counts.tasksStarted += 1
        onEvent(.taskStarted(batch: a.batch, attempt: a.attempt, task: taskID))
        try? writeState()
        if let reason = interruptReason.value { await backend.stop(task: taskID, reason: reason) }
        let limit = options.maxRunSeconds
        let watchdog = Task { [backend] in
            try await Task.sleep(for: .milliseconds(Int64(limit * 1000)))
            await backend.stop(task: taskID, reason: "ran longer than task.maxRunSeconds (\(Int(limit)) s)")
        }
        let end = await backend.wait(task: taskID)
        watchdog.cancel()
        let results: [UInt8]?
        do {
            results = try await backend.readResults(at: where_.out)
        } catch {
            results = nil
        }
        await backend.collectLogs(task: taskID, into: launch.logDirectory)
        running[a.batch] = nil
        counts.running = running.count
        return AttemptResult(
            attempt: a, task: taskID, end: end, results: results, startedAt: startedAt,
            seconds: (ContinuousClock.now - t0).seconds)
    }

    /// Merges a finished attempt; returns the retry attempt when URLs are missing.
    private func finish(_ r: AttemptResult) async throws(RunFailure) -> Attempt? {
        let a = r.attempt
        guard var track = tracks[a.batch] else { return nil }
        let urls = try batchURLs(a.batch, attempt: a.attempt)
        let wanted = Set(urls)
        var merged: [UInt8] = []
        var accepted = 0
        let decoder = JSONDecoder()
        for line in (r.results ?? []).split(separator: 10) {
            // A line cut short by a killed crawler is not a record; its URL counts as missing.
            guard let record = try? decoder.decode(ResultRecord.self, from: Data(line)),
                wanted.contains(record.url), track.recorded.insert(record.url).inserted
            else { continue }
            accepted += 1
            merged += record.jsonLine()
            if record.ok {
                track.ok += 1
                counts.ok += 1
            } else {
                track.failed += 1
                counts.failed += 1
                if let kind = record.error?.kind.rawValue {
                    errorKinds[kind, default: (0, record.url)].count += 1
                }
            }
        }
        let missing = urls.filter { !track.recorded.contains($0) }
        let problem = Self.infrastructureProblem(r.end, missing: missing.count)
        if problem != nil { counts.infrastructureFailures += 1 }
        let report = TaskReport(
            task: r.task ?? "-", batch: a.batch, attempt: a.attempt, urls: urls.count, records: accepted,
            missing: missing.count, end: r.end, startedAt: r.startedAt, seconds: r.seconds,
            infrastructureProblem: problem)
        tasks.append(report)
        track.attempts.append(Self.json(report))
        track.seconds += r.seconds
        var retry: Attempt?
        if !missing.isEmpty && interruptReason.value == nil {
            if a.attempt <= options.retries {
                let next = Attempt(batch: a.batch, attempt: a.attempt + 1, urls: missing.count)
                try writeBatch(a.batch, attempt: next.attempt, urls: missing)
                counts.retriedTasks += 1
                counts.retriedURLs += missing.count
                track.status = "retrying"
                retry = next
            } else {
                let why = "no result after \(a.attempt) attempt\(a.attempt == 1 ? "" : "s"): \(problem ?? r.end.reason)"
                for url in missing {
                    merged += Self.incompleteRecord(url, batch: a.batch, attempts: a.attempt, message: why)
                    track.recorded.insert(url)
                }
                track.incomplete += missing.count
                counts.incomplete += missing.count
                errorKinds[ErrorKind.incomplete.rawValue, default: (0, missing[0])].count += missing.count
            }
        }
        if retry == nil && (missing.isEmpty || interruptReason.value == nil) {
            track.status = track.incomplete > 0 ? "exhausted" : "done"
            track.recorded = []
            counts.batchesDone += 1
        }
        tracks[a.batch] = track
        if !merged.isEmpty {
            try store.appendResults(merged)
            onEvent(.records(merged))
        }
        onEvent(.taskEnded(report))
        try writeState()
        return retry
    }

    /// After an interrupt: every URL still without a record gets one saying so.
    private func closeUnfinished(reason: String) async throws(RunFailure) {
        for id in order {
            guard var track = tracks[id], track.status != "done", track.status != "exhausted" else { continue }
            var merged: [UInt8] = []
            for url in try batchURLs(id, attempt: 1) where !track.recorded.contains(url) {
                merged += Self.incompleteRecord(url, batch: id, attempts: track.attempts.count, message: reason)
                track.incomplete += 1
                counts.incomplete += 1
            }
            track.status = "interrupted"
            track.recorded = []
            tracks[id] = track
            if !merged.isEmpty {
                try store.appendResults(merged)
                onEvent(.records(merged))
            }
        }
    }

    static func incompleteRecord(_ url: String, batch: String, attempts: Int, message: String) -> [UInt8] {
        ResultRecord(
            url: url, ok: false, error: RecordError(kind: .incomplete, message: message), attempts: attempts,
            batch: batch, startedAt: Timestamp.now(), ms: 0
        ).jsonLine()
    }

    /// Why a task counts as an infrastructure failure, in words; nil when it did its job.
    static func infrastructureProblem(_ end: TaskEnd, missing: Int) -> String? {
        if end.stopCode == .taskFailedToStart { return "task failed to start: \(end.reason)" }
        let crawler = end.exitCode(of: TaskDefinition.crawlerName)
        if end.stopCode == .essentialContainerExited, crawler == 0, missing == 0 { return nil }
        if let code = crawler, code != 0 {
            return "crawler \(crawlerExitMeaning(code))" + (end.stopCode == .userInitiated ? " (\(end.reason))" : "")
        }
        if missing > 0 { return "\(end.reason); \(missing) URL\(missing == 1 ? "" : "s") without a record" }
        return end.stopCode == .essentialContainerExited ? nil : end.reason
    }

    /// The crawler's exit codes (README, "The crawler"), and 128+n for a signal.
    static func crawlerExitMeaning(_ code: Int32) -> String {
        switch code {
        case 65: return "exited 65: bad batch input"
        case 69: return "exited 69: the WebDriver sidecar never became ready"
        case 70: return "exited 70: internal error"
        case 73: return "exited 73: results could not be written"
        case 75: return "exited 75: stopped before finishing its batch"
        case 137: return "was killed (SIGKILL)"
        case 143: return "was terminated (SIGTERM)"
        case let c where c > 128: return "was killed by signal \(c - 128)"
        default: return "exited \(code)"
        }
    }

    // MARK: - Files

    private func batchURLs(_ batch: String, attempt: Int) throws(RunFailure) -> [String] {
        let path = store.batchPath(batch, attempt: attempt)
        guard let data = FileManager.default.contents(atPath: path),
            let file = try? JSONDecoder().decode(BatchFile.self, from: data)
        else { throw RunFailure("cannot read the batch file \(path)") }
        return file.urls
    }

    private func writeBatch(_ batch: String, attempt: Int, urls: [String]) throws(RunFailure) {
        let file = BatchFile(batch: batch, urls: urls, crawl: run.job.crawl)
        let data: Data
        do {
            data = try JSONEncoder().encode(file)
        } catch {
            throw RunFailure("cannot encode batch \(batch)", cause: "\(error)")
        }
        try store.writeAtomically("batches/\(batch).a\(attempt).json", [UInt8](data))
    }

    // MARK: - State and report

    static func json(_ t: TaskReport) -> JSONValue {
        var exits: [String: JSONValue] = [:]
        for c in t.end.containers { exits[c.name] = c.exitCode.map { .number(Double($0)) } ?? .null }
        return [
            "task": .string(t.task), "batch": .string(t.batch), "attempt": .number(Double(t.attempt)),
            "urls": .number(Double(t.urls)), "records": .number(Double(t.records)),
            "missing": .number(Double(t.missing)), "stopCode": .string(t.end.stopCode.rawValue),
            "reason": .string(t.end.reason), "exitCodes": .object(exits), "startedAt": .string(t.startedAt),
            "seconds": .number((t.seconds * 1000).rounded() / 1000),
            "infrastructureProblem": t.infrastructureProblem.map { .string($0) } ?? .null,
        ]
    }

    private func countsJSON() -> JSONValue {
        [
            "urls": .number(Double(counts.urls)), "ok": .number(Double(counts.ok)),
            "failed": .number(Double(counts.failed)), "incomplete": .number(Double(counts.incomplete)),
        ]
    }

    private func writeState() throws(RunFailure) {
        let batches: [JSONValue] = order.compactMap { id in
            guard let t = tracks[id] else { return nil }
            return [
                "id": .string(id), "urls": .number(Double(t.urls)), "status": .string(t.status),
                "attempts": .array(t.attempts), "running": running[id].map { .string($0.task) } ?? .null,
            ]
        }
        try store.writeJSON(
            "state.json",
            [
                "run": .string(run.id), "job": .string(run.job.name), "backend": .string(backend.name),
                "status": .string(status.rawValue), "startedAt": .string(startedAt),
                "updatedAt": .string(Timestamp.now()), "counts": countsJSON(), "batches": .array(batches),
            ])
    }

    /// report.json: counts, timings per batch and task, the error kinds seen, pages/s, and what
    /// the task time would have cost on Fargate.
    public func report() -> (
        json: JSONValue, counts: RunCounts, errors: [(kind: String, count: Int, example: String)], seconds: Double
    ) {
        let seconds = (ContinuousClock.now - clock).seconds
        let crawled = counts.ok + counts.failed
        let errors = errorKinds.map { (kind: $0.key, count: $0.value.count, example: $0.value.example) }
            .sorted { ($0.count, $1.kind) > ($1.count, $0.kind) }
        let price = Estimate.pricePerSecond(run.job.task)
        let cost = tasks.reduce(0.0) { $0 + max(60, $1.seconds) * price }
        let json: JSONValue = [
            "run": .string(run.id), "job": .string(run.job.name), "backend": .string(backend.name),
            "status": .string(status.rawValue), "startedAt": .string(startedAt), "finishedAt": .string(Timestamp.now()),
            "seconds": .number((seconds * 1000).rounded() / 1000), "counts": countsJSON(),
            "pagesPerSecond": .number(seconds > 0 ? (Double(crawled) / seconds * 100).rounded() / 100 : 0),
            "errors": .object(
                Dictionary(
                    uniqueKeysWithValues: errors.map {
                        ($0.kind, ["count": .number(Double($0.count)), "example": .string($0.example)] as JSONValue)
                    })),
            "tasks": [
                "started": .number(Double(counts.tasksStarted)), "retries": .number(Double(counts.retriedTasks)),
                "retriedURLs": .number(Double(counts.retriedURLs)),
                "infrastructureFailures": .number(Double(counts.infrastructureFailures)),
                "list": .array(tasks.map(Self.json)),
            ],
            "batches": .array(
                order.compactMap { id in
                    guard let t = tracks[id] else { return nil }
                    return [
                        "id": .string(id), "urls": .number(Double(t.urls)), "status": .string(t.status),
                        "ok": .number(Double(t.ok)), "failed": .number(Double(t.failed)),
                        "incomplete": .number(Double(t.incomplete)), "attempts": .number(Double(t.attempts.count)),
                        "seconds": .number((t.seconds * 1000).rounded() / 1000),
                    ]
                }),
            "fargateCostEstimateUSD": .number((cost * 10000).rounded() / 10000),
        ]
        return (json, counts, errors, seconds)
    }
}

extension Duration {
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
