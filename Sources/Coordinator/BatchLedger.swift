import CrawlKit
import JSONKit

/// The scheduler's rules as a value: which batch attempts to launch, when to retry, when to give
/// up, what to stop. It does no I/O and reads no clock: every event carries the time (seconds
/// since 1970) and every method returns the actions the driver (`Scheduler`) must take. It is
/// `Codable` because it *is* the run's state: `state.json` is this value, written before every
/// launch (so an idempotency token is on disk before the call that uses it) and read back by
/// `resume`.
///
/// Rules:
/// - at most `maxTasks` batch attempts hold a slot at once (launching, waiting to relaunch,
///   running or being collected);
/// - a launch that fails with `retryLater` is tried again with the same token after a back-off,
///   without spending the batch's retries (up to `launchTries` times, then it counts as failed to
///   start);
/// - a task that ended with URLs missing (killed, failed to start, stopped past its deadline)
///   gives a new attempt holding only those URLs, up to `retries` times; then they are given up;
/// - a task still running `maxRunSeconds` after its launch, or still starting `startTimeout`
///   after it, is stopped (once);
/// - an interrupt or a fatal error stops every task and launches nothing more; once every task
///   has ended, the batches that did not finish are closed.
public struct BatchLedger: Sendable, Codable, Equatable {
    public struct Options: Sendable, Codable, Equatable {
        public var maxTasks: Int
        public var retries: Int
        public var maxRunSeconds: Double
        /// A task not RUNNING this long after its launch is stopped (Fargate PROVISIONING/PENDING).
        public var startTimeout: Double
        /// `retryLater` answers before a launch counts as failed to start.
        public var launchTries: Int
        public init(
            maxTasks: Int, retries: Int, maxRunSeconds: Double, startTimeout: Double = 900, launchTries: Int = 20
        ) {
            self.maxTasks = max(1, maxTasks)
            self.retries = max(0, retries)
            self.maxRunSeconds = maxRunSeconds
            self.startTimeout = startTimeout
            self.launchTries = max(1, launchTries)
        }
    }

    public enum BatchStatus: String, Sendable, Codable {
        case pending, launching, running, retrying, done, exhausted, interrupted, failed
        public var isFinal: Bool { [.done, .exhausted, .interrupted, .failed].contains(self) }
    }

    public enum AttemptPhase: String, Sendable, Codable {
        /// Waiting for a slot.
        case queued
        /// Launch decided (token on disk), not yet accepted.
        case launching
        /// The backend said retry later; waiting for the back-off.
        case waiting
        case starting, running
        /// Stopped; the driver is reading its results.
        case collecting
        case ended
    }

    public struct Batch: Sendable, Codable, Equatable {
        public var id: String
        public var urls: Int
        public var status: BatchStatus
        public var attempts: [Attempt]
        /// URLs given up on (incomplete records written).
        public var givenUp = 0
        /// Attempts that do not count against `retries`: one per resume of an interrupted batch.
        public var extraAttempts = 0
    }

    public let run: String
    public let options: Options
    public private(set) var batches: [Batch]
    /// Going on, or ending (interrupted, failed): what launches no more and stops every task.
    public private(set) var runPhase: RunPhase = .running
    /// Why the run was interrupted (nil: it was not), as state.json says it.
    public var interruptReason: String? { runPhase.interruptReason }
    /// What made the run fail (nil: nothing did), as state.json says it.
    public var failure: RunFailure? { runPhase.failure }
    private var index: [String: Int] = [:]
    /// Batch indexes whose next attempt waits for a slot, in order.
    private var queue: [Int] = []
    private var queueHead = 0
    private var slots = 0
    public private(set) var counts = Counts()
    /// Per-host limits across the fleet (`politeness.maxTasksPerHost`); nil: none.
    public var hostSlots: HostSlots?

    public struct Counts: Sendable, Codable, Equatable {
        public var tasksStarted = 0
        public var retriedTasks = 0
        public var retriedURLs = 0
        public var infrastructureFailures = 0
        public var relaunches = 0
        public var batchesDone = 0
    }

