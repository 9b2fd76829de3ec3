import Coordinator
import CrawlKit
import Foundation
import JSONKit
import Synchronization

/// A backend in memory, for the scheduler's rules without a browser: each launch asks `script`
/// what happens (refuse it, or run a task that records some URLs and ends, or runs until it is
/// stopped), and every call is counted so tests can assert what the scheduler asked for.
public final class FakeBackend: TaskBackend {
    /// One launch as the script sees it.
    public struct Launch: Sendable {
        public var batch: String
        public var attempt: Int
        public var token: String
        public var urls: [String]
        /// How many times this token was launched before (retries of the same launch).
        public var earlierTries: Int
    }

    /// What a launch does.
    public enum Outcome: Sendable {
        case refuse(LaunchError)
        /// A task that writes a record for each URL in `records` (true: ok) and ends with `end`
        /// (by default the crawler's exit 0), or keeps running until stopped when `untilStopped`.
        case run(records: [String: Bool], end: TaskEnd? = nil, untilStopped: Bool = false)
    }

    private struct FakeTask {
        var launch: Launch
        var out: String
        var records: [String: Bool]
        var end: TaskEnd?
        var stopReason: String?
    }
    private struct State {
        var batches: [String: [UInt8]] = [:]
        var results: [String: [UInt8]] = [:]
        var tasks: [String: FakeTask] = [:]
        var order: [String] = []
        var tries: [String: Int] = [:]
        var launchCalls = 0
        var observeCalls = 0
        var maxObserved = 0
        var stops: [String] = []
    }

    public let name = "fake"
    public let pollIntervals: PollIntervals
    private let script: @Sendable (Launch) -> Outcome
    private let state = Mutex(State())
    private let changes: AsyncStream<Void>
    private let announce: AsyncStream<Void>.Continuation
    /// Called at the start of each `launch` with its token (e.g. to check state.json holds it).
    private let onLaunch: @Sendable (TaskLaunch) -> Void

