import CrawlKit
import Foundation

/// What the scheduler tells the display as a run goes on.
public enum RunEvent: Sendable {
    case taskStarted(batch: String, attempt: Int, task: String)
    /// A task attempt ended (with the ledger's account of it), and the run's `task.retries`.
    case taskEnded(batch: String, attempt: BatchLedger.Attempt, retries: Int)
    /// Merged result lines, as appended to results.jsonl.
    case records([UInt8])
    /// Something a user should know that is not a task's end (a relaunch, a stop that failed).
    case note(String)
}

/// The driver around `BatchLedger`: it does the I/O the ledger's actions ask for — batch files,
/// launches, stops, one `observe` per poll for every live task, reading results and logs — and
/// feeds what happened back to the ledger as events. One loop handles one event at a time, so the
/// ledger needs no lock; the slow work (launches, collections, back-offs) runs in child tasks.
public actor Scheduler {
    let run: RunContext
    let backend: any TaskBackend
    let store: RunStore
    let clock: any RunClock
    let onEvent: @Sendable (RunEvent) -> Void
    let owner: RunOwner?
    private var ledger: BatchLedger
    private var merger: ResultMerger
    private let interruptSignal = OnceValue<String>()
    /// A second signal, or a wind-down that took too long: the run ends now, leaving the tasks
    /// not yet stopped to `resume` (README, "Stopping a run").
    private let abandonSignal = OnceValue<String>()
    /// How long a failed or interrupted run may take to stop and collect its tasks before it
    /// ends anyway: the tasks' stop timeout, ECS's own stopping, and the log tail.
    public var windDown: Double
    private var windingDown = false
    /// Set when the run begins to end: back-offs waiting to relaunch stop waiting.
    private let endingSignal = OnceValue<String>()
    private var abandoned: String?
    private let startedAt: String
    /// The run's first start, when this is a resume (state.json keeps it; `runs` shows both).
    private let firstStartedAt: String?
    private let startTime: Double
    private var problems: [String] = []
    private var status = RunStatus.running
    private var lastChange: Double
    private var lostContact: Set<String> = []
    private var collecting = 0
    /// Per live attempt (`batch/aN`), what was merged while it ran: the offset read up to in its
    /// results, and the records (and failed ones) merged from them.
    private var streamed: [String: (offset: Int, records: Int, failed: Int)] = [:]
    /// How often a running task's results are read (`TaskBackend.streamsResults`).
    static let tailInterval: Duration = .milliseconds(100)
    /// Figures for the benchmark: observe calls, and when the last task was seen stopped.
    public private(set) var observeCalls = 0
    public private(set) var lastStopSeenAt: Double?

    public init(
        run: RunContext, backend: any TaskBackend, store: RunStore, ledger: BatchLedger, merger: ResultMerger,
        clock: any RunClock = SystemClock(), owner: RunOwner? = nil, firstStartedAt: String? = nil,
        onEvent: @escaping @Sendable (RunEvent) -> Void = { _ in }
    ) {
        self.owner = owner
        self.firstStartedAt = firstStartedAt
        self.run = run
        self.backend = backend
        self.store = store
        self.ledger = ledger
        self.merger = merger
        self.clock = clock
        self.onEvent = onEvent
        startTime = clock.now()
        lastChange = startTime
        startedAt = Timestamp.format(epochSeconds: startTime)
        windDown = Double(run.job.task.stopTimeout) + 60
    }

    /// Stops the run: no more launches, every running task asked to stop. A second call ends
    /// the run at once, whatever it waits for (a second Ctrl-C).
    public nonisolated func interrupt(_ reason: String) {
        if !interruptSignal.set(reason) { abandonSignal.set("a second \(reason)") }
    }

    public func setWindDown(_ seconds: Double) { windDown = seconds }

    /// Counts for the progress line, and the records written so far by running tasks.
    public func snapshot() async -> (
        counts: RecordCounts, tasks: BatchLedger.Counts, running: Int, live: Int, elapsed: Double
    ) {
        let tasks = ledger.liveTasks
        var live = 0
        for t in tasks {
            let out = backend.locations(run: run, batch: t.batch, attempt: t.attempt).out
            let written = await backend.recordsWritten(task: t.task, out: out) ?? 0
            // Those already merged are in the merger's counts.
            live += max(0, written - (streamed[Self.key(t.batch, t.attempt)]?.records ?? 0))
        }
        return (merger.counts, ledger.counts, tasks.count, live, clock.now() - startTime)
    }

    private enum Event: Sendable {
        case launched(LaunchOrder, String)
        case launchFailed(LaunchOrder, LaunchError)
        case launchDue(LaunchOrder)
        case observed([String: TaskPhase], asked: [String])
        case collected(batch: String, attempt: Int, end: TaskEnd, results: [UInt8]?, problems: [String])
        /// New bytes of running tasks' results.
        case tailed([Tail])
        case stopFailed(String)
        case interrupt(String)
        case abandon(String)
    }

    /// Runs every batch to the end (or the interrupt, or a fatal error) and returns the report.
    /// `resuming`: the ledger and the merger were read back from a run directory; the backend is
    /// asked what it still knows of the run's tasks, and the run goes on from there.
    public func execute(resuming: Bool = false) async -> RunReport {
        store.setStateSource { await self.state() }
        saveState(.running)
        // Preparing (and, on resume, asking the backend what it still knows) races the
        // interrupt: a signal during a call that keeps failing ends the run at once.
        let backend = self.backend
        let run = self.run
        let signal = interruptSignal
        let prepared = await firstOf([
            { @Sendable () async -> Prepared? in
                do throws(RunFailure) {
                    try await backend.prepare(run: run)
                    return .ready(resuming ? try await backend.reattach(run: run) : [])
                } catch {
                    return .failed(error)
                }
            },
            { @Sendable () async -> Prepared? in await signal.wait().map { .interrupted($0) } },
        ])
        var first: [LedgerAction] = []
        switch prepared {
        case .ready(let known)?:
            if resuming {
                do throws(RunFailure) {
                    var unrecorded: [String: [String]] = [:]
                    for b in ledger.batches where b.status == .interrupted || b.status == .failed {
                        unrecorded[b.id] = merger.unrecorded(batch: b.id, of: try store.batchURLs(b.id, attempt: 1))
                    }
                    first = ledger.resume(known: known, unrecorded: unrecorded, now: clock.now())
                    onEvent(.note(Self.describe(resumed: known)))
                } catch {
                    first = ledger.fail(error)
                }
            } else {
                first = ledger.start()
            }
        case .failed(let error)?:
            // On resume the tasks state.json names may still run: the failure stops them.
            first = ledger.fail(error)
        case .interrupted(let reason)?:
            first = ledger.interrupt(reason ?? "interrupted")
        case nil:
            first = ledger.interrupt("interrupted")
        }
        let abandon = abandonSignal
        await withTaskGroup(of: Event?.self) { group in
            group.addTask { await signal.wait().map { .interrupt($0) } }
            group.addTask { await abandon.wait().map { .abandon($0) } }
            perform(first, group: &group)
            addPoller(&group)
            if backend.streamsResults { addTailer(&group) }
            windDownIfEnding(&group)
            while !ledger.isIdle || collecting > 0 {
                guard let next = await group.next() else { break }
                guard let event = next else { continue }
                if case .abandon(let why) = event {
                    abandoned = why
                    break
                }
                handle(event, group: &group)
                windDownIfEnding(&group)
            }
            group.cancelAll()
        }
        if let abandoned {
            let left = ledger.liveTasks.map(\.task)
            let message =
                "\(abandoned): the run ends now"
                + (left.isEmpty
                    ? ""
                    : "; \(left.count) task\(left.count == 1 ? "" : "s") not seen stopped (`crawlrun resume` adopts or collects them): "
                        + left.joined(separator: ", "))
            problems.append(message)
            onEvent(.note(message))
            if ledger.runPhase == .running { _ = ledger.interrupt(abandoned) }
        } else {
            // Bounded by the backend, and cut short by a second signal.
            _ = await firstOf([
                { @Sendable () async -> Bool? in
                    await backend.shutdown()
                    return true
                },
                { @Sendable () async -> Bool? in await abandon.wait().map { _ in true } },
            ])
        }
        let closing = ledger.close()
        for id in closing.unfinished {
            let reason =
                switch ledger.runPhase {
                case .failed(let f, _): "the run failed before this URL was crawled: \(f)"
                case .interrupted(let why): "run interrupted (\(why)) before this URL was crawled"
                case .running: "run interrupted () before this URL was crawled"
                }
            closeBatch(id, reason: reason)
        }
        status = closing.status
        do {
            try store.flushState(state())
        } catch {
            problems.append(error.description)
        }
        let now = clock.now()
        return RunReport(
            run: run.id, job: run.job.name, backend: backend.name, status: closing.status, startedAt: startedAt,
            finishedAt: Timestamp.format(epochSeconds: now), seconds: now - startTime, merger: merger,
            ledger: ledger, task: run.job.task, problems: problems)
    }

    private enum Prepared: Sendable {
        case ready([KnownTask])
        case failed(RunFailure)
        case interrupted(String?)
    }

    /// Once the run has failed or was interrupted, it has `windDown` seconds to stop and collect
    /// its tasks; then it ends anyway (a task whose stop is never seen must not hold it for ever).
    private func windDownIfEnding(_ group: inout TaskGroup<Event?>) {
        guard !windingDown, let stop = ledger.runPhase.stop else { return }
        windingDown = true
        endingSignal.set(stop.description)
        let clock = self.clock
        let seconds = windDown
        group.addTask {
            do {
                try await clock.sleep(for: seconds)
            } catch {
                return nil
            }
            return .abandon("still stopping \(Int(seconds)) s after the run began to end")
        }
    }

    // MARK: - Events

    private func handle(_ event: Event, group: inout TaskGroup<Event?>) {
        let now = clock.now()
        switch event {
        case .launched(let order, let task):
            lastChange = now
            onEvent(.taskStarted(batch: order.batch, attempt: order.attempt, task: task))
            perform(ledger.launched(batch: order.batch, attempt: order.attempt, task: task, now: now), group: &group)
            saveState(.running)
        case .launchFailed(let order, let error):
            lastChange = now
            if case .retryLater(let why) = error {
                onEvent(.note("batch \(order.batch) attempt \(order.attempt): launch refused (\(why)); trying again"))
            }
            let urls = attemptURLs(order.batch, order.attempt, group: &group)
            perform(
                ledger.launchFailed(batch: order.batch, attempt: order.attempt, error: error, urls: urls, now: now),
                group: &group)
            finishIfDone(order.batch)
            saveState(.running)
        case .launchDue(let order):
            let urls = attemptURLs(order.batch, order.attempt, group: &group)
            perform(ledger.launchDue(batch: order.batch, attempt: order.attempt, urls: urls, now: now), group: &group)
            finishIfDone(order.batch)
        case .observed(let phases, let asked):
            observeCalls += 1
            observed(phases, asked: asked, now: now, group: &group)
            perform(ledger.tick(now: now), group: &group)
            addPoller(&group)
        case .collected(let batch, let attempt, let end, let results, let found):
            collecting -= 1
            lastChange = now
            problems += found
            for p in found { onEvent(.note(p)) }
            ended(batch: batch, attempt: attempt, end: end, results: results, now: now, group: &group)
        case .tailed(let tails):
            for t in tails { mergeRunning(t, group: &group) }
            addTailer(&group)
        case .stopFailed(let message):
            problems.append(message)
            onEvent(.note(message))
        case .interrupt(let reason):
            perform(ledger.interrupt(reason), group: &group)
            saveState(.running)
        case .abandon:
            break  // handled by the loop
        }
    }

    private func observed(_ phases: [String: TaskPhase], asked: [String], now: Double, group: inout TaskGroup<Event?>) {
        let live = Dictionary(ledger.liveTasks.map { ($0.task, ($0.batch, $0.attempt)) }) { a, _ in a }
        for task in asked {
            guard let (batch, attempt) = live[task], let phase = phases[task] else { continue }
            if case .lostContact = phase {
            } else if lostContact.remove(task) != nil {
                onEvent(.note("task \(task): in contact again"))
            }
            switch phase {
            case .starting:
                break
            case .running:
                if ledger.attempt(batch: batch, attempt: attempt)?.phase == .starting { lastChange = now }
                ledger.observed(batch: batch, attempt: attempt, running: true, now: now)
            case .stopped(let end):
                collect(batch: batch, attempt: attempt, task: task, end: end, group: &group)
            case .missing:
                collect(
                    batch: batch, attempt: attempt, task: task,
                    end: TaskEnd(
                        stopCode: .unknown,
                        reason: "the \(backend.name) backend no longer knows this task (MISSING)"),
                    group: &group)
            case .lostContact(let why):
                if lostContact.insert(task).inserted { onEvent(.note("task \(task): no answer about it (\(why))")) }
            }
        }
    }

    private func collect(batch: String, attempt: Int, task: String, end: TaskEnd, group: inout TaskGroup<Event?>) {
        ledger.stopped(batch: batch, attempt: attempt)
        lastChange = clock.now()
        lastStopSeenAt = lastChange
        collecting += 1
        let backend = self.backend
        let locations = backend.locations(run: run, batch: batch, attempt: attempt)
        let logs = run.layout.logDirectory(batch: batch)
        let store = self.store
        group.addTask {
            var problems: [String] = []
            var results: [UInt8]?
            do {
                results = try await backend.readResults(at: locations.out)
            } catch {
                problems.append("batch \(batch) attempt \(attempt): results not read: \(error)")
            }
            do {
                try await backend.collectLogs(task: task, into: logs)
                store.logsCollected(batch: batch)
            } catch {
                problems.append("batch \(batch) attempt \(attempt): logs not copied: \(error)")
            }
            return .collected(batch: batch, attempt: attempt, end: end, results: results, problems: problems)
        }
    }

    private func ended(
        batch: String, attempt: Int, end: TaskEnd, results: [UInt8]?, now: Double, group: inout TaskGroup<Event?>
    ) {
        let urls = attemptURLs(batch, attempt, group: &group)
        let out = backend.locations(run: run, batch: batch, attempt: attempt).out
        let merged = merger.merge(
            batch: batch, urls: urls ?? [], results: results, artifactBase: Self.artifactBase(resultsAt: out))
        append(merged.lines, group: &group)
        // Records merged while the task ran count for its attempt too.
        let before = streamed.removeValue(forKey: Self.key(batch, attempt)) ?? (0, 0, 0)
        perform(
            ledger.taskEnded(
                batch: batch, attempt: attempt, records: before.records + merged.records,
                failed: before.failed + merged.failed, missing: urls == nil ? nil : merged.missing, end: end,
                now: now),
            group: &group)
        if let a = ledger.attempt(batch: batch, attempt: attempt) {
            onEvent(.taskEnded(batch: batch, attempt: a, retries: ledger.options.retries))
        }
        finishIfDone(batch)
        saveState(.running)
    }

    /// The URLs of a batch attempt's file; nil when it cannot be read, which fails the run naming
    /// the file (taking it for "no URL missing" would mark the batch done and lose its URLs).
    private func attemptURLs(_ batch: String, _ attempt: Int, group: inout TaskGroup<Event?>) -> [String]? {
        do {
            return try store.batchURLs(batch, attempt: attempt)
        } catch {
            perform(ledger.fail(error), group: &group)
            return nil
        }
    }

    // MARK: - Actions

    private func perform(_ actions: [LedgerAction], group: inout TaskGroup<Event?>) {
        for action in actions { perform(action, group: &group) }
    }

    private func perform(_ action: LedgerAction, group: inout TaskGroup<Event?>) {
        switch action {
        case .launch(let order):
            launch(order, group: &group)
        case .relaunchAfter(let seconds, let order):
            let clock = self.clock
            let ending = endingSignal
            group.addTask {
                // ±20 % jitter: launches refused together do not come back together. A run that
                // ends stops waiting (the ledger then closes the attempt instead of launching it).
                let due = await firstOf([
                    { @Sendable () async -> Bool? in
                        (try? await clock.sleep(for: seconds * Double.random(in: 0.8...1.2))).map { true }
                    },
                    { @Sendable () async -> Bool? in await ending.wait().map { _ in true } },
                ])
                return due == nil ? nil : .launchDue(order)
            }
        case .stop(let task, let reason):
            let backend = self.backend
            group.addTask {
                do {
                    try await backend.stop(task: task, reason: reason)
                    return nil
                } catch {
                    return .stopFailed("task \(task) could not be stopped: \(error)")
                }
            }
        case .writeRetryBatch(let batch, let attempt, let urls):
            do {
                try store.writeBatch(BatchFile(batch: batch, urls: urls, crawl: run.job.crawl), attempt: attempt)
            } catch {
                perform(ledger.fail(error), group: &group)
            }
        case .giveUp(let batch, let attempt, let urls, let reason):
            giveUp(batch: batch, attempt: attempt, urls: urls, reason: reason, group: &group)
        case .collect(let batch, let attempt, let task, let end):
            collect(batch: batch, attempt: attempt, task: task, end: end, group: &group)
        }
    }

    private func giveUp(batch: String, attempt: Int, urls: [String], reason: String, group: inout TaskGroup<Event?>) {
        let lines = merger.giveUp(batch: batch, urls: urls, attempts: attempt, reason: reason).lines
        append(lines, group: &group)
    }

    private func append(_ lines: [UInt8], group: inout TaskGroup<Event?>) {
        guard !lines.isEmpty else { return }
        do {
            try store.appendResults(lines)
            onEvent(.records(lines))
        } catch {
            // The run cannot record results: stop what runs, keep what is on disk.
            perform(ledger.fail(error), group: &group)
        }
    }

    /// Puts the batch and launches it, once the ledger holding its token is on disk.
    private func launch(_ order: LaunchOrder, group: inout TaskGroup<Event?>) {
        saveState(.running)
        let store = self.store
        let backend = self.backend
        let run = self.run
        let locations = backend.locations(run: run, batch: order.batch, attempt: order.attempt)
        let launch = TaskLaunch(
            run: run.id, batch: order.batch, attempt: order.attempt, token: order.token,
            taskDefinition: run.taskDefinition,
            overrides: TaskDefinition.overrides(batchLocation: locations.batch, outLocation: locations.out),
            locations: locations, logDirectory: run.layout.logDirectory(batch: order.batch))
        group.addTask {
            do throws(RunFailure) {
                try await store.persist()
                let path = store.batchPath(order.batch, attempt: order.attempt)
                guard let bytes = FileManager.default.contents(atPath: path) else {
                    return .launchFailed(order, .fatal(RunFailure("the batch file \(path) is missing")))
                }
                try await backend.putBatch([UInt8](bytes), at: locations.batch)
            } catch {
                return .launchFailed(order, .fatal(error))
            }
            do throws(LaunchError) {
                return .launched(order, try await backend.launch(launch))
            } catch {
                return .launchFailed(order, error)
            }
        }
    }

    /// One child at a time polls: it waits for the interval (fast while tasks start and stop,
    /// steady otherwise, never past the next deadline) or a change the backend announces, then
    /// observes every live task in one call.
    private func addPoller(_ group: inout TaskGroup<Event?>) {
        let now = clock.now()
        let intervals = backend.pollIntervals
        let starting = ledger.liveTasks.contains {
            ledger.attempt(batch: $0.batch, attempt: $0.attempt)?.phase == .starting
        }
        let busy = starting || now - lastChange < intervals.steady.seconds * 2
        var wait = (busy ? intervals.fast : intervals.steady).seconds
        if let deadline = ledger.nextDeadline() { wait = max(0, min(wait, deadline - now)) }
        // An absolute deadline: the child may start sleeping after the clock has moved on.
        let until = now + wait
        let clock = self.clock
        let backend = self.backend
        group.addTask {
            let woke = await firstOf([
                { @Sendable in (try? await clock.sleep(until: until)).map { true } },
                { @Sendable in
                    await backend.changed()
                    return Task.isCancelled ? nil : true
                },
            ])
            guard woke != nil, !Task.isCancelled else { return nil }
            let asked = await self.liveTaskIDs()
            guard !asked.isEmpty else { return .observed([:], asked: []) }
            return .observed(await backend.observe(asked), asked: asked)
        }
    }

    private func liveTaskIDs() -> [String] { ledger.liveTasks.map(\.task) }

    /// New bytes of one running attempt's results.
    struct Tail: Sendable {
        var batch: String
        var attempt: Int
        var offset: Int
        var bytes: [UInt8]
    }

    static func key(_ batch: String, _ attempt: Int) -> String { "\(batch)/a\(attempt)" }

    /// Reads what the running tasks wrote since the last read, every `tailInterval`: each record
    /// is merged (results.jsonl, `crawl`'s standard output) as its page finishes, not when its
    /// task ends. Records come in the order pages finish, not the input order.
    private func addTailer(_ group: inout TaskGroup<Event?>) {
        let backend = self.backend
        let run = self.run
        group.addTask {
            do {
                try await Task.sleep(for: Self.tailInterval)
            } catch {
                return nil
            }
            var tails: [Tail] = []
            for t in await self.tailTargets() {
                let out = backend.locations(run: run, batch: t.batch, attempt: t.attempt).out
                guard let bytes = await backend.resultsSoFar(task: t.task, out: out, from: t.offset), !bytes.isEmpty
                else { continue }
                tails.append(Tail(batch: t.batch, attempt: t.attempt, offset: t.offset, bytes: bytes))
            }
            return .tailed(tails)
        }
    }

    private func tailTargets() -> [(batch: String, attempt: Int, task: String, offset: Int)] {
        ledger.liveTasks.map { ($0.batch, $0.attempt, $0.task, streamed[Self.key($0.batch, $0.attempt)]?.offset ?? 0) }
    }

    /// Merges the complete lines of a running attempt's new bytes. An attempt no longer running
    /// (being collected, or ended) is left to its collection, which merges its whole file.
    private func mergeRunning(_ t: Tail, group: inout TaskGroup<Event?>) {
        let key = Self.key(t.batch, t.attempt)
        guard ledger.liveTasks.contains(where: { $0.batch == t.batch && $0.attempt == t.attempt }),
            (streamed[key]?.offset ?? 0) == t.offset, let end = t.bytes.lastIndex(of: 10)
        else { return }
        guard let urls = try? store.batchURLs(t.batch, attempt: t.attempt) else { return }
        let out = backend.locations(run: run, batch: t.batch, attempt: t.attempt).out
        let merged = merger.merge(
            batch: t.batch, urls: urls, results: Array(t.bytes[...end]),
            artifactBase: Self.artifactBase(resultsAt: out))
        var s = streamed[key] ?? (0, 0, 0)
        s.offset += end + 1
        s.records += merged.records
        s.failed += merged.failed
        streamed[key] = s
        append(merged.lines, group: &group)
    }

    static func describe(resumed known: [KnownTask]) -> String {
        let running = known.filter {
            if case .running = $0.phase { true } else if case .starting = $0.phase { true } else { false }
        }
        return "resuming: the \(known.count == 1 ? "task" : "\(known.count) tasks") the backend still knew: "
            + "\(running.count) running (adopted), \(known.count - running.count) stopped (collected)"
    }

    // MARK: - State

    private func finishIfDone(_ batch: String) {
        guard let b = ledger.batches.first(where: { $0.id == batch }), b.status.isFinal else { return }
        merger.finished(batch: batch)
    }

    /// Every URL of a batch still without a record gets an `incomplete` one.
    private func closeBatch(_ id: String, reason: String) {
        let urls: [String]
        do {
            urls = try store.batchURLs(id, attempt: 1)
        } catch {
            problems.append("batch \(id): no incomplete records written: \(error)")
            return
        }
        let attempts = ledger.batches.first { $0.id == id }?.attempts.filter { $0.phase == .ended }.count ?? 0
        let (lines, n) = merger.giveUp(batch: id, urls: urls, attempts: attempts, reason: reason)
        ledger.gaveUp(batch: id, urls: n)
        merger.finished(batch: id)
        if !lines.isEmpty {
            do {
                try store.appendResults(lines)
                onEvent(.records(lines))
            } catch {
                problems.append(error.description)
            }
        }
    }

    /// The state changed (the writer takes a snapshot when it writes: `state()`).
    private func saveState(_ status: RunStatus) {
        self.status = status
        store.stateChanged()
    }

    /// Where the crawler's artifact paths (relative to its results file) start, seen from the run
    /// directory: the attempt results folder (`results/`) on the local and docker backends, whose
    /// results live in the run directory; the results object's folder for an `s3://` location.
    static func artifactBase(resultsAt out: String) -> String {
        if out.hasPrefix("s3://"), let slash = out.lastIndex(of: "/") { return String(out[...slash]) }
        return RunLayout.attemptResults + "/"
    }

    private func state() -> RunState {
        var state = RunState(
            run: run.id, job: run.job.name, backend: backend.name, status: status,
            startedAt: firstStartedAt ?? startedAt, updatedAt: Timestamp.now(), counts: merger.counts, ledger: ledger)
        state.resumedAt = firstStartedAt == nil ? nil : startedAt
        state.owner = status == .running ? owner : nil
        return state
    }
}

extension Duration {
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