    public init(run: String, batches: [(id: String, urls: Int)], options: Options) {
        self.run = run
        self.options = options
        self.batches = batches.map { Batch(id: $0.id, urls: $0.urls, status: .pending, attempts: []) }
        for (i, b) in self.batches.enumerated() { index[b.id] = i }
        queue = Array(self.batches.indices)
        for i in queue { self.batches[i].attempts.append(newAttempt(i, number: 1, urls: self.batches[i].urls)) }
    }

    // MARK: - Events

    /// The first launches.
    public mutating func start() -> [LedgerAction] { fillSlots() }

    /// A launch was accepted: the task exists.
    public mutating func launched(batch: String, attempt: Int, task: String, now: Double) -> [LedgerAction] {
        guard let (b, a) = find(batch, attempt) else { return [] }
        batches[b].attempts[a].phase = .starting
        let launch = batches[b].attempts[a].launch
        batches[b].attempts[a].launch = Attempt.Launch(
            task: task, at: launch?.at ?? now, runningAt: launch?.runningAt)
        batches[b].status = .running
        counts.tasksStarted += 1
        if let stop = runPhase.stop {
            batches[b].attempts[a].stopRequested = .byRun(stop)
            return [.stop(task: task, reason: stop.description)]
        }
        return []
    }

    /// The backend says where a task is (only changes matter).
    public mutating func observed(batch: String, attempt: Int, running: Bool, now: Double) {
        guard let (b, a) = find(batch, attempt), running, batches[b].attempts[a].phase == .starting else { return }
        batches[b].attempts[a].phase = .running
        batches[b].attempts[a].launch?.runningAt = now
    }

    /// The task stopped and its results are being read: no more stops for it.
    public mutating func stopped(batch: String, attempt: Int) {
        guard let (b, a) = find(batch, attempt) else { return }
        batches[b].attempts[a].phase = .collecting
    }

    /// A launch gave no task. `urls`: the attempt's URLs; nil when its batch file could not be
    /// read (the driver failed the run: the batch stays unfinished and is closed with it).
    public mutating func launchFailed(
        batch: String, attempt: Int, error: LaunchError, urls: [String]?, now: Double
    ) -> [LedgerAction] {
        guard let (b, a) = find(batch, attempt) else { return [] }
        switch error {
        case .retryLater(let why):
            batches[b].attempts[a].launchTries += 1
            let tries = batches[b].attempts[a].launchTries
            if tries < options.launchTries && runPhase == .running {
                batches[b].attempts[a].phase = .waiting
                batches[b].attempts[a].waitReason = why
                counts.relaunches += 1
                return [.relaunchAfter(seconds: Self.backoff(tries), order(b, a))]
            }
            return ended(
                b, a, records: 0, missing: urls,
                end: TaskEnd(
                    stopCode: .taskFailedToStart,
                    reason: "launch refused \(tries) time\(tries == 1 ? "" : "s"), last: \(why)"),
                now: now)
        case .failedToStart(let why):
            return ended(
                b, a, records: 0, missing: urls, end: TaskEnd(stopCode: .taskFailedToStart, reason: why), now: now)
        case .fatal(let f):
            var actions = fail(f)
            actions += ended(
                b, a, records: 0, missing: urls, end: TaskEnd(stopCode: .taskFailedToStart, reason: f.description),
                now: now)
            return actions
        }
    }

    /// A relaunch's back-off is over (`urls` as for `launchFailed`).
    public mutating func launchDue(batch: String, attempt: Int, urls: [String]?, now: Double) -> [LedgerAction] {
        guard let (b, a) = find(batch, attempt), batches[b].attempts[a].phase == .waiting else { return [] }
        if let stop = runPhase.stop {
            // The run ended it: its launch is not made again.
            batches[b].attempts[a].stopRequested = .byRun(stop)
            return ended(
                b, a, records: 0, missing: urls,
                end: TaskEnd(stopCode: .taskFailedToStart, reason: stop.description), now: now)
        }
        batches[b].attempts[a].phase = .launching
        return [.launch(order(b, a))]
    }

