import Synchronization

/// At most `limit` requests of a client on the wire at once. A burst of thousands of calls (a
/// run launching 5,000 tasks puts 5,000 batch files) waits here as suspended tasks, which cost a
/// few hundred bytes each, instead of each holding a blocking thread and a curl handle (tens of
/// kilobytes each) while a slow endpoint works through them. First come, first served.
public final class InFlightLimit: Sendable {
    private struct State {
        var running = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var next = 0
    }
    public let limit: Int
    private let state = Mutex(State())

    public init(_ limit: Int) { self.limit = max(1, limit) }

    /// Waits for a place; pair with `release()`.
    public func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.running < limit {
                    s.running += 1
                    return true
                }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Gives the place to the longest waiter, or frees it.
    public func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.next < s.waiters.count else {
                s.running -= 1
                return nil
            }
            let waiter = s.waiters[s.next]
            s.next += 1
            // Drop the served prefix now and then (not on every call: that would be quadratic).
            if s.next > 1024 && s.next * 2 > s.waiters.count {
                s.waiters.removeFirst(s.next)
                s.next = 0
            }
            return waiter
        }
        next?.resume()
    }

    /// Requests on the wire now (for tests and the benchmark).
    public var running: Int { state.withLock { $0.running } }
}
