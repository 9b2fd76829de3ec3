import CrawlKit
import Foundation
import Synchronization

/// `state.json` as it goes to disk: the run's identity, its record counts and the ledger (whose
/// keys sit at the top level: `status`, `batches`, each with its attempts and their tokens).
public struct RunState: Sendable, Codable {
    public var version = 1
    public var run: String
    public var job: String
    public var backend: String
    public var status: RunStatus
    /// When the run first started; `resumedAt`: when `crawlrun resume` last took it up.
    public var startedAt: String
    public var resumedAt: String?
    public var updatedAt: String
    public var counts: RecordCounts
    public var ledger: BatchLedger
    /// The crawlrun process driving the run (nil once it has ended): `stop` signals it, `runs` and
    /// `resume` tell a live run from one whose crawlrun is gone.
    public var owner: RunOwner?

    public init(
        run: String, job: String, backend: String, status: RunStatus, startedAt: String, updatedAt: String,
        counts: RecordCounts, ledger: BatchLedger
    ) {
        self.run = run
        self.job = job
        self.backend = backend
        self.status = status
        self.startedAt = startedAt
        self.updatedAt = updatedAt
        self.counts = counts
        self.ledger = ledger
    }

    private enum CodingKeys: String, CodingKey {
        case version, run, job, backend, status, startedAt, resumedAt, updatedAt, counts, owner
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(Int.self, forKey: .version)
        run = try c.decode(String.self, forKey: .run)
        job = try c.decode(String.self, forKey: .job)
        backend = try c.decode(String.self, forKey: .backend)
        status = try c.decode(RunStatus.self, forKey: .status)
        startedAt = try c.decode(String.self, forKey: .startedAt)
        resumedAt = try c.decodeIfPresent(String.self, forKey: .resumedAt)
        updatedAt = try c.decode(String.self, forKey: .updatedAt)
        counts = try c.decode(RecordCounts.self, forKey: .counts)
        owner = try c.decodeIfPresent(RunOwner.self, forKey: .owner)
        ledger = try BatchLedger(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(run, forKey: .run)
        try c.encode(job, forKey: .job)
        try c.encode(backend, forKey: .backend)
        try c.encode(status, forKey: .status)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encodeIfPresent(resumedAt, forKey: .resumedAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(counts, forKey: .counts)
        try c.encodeIfPresent(owner, forKey: .owner)
        try ledger.encode(to: encoder)
    }
}

/// A process, for good: its pid and its start time (clock ticks since boot, /proc/PID/stat), on
/// a host.
public struct RunOwner: Sendable, Codable, Equatable {
    public var pid: Int32
    public var start: UInt64
    public var host: String
    public init(pid: Int32, start: UInt64, host: String) {
        self.pid = pid
        self.start = start
        self.host = host
    }
}

/// Records merged into results.jsonl so far.
public struct RecordCounts: Sendable, Codable, Equatable {
    public var urls = 0
    public var ok = 0
    public var failed = 0
    public var incomplete = 0
    public var recorded: Int { ok + failed + incomplete }
    public init(urls: Int = 0, ok: Int = 0, failed: Int = 0, incomplete: Int = 0) {
        self.urls = urls
        self.ok = ok
        self.failed = failed
        self.incomplete = incomplete
    }
}

/// Debounced writes of state.json. The run's driver only says that the state changed (a counter:
/// cheap); the writer asks it for a snapshot when it writes — at most once per interval — so a
/// 20,000-batch ledger is copied a few times a second, not on every event. `persist` waits for a
/// write that holds every change made before it was called.
final class StateWriter: Sendable {
    typealias Source = @Sendable () async -> RunState
    private struct Pending: Sendable {
        var version = 0
        var written = 0
        var lastWrite = ContinuousClock.now - .seconds(3600)
        var writer: Task<Void, Never>?
        var waiters: [(version: Int, continuation: CheckedContinuation<RunFailure?, Never>)] = []
        var writes = 0
        var source: Source?
    }
    private let path: String
    private let minimumInterval: Duration
    /// A run on S3: each write goes up before `persist` returns.
    private let mirror: (any RunMirror)?
    private let pending = Mutex(Pending())
    /// One encoder at a time; it owns the cache of finished batches' bytes.
    private let encoder = Mutex(StateEncodingCache())

    init(path: String, minimumInterval: Duration, mirror: (any RunMirror)? = nil) {
        self.path = path
        self.mirror = mirror
        self.minimumInterval = minimumInterval
    }

    var writes: Int { pending.withLock { $0.writes } }

    func setSource(_ source: @escaping Source) { pending.withLock { $0.source = source } }

    func changed() {
        pending.withLock { $0.version += 1 }
        schedule()
    }

    func persist() async throws(RunFailure) {
        let failure: RunFailure? = await withCheckedContinuation { c in
            let done = pending.withLock { p -> Bool in
                if p.written >= p.version { return true }
                p.waiters.append((p.version, c))
                return false
            }
            if done { c.resume(returning: nil) } else { schedule() }
        }
        if let failure { throw failure }
    }

    /// Writes `final` now (the end of a run): nothing the writer still had pending is lost.
    func flush(_ final: RunState) throws(RunFailure) {
        let (writer, version) = pending.withLock { p in
            defer { p.writer = nil }
            return (p.writer, p.version)
        }
        writer?.cancel()
        if let failure = writeLocally(final) {
            wake(covering: version, failure: failure)
            throw failure
        }
        mirror?.enqueue(RunLayout.state)
        wake(covering: version, failure: nil)
    }

    /// Starts the writer unless one is waiting: it sleeps out the rest of the interval, then asks
    /// the source for the state.
    private func schedule() {
        pending.withLock { p in
            guard p.writer == nil, p.written < p.version, let source = p.source else { return }
            let wait = p.lastWrite + minimumInterval - ContinuousClock.now
            p.writer = Task.detached { [self] in
                if wait > .zero { try? await Task.sleep(for: wait) }
                guard !Task.isCancelled else { return }
                // Everything changed up to `version` is in the snapshot taken after it.
                let version = pending.withLock { $0.version }
                let state = await source()
                guard !Task.isCancelled else { return }
                await write(state, covering: version)
                pending.withLock { $0.writer = nil }
                if pending.withLock({ $0.written < $0.version }) { schedule() }
            }
        }
    }

    /// Encodes and writes; wakes the waiters the write covers.
    private func write(_ value: RunState, covering version: Int) async {
        var failure = writeLocally(value)
        if failure == nil, let mirror {
            do throws(RunFailure) {
                try await mirror.upload(RunLayout.state)
            } catch {
                failure = error
            }
        }
        wake(covering: version, failure: failure)
    }

    private func writeLocally(_ value: RunState) -> RunFailure? {
        var failure: RunFailure?
        encoder.withLock { cache in
            do throws(RunFailure) {
                try RunStore.writeAtomically(path: path, value.jsonBytes(cache: &cache))
            } catch {
                failure = error
            }
        }
        return failure
    }

    private func wake(covering version: Int, failure: RunFailure?) {
        let woken = pending.withLock { p -> [CheckedContinuation<RunFailure?, Never>] in
            p.lastWrite = ContinuousClock.now
            p.writes += 1
            if failure == nil { p.written = max(p.written, version) }
            let ready = p.waiters.filter { failure != nil || $0.version <= p.written }
            p.waiters.removeAll { failure != nil || $0.version <= p.written }
            return ready.map(\.continuation)
        }
        for c in woken { c.resume(returning: failure) }
    }
}