    /// A task ended and its results were merged: `records` accepted, `missing` URLs without one
    /// (nil: not known, the batch file could not be read and the driver failed the run).
    public mutating func taskEnded(
        batch: String, attempt: Int, records: Int, failed: Int = 0, missing: [String]?, end: TaskEnd, now: Double
    ) -> [LedgerAction] {
        guard let (b, a) = find(batch, attempt) else { return [] }
        return ended(b, a, records: records, failed: failed, missing: missing, end: end, now: now)
    }

    /// Deadlines: tasks past `maxRunSeconds`, and tasks still starting past `startTimeout`.
    public mutating func tick(now: Double) -> [LedgerAction] {
        var actions: [LedgerAction] = []
        for b in batches.indices where batches[b].status == .running {
            guard let a = batches[b].attempts.indices.last else { continue }
            let t = batches[b].attempts[a]
            guard let launch = t.launch, t.stopRequested == nil else { continue }
            var passed: StopRequest.Deadline?
            if t.phase == .starting, now - launch.at >= options.startTimeout {
                passed = .start(seconds: options.startTimeout)
            } else if t.phase == .starting || t.phase == .running, now - launch.at >= options.maxRunSeconds {
                passed = .maxRun(seconds: options.maxRunSeconds)
            }
            if let passed {
                let stop = StopRequest.deadline(passed)
                batches[b].attempts[a].stopRequested = stop
                actions.append(.stop(task: launch.task, reason: stop.description))
            }
        }
        return actions
    }

    /// Ctrl-C, SIGTERM, a closed output: no more launches; every task is stopped.
    public mutating func interrupt(_ reason: String) -> [LedgerAction] {
        switch runPhase {
        case .running: runPhase = .interrupted(reason: reason)
        case .failed(let f, nil): runPhase = .failed(f, interrupted: reason)
        case .interrupted, .failed: return []
        }
        return stopEverything(.interrupted(reason))
    }

    /// Goes on with a run read back from state.json after crawlrun stopped (interrupted, failed,
    /// or killed). `known` is what the backend still knows of the run's tasks; `unrecorded` the
    /// URLs still without a record of each batch closed by the interrupt (reopened as a new
    /// attempt that spends none of the batch's retries). Launches that were under way are made
    /// again with their own token (a backend with idempotent launches returns the same task);
    /// running tasks the backend knows are adopted, stopped ones collected, and tasks it does not
    /// know collected as ended (their results, if any, are read; the rest is retried).
    public mutating func resume(known: [KnownTask], unrecorded: [String: [String]], now: Double) -> [LedgerAction] {
        runPhase = .running
        var byTask: [String: KnownTask] = [:]
        var byAttempt: [String: KnownTask] = [:]
        for k in known {
            byTask[k.task] = k
            byAttempt["\(k.batch)#\(k.attempt)"] = k
        }
        var actions: [LedgerAction] = []
        slots = 0
        for b in batches.indices {
            guard let a = batches[b].attempts.indices.last else { continue }
            let t = batches[b].attempts[a]
            switch batches[b].status {
            case .done, .exhausted:
                continue
            case .interrupted, .failed:
                guard let urls = unrecorded[batches[b].id], !urls.isEmpty else {
                    batches[b].status = .done
                    counts.batchesDone += 1
                    continue
                }
                if t.phase == .queued {
                    // Never launched: it keeps its place (and its URLs).
                    batches[b].status = .pending
                    if !queue[queueHead...].contains(b) { queue.append(b) }
                    continue
                }
                batches[b].status = .retrying
                batches[b].extraAttempts += 1
                batches[b].attempts.append(newAttempt(b, number: t.attempt + 1, urls: urls.count))
                queue.append(b)
                actions.append(.writeRetryBatch(batch: batches[b].id, attempt: t.attempt + 1, urls: urls))
                continue
            case .pending, .launching, .running, .retrying:
                break
            }
            let found = t.task.flatMap { byTask[$0] } ?? byAttempt["\(batches[b].id)#\(t.attempt)"]
            switch t.phase {
            case .queued, .ended:
                continue
            case .launching, .waiting:
                slots += 1
                if let found {
                    actions += adopt(b, a, found, now: now)
                } else {
                    batches[b].attempts[a].phase = .launching
                    batches[b].status = .launching
                    actions.append(.launch(order(b, a)))
                }
            case .starting, .running, .collecting:
                slots += 1
                batches[b].attempts[a].stopRequested = nil
                if let found {
                    actions += adopt(b, a, found, now: now)
                } else {
                    batches[b].attempts[a].phase = .collecting
                    actions.append(
                        .collect(
                            batch: batches[b].id, attempt: t.attempt, task: t.launch?.task ?? "-",
                            end: TaskEnd(
                                stopCode: .unknown,
                                reason: "the task was not found when the run was resumed")))
                }
            }
        }
        return actions + fillSlots()
    }

