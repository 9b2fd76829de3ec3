import CrawlKit

/// Per-host politeness: with a delay set, one page load at a time per host, each starting at least
/// `delay` after the previous one on that host finished, across sessions. Measuring from the end
/// (not the start) is what makes the gap hold at the server whatever the browser's own latency.
actor HostPacer {
    private let delay: Duration
    private var busy: Set<String> = []
    private var freeAt: [String: ContinuousClock.Instant] = [:]
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    /// 429/503 answers per host so far (`backOff`).
    private var throttled: [String: Int] = [:]
    init(delay: Duration) { self.delay = delay }

    /// How long to wait before `host` is asked again after it answered 429 or 503: `retryAfter`
    /// when the server said, else 1 s doubling per answer up to 60 s. A stub of the contract
    /// h-polite builds (per-host pace slowed for every task); the crawler side calls only this.
    func backOff(host: String, retryAfter: Duration?) -> Duration {
        let n = throttled[host, default: 0]
        throttled[host] = n + 1
        return retryAfter ?? .seconds(min(60, 1 << min(n, 6)))
    }

    /// Takes `host` at once when that needs no waiting; false otherwise.
    func tryAcquire(host: String) -> Bool {
        guard delay > .zero else { return true }
        if busy.contains(host) { return false }
        if let ready = freeAt[host], ready > .now { return false }
        busy.insert(host)
        return true
    }

    func acquire(host: String) async {
        guard delay > .zero else { return }
        while busy.contains(host) {
            await withCheckedContinuation { waiters[host, default: []].append($0) }
        }
        busy.insert(host)
        if let ready = freeAt[host], ready > .now {
            try? await Task.sleep(until: ready, clock: .continuous)
        }
    }

    func release(host: String) {
        guard delay > .zero else { return }
        busy.remove(host)
        freeAt[host] = .now + delay
        if var queue = waiters[host], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[host] = queue.isEmpty ? nil : queue
            next.resume()
        }
    }
}