    public init(
        pollIntervals: PollIntervals = PollIntervals(fast: .milliseconds(500), steady: .seconds(2)),
        onLaunch: @escaping @Sendable (TaskLaunch) -> Void = { _ in },
        script: @escaping @Sendable (Launch) -> Outcome
    ) {
        self.pollIntervals = pollIntervals
        self.script = script
        self.onLaunch = onLaunch
        (changes, announce) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Every task it started, in launch order: (batch, attempt, token).
    public var tasks: [(batch: String, attempt: Int, token: String)] {
        state.withLock { s in
            s.order.compactMap { s.tasks[$0].map { ($0.launch.batch, $0.launch.attempt, $0.launch.token) } }
        }
    }
    public var launchCalls: Int { state.withLock { $0.launchCalls } }
    public var observeCalls: Int { state.withLock { $0.observeCalls } }
    /// The most tasks asked about in one `observe`.
    public var largestObserve: Int { state.withLock { $0.maxObserved } }
    public var stopped: [String] { state.withLock { $0.stops } }
    public var running: Int { state.withLock { $0.tasks.values.filter { $0.end == nil }.count } }

    public func prepare(run: RunContext) async throws(RunFailure) {}

    public func locations(run: RunContext, batch: String, attempt: Int) -> TaskLocations {
        TaskLocations(
            batch: "fake://batches/" + RunLayout.attemptName(batch, attempt: attempt),
            out: "fake://results/" + RunLayout.attemptName(batch, attempt: attempt))
    }

    public func putBatch(_ bytes: [UInt8], at location: String) async throws(RunFailure) {
        state.withLock { $0.batches[location] = bytes }
    }

    public func launch(_ launch: TaskLaunch) async throws(LaunchError) -> String {
        onLaunch(launch)
        let (urls, tries) = state.withLock { s -> ([String], Int) in
            s.launchCalls += 1
            let file = s.batches[launch.locations.batch].flatMap {
                try? JSONDecoder().decode(BatchFile.self, from: Data($0))
            }
            let tries = s.tries[launch.token, default: 0]
            s.tries[launch.token] = tries + 1
            return (file?.urls ?? [], tries)
        }
        let fake = Launch(
            batch: launch.batch, attempt: launch.attempt, token: launch.token, urls: urls, earlierTries: tries)
        switch script(fake) {
        case .refuse(let error):
            throw error
        case .run(let records, let end, let untilStopped):
            let id = "fake-task-\(launch.batch)-a\(launch.attempt)"
            let ended: TaskEnd? =
                untilStopped
                ? nil
                : end
                    ?? TaskEnd(
                        stopCode: .essentialContainerExited, reason: "Essential container in task exited",
                        containers: [
                            ContainerExit(name: TaskDefinition.crawlerName, exitCode: 0),
                            ContainerExit(name: TaskDefinition.sidecarName, exitCode: 143),
                        ])
            state.withLock { s in
                s.tasks[id] = FakeTask(launch: fake, out: launch.locations.out, records: records, end: ended)
                s.order.append(id)
                if ended != nil { s.results[launch.locations.out] = Self.lines(records, batch: launch.batch) }
            }
            announce.yield()
            return id
        }
    }

    public func observe(_ ids: [String]) async -> [String: TaskPhase] {
        state.withLock { s in
            s.observeCalls += 1
            s.maxObserved = max(s.maxObserved, ids.count)
            var phases: [String: TaskPhase] = [:]
            for id in ids {
                guard let t = s.tasks[id] else {
                    phases[id] = .missing
                    continue
                }
                phases[id] = t.end.map { .stopped($0) } ?? .running
            }
            return phases
        }
    }

    public func changed() async {
        for await _ in changes { return }
    }

    /// A task running until stopped ends now: UserInitiated, the crawler terminated (143), with
    /// the records it was given written.
    public func stop(task id: String, reason: String) async throws(RunFailure) {
        state.withLock { s in
            s.stops.append(id)
            guard var t = s.tasks[id], t.end == nil else { return }
            t.end = TaskEnd(
                stopCode: .userInitiated, reason: reason,
                containers: [
                    ContainerExit(name: TaskDefinition.crawlerName, exitCode: 143),
                    ContainerExit(name: TaskDefinition.sidecarName, exitCode: 143),
                ])
            t.stopReason = reason
            s.results[t.out] = Self.lines(t.records, batch: t.launch.batch)
            s.tasks[id] = t
        }
        announce.yield()
    }

    public func readResults(at location: String) async throws(RunFailure) -> [UInt8]? {
        state.withLock { $0.results[location] }
    }

    static func lines(_ records: [String: Bool], batch: String) -> [UInt8] {
        var out: [UInt8] = []
        for (url, ok) in records.sorted(by: { $0.key < $1.key }) {
            out += ResultRecord(
                url: url, ok: ok, status: ok ? 200 : 500,
                error: ok ? nil : RecordError(kind: .http, message: "HTTP 500"), attempts: 1, batch: batch,
                startedAt: Timestamp.now(), ms: 1
            ).jsonLine()
        }
        return out
    }
}

/// A clock the test moves: `sleep` returns when `advance` passes its deadline.
public final class TestClock: RunClock {
    private struct Sleeper {
        var deadline: Double
        var continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var now: Double
        var sleepers: [Int: Sleeper] = [:]
        var next = 0
    }
    private let state: Mutex<State>

    public init(start: Double = 1_800_000_000) { state = Mutex(State(now: start)) }

    public func now() -> Double { state.withLock { $0.now } }

    public var sleepers: Int { state.withLock { $0.sleepers.count } }

    public func sleep(for seconds: Double) async throws {
        try await sleep(until: now() + seconds)
    }

    public func sleep(until deadline: Double) async throws {
        let id = state.withLock { s -> Int in
            s.next += 1
            return s.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let now = state.withLock { s -> Bool in
                    if Task.isCancelled || deadline <= s.now { return true }
                    s.sleepers[id] = Sleeper(deadline: deadline, continuation: c)
                    return false
                }
                if now {
                    if Task.isCancelled { c.resume(throwing: CancellationError()) } else { c.resume() }
                }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time on and wakes every sleeper whose deadline has come.
    public func advance(by seconds: Double) {
        let due = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.now += seconds
            let ready = s.sleepers.filter { $0.value.deadline <= s.now }
            for id in ready.keys { s.sleepers.removeValue(forKey: id) }
            return ready.values.map(\.continuation)
        }
        for c in due { c.resume() }
    }
}