    /// A task the backend still knows, taken back: watched when it runs, collected when it stopped.
    private mutating func adopt(_ b: Int, _ a: Int, _ known: KnownTask, now: Double) -> [LedgerAction] {
        let launch = batches[b].attempts[a].launch
        batches[b].attempts[a].launch = Attempt.Launch(
            task: known.task, at: launch?.at ?? now, runningAt: launch?.runningAt)
        batches[b].status = .running
        switch known.phase {
        case .stopped(let end):
            batches[b].attempts[a].phase = .collecting
            return [.collect(batch: batches[b].id, attempt: batches[b].attempts[a].attempt, task: known.task, end: end)]
        case .missing:
            batches[b].attempts[a].phase = .collecting
            return [
                .collect(
                    batch: batches[b].id, attempt: batches[b].attempts[a].attempt, task: known.task,
                    end: TaskEnd(stopCode: .unknown, reason: "the backend no longer knows this task (MISSING)"))
            ]
        case .running:
            batches[b].attempts[a].phase = .running
            return []
        case .starting, .lostContact:
            batches[b].attempts[a].phase = .starting
            return []
        }
    }

    /// The earliest time a deadline can pass, for the driver's timer (nil: none pending).
    public func nextDeadline() -> Double? {
        var next: Double?
        for b in batches where b.status == .running {
            guard let t = b.attempts.last, t.stopRequested == nil, let launch = t.launch else { continue }
            var due: Double?
            if t.phase == .starting { due = launch.at + min(options.startTimeout, options.maxRunSeconds) }
            if t.phase == .running { due = launch.at + options.maxRunSeconds }
            if let due { next = min(next ?? due, due) }
        }
        return next
    }

    /// Nothing runs, waits or queues: the driver can close the run.
    public var isIdle: Bool { slots == 0 && queueHead >= queue.count }

    /// Once idle: the batches that did not finish (interrupted or failed run), to be closed with
    /// records for their URLs without one; their status becomes final.
    public mutating func close() -> (status: RunStatus, unfinished: [String]) {
        let status: RunStatus =
            switch runPhase {
            case .running: .finished
            case .interrupted: .interrupted
            case .failed: .failed
            }
        var unfinished: [String] = []
        for b in batches.indices where !batches[b].status.isFinal {
            unfinished.append(batches[b].id)
            batches[b].status = status == .failed ? .failed : .interrupted
        }
        return (status, unfinished)
    }

    /// URLs given up on when closing a batch (the driver counted them).
    public mutating func gaveUp(batch: String, urls: Int) {
        guard let b = index[batch] else { return }
        batches[b].givenUp += urls
    }

    /// Every task that holds a slot and has an id: what the driver watches.
    public var liveTasks: [(batch: String, attempt: Int, task: String)] {
        batches.compactMap { b in
            guard let t = b.attempts.last, let task = t.launch?.task, t.phase == .starting || t.phase == .running
            else { return nil }
            return (b.id, t.attempt, task)
        }
    }

    public func attempt(batch: String, attempt: Int) -> Attempt? {
        find(batch, attempt).map { batches[$0.0].attempts[$0.1] }
    }

    // MARK: - Rules

