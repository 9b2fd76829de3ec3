import CrawlKit

/// Per-host politeness in one task, as a plain value the actor below drives (tested alone):
/// - `delay` (`crawl.politenessDelay`): one page load at a time per host, each starting at least
///   `delay` after the previous one on that host finished. Measuring from the end is what makes
///   the gap hold at the server whatever the browser's own latency.
/// - `intervals` (this task's share of `politeness.requestsPerSecondPerHost`, Crawl-delay as a
///   floor, from the batch file): two starts on a host at least that far apart.
/// - back-off (429/503): the host pauses for `Retry-After` or an exponential wait, capped.
struct PaceRules: Sendable, Equatable {
    typealias Instant = ContinuousClock.Instant
    var delay: Duration
    var intervals: [String: Duration]
    /// The first back-off without `Retry-After`; doubled per back-off in a row.
    var backoffBase: Duration = .seconds(1)
    /// No single wait is longer, `Retry-After` included: a task has a deadline of its own.
    var backoffCeiling: Duration = .seconds(120)

    private(set) var busy: Set<String> = []
    /// The earliest next start per host.
    private(set) var nextStart: [String: Instant] = [:]
    /// Back-offs in a row per host (reset by a page that did not ask for one).
    private(set) var backoffStreak: [String: Int] = [:]

    init(delay: Duration, intervals: [String: Duration] = [:]) {
        self.delay = delay
        self.intervals = intervals
    }

    var isIdle: Bool { delay <= .zero && intervals.isEmpty && nextStart.isEmpty }

    enum Verdict: Equatable {
        case go
        /// Another load on the host must finish first (`delay` only).
        case busy
        case waitUntil(Instant)
    }

    /// Whether a load on `host` may start at `now`; `.go` takes the host.
    mutating func start(host: String, now: Instant) -> Verdict {
        let exclusive = delay > .zero
        if exclusive && busy.contains(host) { return .busy }
        if let ready = nextStart[host], ready > now { return .waitUntil(ready) }
        if exclusive { busy.insert(host) }
        if let interval = intervals[host], interval > .zero { nextStart[host] = now + interval }
        return .go
    }

    /// A load on `host` finished at `now`.
    mutating func finish(host: String, now: Instant) {
        guard busy.remove(host) != nil else { return }
        nextStart[host] = max(nextStart[host] ?? now, now + delay)
    }

    /// The host answered 429 or 503: how long it pauses (from `now`) before the next start.
    /// `Retry-After` is honoured up to the ceiling; without it the wait doubles per back-off in a
    /// row (1, 2, 4 … s), never below the host's interval.
    mutating func backOff(host: String, retryAfter: Duration?, now: Instant) -> Duration {
        let streak = backoffStreak[host, default: 0]
        backoffStreak[host] = streak + 1
        let exponential = backoffBase * (1 << min(streak, 16))
        var wait = min(backoffCeiling, max(retryAfter ?? exponential, intervals[host] ?? .zero))
        if wait < .zero { wait = .zero }
        nextStart[host] = max(nextStart[host] ?? now, now + wait)
        return wait
    }

    /// A page on `host` answered without asking to slow down: the next back-off starts small.
    mutating func settled(host: String) { backoffStreak[host] = nil }
}

/// The pacing of one task's page loads per host, across sessions and tabs (`PaceRules`).
actor HostPacer {
    private var rules: PaceRules
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    init(delay: Duration, intervals: [String: Duration] = [:]) {
        rules = PaceRules(delay: delay, intervals: intervals)
    }

    /// From the batch file: `politenessDelay` and the coordinator's per-host intervals.
    init(options: CrawlOptions) {
        var intervals: [String: Duration] = [:]
        for (host, seconds) in options.hostIntervals ?? [:] where seconds > 0 {
            intervals[host.lowercased()] = .milliseconds(Int64((seconds * 1000).rounded(.up)))
        }
        self.init(delay: .milliseconds(Int64(options.politenessDelay * 1000)), intervals: intervals)
    }

    /// Takes `host` at once when that needs no waiting; false otherwise.
    func tryAcquire(host: String) -> Bool {
        if rules.isIdle { return true }
        return rules.start(host: host.lowercased(), now: .now) == .go
    }

    func acquire(host: String) async {
        let host = host.lowercased()
        while true {
            switch rules.start(host: host, now: .now) {
            case .go: return
            case .busy: await withCheckedContinuation { waiters[host, default: []].append($0) }
            case .waitUntil(let ready): try? await Task.sleep(until: ready, clock: .continuous)
            }
            if Task.isCancelled { return }
        }
    }

    func release(host: String) {
        let host = host.lowercased()
        rules.finish(host: host, now: .now)
        if var queue = waiters[host], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[host] = queue.isEmpty ? nil : queue
            next.resume()
        }
    }

    /// The host answered 429 or 503 (`retryAfter`: its `Retry-After`, parsed with
    /// `RetryAfter.parse`): every load on it pauses; returns the wait, for the record's log.
    func backOff(host: String, retryAfter: Duration?) -> Duration {
        rules.backOff(host: host.lowercased(), retryAfter: retryAfter, now: .now)
    }

    /// When `host` may next start (nil: now, as far as time goes; another load may still hold
    /// it under `politenessDelay`). `tryAcquire` can say no for time alone: a caller that waits
    /// for a `release` to try again should also wake at this instant.
    func readyAt(host: String) -> ContinuousClock.Instant? {
        rules.nextStart[host.lowercased()].flatMap { $0 > .now ? $0 : nil }
    }

    /// A page on `host` loaded without asking to slow down.
    func settled(host: String) { rules.settled(host: host.lowercased()) }
}