    private mutating func ended(
        _ b: Int, _ a: Int, records: Int, failed: Int = 0, missing known: [String]?, end: TaskEnd, now: Double
    ) -> [LedgerAction] {
        // URLs not known (an unreadable batch file) are all missing: never a batch done that lost
        // its URLs; it stays unfinished, closed with the failed run, and `resume` retries it.
        let missing = known ?? []
        let missingCount = known?.count ?? batches[b].attempts[a].urls
        let wasHoldingSlot = batches[b].attempts[a].phase != .ended
        // A task that ends once the run was interrupted was stopped by it (Ctrl-C, SIGTERM,
        // `crawlrun stop`): the stop we asked for is no infrastructure failure, and its URLs wait
        // for `resume` rather than a next attempt.
        let problem = interruptReason != nil ? nil : Self.infrastructureProblem(end, missing: missingCount)
        var t = batches[b].attempts[a]
        t.phase = .ended
        t.waitReason = nil
        t.end = Attempt.End(
            at: now, records: records, failed: failed, missing: missingCount, stopCode: end.stopCode,
            reason: end.reason, hint: end.hint,
            exitCodes: Dictionary(end.containers.map { ($0.name, $0.exitCode) }) { $1 },
            timing: end.timing.map {
                Attempt.Timing(pullStartedAt: $0.pullStartedAt, startedAt: $0.startedAt, stoppedAt: $0.stoppedAt)
            },
            capacityProvider: end.capacityProvider, infrastructureProblem: problem)
        batches[b].attempts[a] = t
        if wasHoldingSlot { slots -= 1 }
        if problem != nil { counts.infrastructureFailures += 1 }

        var actions: [LedgerAction] = []
        // A browser that refuses to start a session (crawler exit 78) is the job's configuration,
        // whatever the backend: another attempt would fail the same way.
        let retryable =
            end.retryable && end.exitCode(of: TaskDefinition.crawlerName) != CrawlerExitCode.sessionNotCreated.rawValue
        if !retryable, runPhase.failure == nil {
            actions += fail(
                RunFailure(
                    "batch \(batches[b].id) attempt \(t.attempt): \(problem ?? end.reason)",
                    cause: end.hint))
        }
        if missingCount == 0 {
            batches[b].status = .done
            counts.batchesDone += 1
        } else if runPhase != .running || known == nil {
            // Closed with the run; no attempt is spent on a stop we asked for.
            batches[b].status = .retrying
        } else if t.attempt <= options.retries + batches[b].extraAttempts {
            batches[b].status = .retrying
            batches[b].attempts.append(newAttempt(b, number: t.attempt + 1, urls: missing.count))
            counts.retriedTasks += 1
            counts.retriedURLs += missing.count
            actions.append(.writeRetryBatch(batch: batches[b].id, attempt: t.attempt + 1, urls: missing))
            if let wait = end.retryAfter, wait > 0, let next = batches[b].attempts.indices.last {
                // Waits holding its slot (fewer tasks at once is what a rate limit asks for).
                batches[b].attempts[next].phase = .waiting
                batches[b].attempts[next].waitReason = "waiting \(Self.show(wait)) s: \(end.hint ?? end.reason)"
                batches[b].status = .launching
                slots += 1
                actions.append(.relaunchAfter(seconds: wait, order(b, next)))
            } else {
                queue.append(b)
            }
        } else {
            batches[b].status = .exhausted
            batches[b].givenUp += missing.count
            counts.batchesDone += 1
            let why =
                "no result after \(t.attempt) attempt\(t.attempt == 1 ? "" : "s"): \(problem ?? end.reason)"
                + (end.hint.map { " (\($0))" } ?? "")
            actions.append(.giveUp(batch: batches[b].id, attempt: t.attempt, urls: missing, reason: why))
        }
        return actions + fillSlots()
    }

    private mutating func fillSlots() -> [LedgerAction] {
        var actions: [LedgerAction] = []
        while slots < options.maxTasks, queueHead < queue.count, runPhase == .running {
            if let hostSlots {
                // A batch whose hosts are at their limit waits; the next one that may start goes first.
                let all = batches
                let holding = all.filter { !$0.status.isFinal && ![.queued, .ended].contains($0.attempts.last?.phase) }
                let waiting = queue[queueHead...].lazy.map { all[$0].id }
                guard let k = hostSlots.firstLaunchable(waiting, holding: holding.map(\.id)) else { break }
                if k > 0 { queue.insert(queue.remove(at: queueHead + k), at: queueHead) }
            }
            let b = queue[queueHead]
            queueHead += 1
            guard let a = batches[b].attempts.indices.last else { continue }
            batches[b].attempts[a].phase = .launching
            batches[b].status = .launching
            slots += 1
            actions.append(.launch(order(b, a)))
        }
        if queueHead > 1024 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return actions
    }

    /// Something the run cannot go on without (a results file that cannot be written, a fatal
    /// launch error): every task is stopped, nothing more launches; the first failure is kept.
    public mutating func fail(_ f: RunFailure) -> [LedgerAction] {
        switch runPhase {
        case .running: runPhase = .failed(f, interrupted: nil)
        case .interrupted(let reason): runPhase = .failed(f, interrupted: reason)
        case .failed: return []
        }
        return stopEverything(.failed(message: f.message))
    }

    private mutating func stopEverything(_ stop: RunStop) -> [LedgerAction] {
        // Attempts still queued will not run.
        queueHead = queue.count
        var actions: [LedgerAction] = []
        for b in batches.indices {
            guard let a = batches[b].attempts.indices.last else { continue }
            let t = batches[b].attempts[a]
            if let task = t.launch?.task, t.phase == .starting || t.phase == .running, t.stopRequested == nil {
                batches[b].attempts[a].stopRequested = .byRun(stop)
                actions.append(.stop(task: task, reason: stop.description))
            }
        }
        return actions
    }

    private func newAttempt(_ b: Int, number: Int, urls: Int) -> Attempt {
        Attempt(
            attempt: number, token: Self.token(run: run, batch: batches[b].id, attempt: number), urls: urls,
            phase: .queued)
    }

    private func order(_ b: Int, _ a: Int) -> LaunchOrder {
        let t = batches[b].attempts[a]
        return LaunchOrder(batch: batches[b].id, attempt: t.attempt, token: t.token, urls: t.urls)
    }

    private func find(_ batch: String, _ attempt: Int) -> (Int, Int)? {
        guard let b = index[batch], let a = batches[b].attempts.lastIndex(where: { $0.attempt == attempt })
        else { return nil }
        return (b, a)
    }

    /// The idempotency token of a batch attempt: the same on every try of that launch (and after a
    /// restart), new for a new attempt. ECS takes up to 64 ASCII characters (33–126).
    public static func token(run: String, batch: String, attempt: Int) -> String {
        String("\(run)-\(batch)-a\(attempt)".unicodeScalars.filter { (33...126).contains($0.value) }.prefix(64))
    }

    /// Exponential back-off for a launch the backend asked to retry later: 1, 2, 4 … 30 s.
    public static func backoff(_ tries: Int) -> Double { min(30, Double(1 << min(max(0, tries - 1), 5))) }

    /// Why a task counts as an infrastructure failure, in words; nil when it did its job.
    public static func infrastructureProblem(_ end: TaskEnd, missing: Int) -> String? {
        if end.stopCode == .taskFailedToStart { return "task failed to start: \(end.reason)" }
        let crawler = end.exitCode(of: TaskDefinition.crawlerName)
        // The crawler finished with every record: whatever stopped the task afterwards (a Spot
        // reclaim, our own stop) cost nothing.
        if crawler == 0, missing == 0 { return nil }
        if let code = crawler, code != 0 {
            return "crawler \(CrawlerExitCode.meaning(code))"
                + (end.stopCode == .userInitiated ? " (\(end.reason))" : "")
        }
        if missing > 0 { return "\(end.reason); \(missing) URL\(missing == 1 ? "" : "s") without a record" }
        if crawler == nil, end.containers.contains(where: { $0.name == TaskDefinition.crawlerName }) {
            return "\(end.reason); the crawler has no exit code"
        }
        return end.stopCode == .essentialContainerExited ? nil : end.reason
    }

    static func show(_ x: Double) -> String { x.rounded() == x ? String(Int(x)) : String(x) }

    // `index` and `slots` are derived; the queue is kept as the ids of the batches waiting for a
    // slot, in order, so a run read back launches in the same order.
    private enum CodingKeys: String, CodingKey {
        case run, options, batches, interruptReason, failure, queue, hostSlots
        case counts = "ledgerCounts"
    }

    /// The batches waiting for a slot, in launch order.
    public var waitingBatches: [String] { queue[queueHead...].map { batches[$0].id } }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        run = try c.decode(String.self, forKey: .run)
        options = try c.decode(Options.self, forKey: .options)
        batches = try c.decode([Batch].self, forKey: .batches)
        let interruptReason = try c.decodeIfPresent(String.self, forKey: .interruptReason)
        runPhase =
            if let failure = try c.decodeIfPresent(RunFailure.self, forKey: .failure) {
                .failed(failure, interrupted: interruptReason)
            } else {
                interruptReason.map { .interrupted(reason: $0) } ?? .running
            }
        counts = try c.decode(Counts.self, forKey: .counts)
        hostSlots = try c.decodeIfPresent(HostSlots.self, forKey: .hostSlots)
        for (i, b) in batches.enumerated() { index[b.id] = i }
        queue = try c.decode([String].self, forKey: .queue).compactMap { index[$0] }
        for b in batches where !b.status.isFinal {
            guard let t = b.attempts.last, t.phase != .queued, t.phase != .ended else { continue }
            slots += 1
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(run, forKey: .run)
        try c.encode(options, forKey: .options)
        try c.encode(batches, forKey: .batches)
        try c.encodeIfPresent(interruptReason, forKey: .interruptReason)
        try c.encodeIfPresent(failure, forKey: .failure)
        try c.encode(counts, forKey: .counts)
        try c.encode(waitingBatches, forKey: .queue)
        try c.encodeIfPresent(hostSlots, forKey: .hostSlots)
    }

    /// Equal when they say the same in state.json (its `Codable` spelling, read as a value: key
    /// order aside) and hold the same slots (derived, not written).
    public static func == (a: BatchLedger, b: BatchLedger) -> Bool {
        func value(_ l: BatchLedger) -> JSONValue? {
            var encoder = JSONStreamEncoder()
            guard let bytes = try? encoder.encode(l) else { return nil }
            return try? JSONParser.parse(bytes).value
        }
        return a.slots == b.slots && value(a) != nil && value(a) == value(b)
    }
}

/// What the driver must do, in order.
public enum LedgerAction: Sendable, Equatable {
    /// Put the batch attempt's file and launch it (the token is already in the ledger: persist
    /// the ledger before the call).
    case launch(LaunchOrder)
    /// Launch again with the same token after this many seconds, then call `launchDue`.
    case relaunchAfter(seconds: Double, LaunchOrder)
    case stop(task: String, reason: String)
    /// Write `batches/<batch>.aN.json` holding these URLs (before its launch comes up).
    case writeRetryBatch(batch: String, attempt: Int, urls: [String])
    /// Write an `incomplete` record for each of these URLs.
    case giveUp(batch: String, attempt: Int, urls: [String], reason: String)
    /// Read the results and logs of a task that has stopped (found again on resume), then call
    /// `taskEnded`.
    case collect(batch: String, attempt: Int, task: String, end: TaskEnd)
}

public struct LaunchOrder: Sendable, Equatable {
    public var batch: String
    public var attempt: Int
    public var token: String
    public var urls: Int
}

public enum RunStatus: String, Sendable, Codable { case running, finished, interrupted, failed }

extension RunFailure: Codable {
    private enum CodingKeys: String, CodingKey { case message, cause }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            try c.decode(String.self, forKey: .message), cause: try c.decodeIfPresent(String.self, forKey: .cause))
        // The error itself is not kept: its words are.
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(message, forKey: .message)
        try c.encodeIfPresent(cause?.description, forKey: .cause)
    }
}
