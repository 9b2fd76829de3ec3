import Synchronization

/// The turn to send commands to a tabbed session. A WebDriver session has one current window
/// and its driver runs one command at a time, so the tabs take turns: first come, first served,
/// except that a tab asking for the window that is already current goes first — it needs no
/// window switch, which costs the browser a repaint (about 35 ms of CPU, README "Benchmark") —
/// but never more than `maxPreferred` times in a row, so no tab waits for long.
actor CommandTurn {
    private var held = false
    private var current: String?
    private var preferredInARow = 0
    private var waiters: [(window: String, continuation: CheckedContinuation<Void, Never>)] = []
    static let maxPreferred = 4

    /// Waits for the turn to use `window`.
    func acquire(window: String) async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiters.append((window, $0)) }
    }

    /// Ends the turn; `window` is the window the session is now on.
    func release(window: String?) {
        current = window
        guard !waiters.isEmpty else {
            held = false
            return
        }
        var next = 0
        if preferredInARow < Self.maxPreferred, let current,
            let same = waiters.firstIndex(where: { $0.window == current })
        {
            next = same
            preferredInARow = same == 0 ? 0 : preferredInARow + 1
        } else {
            preferredInARow = 0
        }
        waiters.remove(at: next).continuation.resume()
    }
}

/// Which tabs of a session may have a page loading. Normally all of them (shared); a URL whose
/// last attempt crashed its tab is tried again alone (exclusive): a page that kills its renderer
/// then takes no other page with it, and the attempt that fails is its own. While an exclusive
/// load waits, no new shared load starts.
actor LoadGate {
    private var shared = 0
    private var exclusive = false
    private var sharedWaiters: [CheckedContinuation<Void, Never>] = []
    private var exclusiveWaiters: [CheckedContinuation<Void, Never>] = []

    func acquire(alone: Bool) async {
        if alone {
            if !exclusive && shared == 0 && exclusiveWaiters.isEmpty {
                exclusive = true
                return
            }
            await withCheckedContinuation { exclusiveWaiters.append($0) }
        } else {
            if !exclusive && exclusiveWaiters.isEmpty {
                shared += 1
                return
            }
            await withCheckedContinuation { sharedWaiters.append($0) }
        }
    }

    /// A shared load without waiting; false when it would have to wait.
    func tryAcquireShared() -> Bool {
        guard !exclusive && exclusiveWaiters.isEmpty else { return false }
        shared += 1
        return true
    }

    func release(alone: Bool) {
        if alone { exclusive = false } else { shared -= 1 }
        // Exclusive waiters first, once every shared load has ended; then every shared waiter.
        if !exclusive && shared == 0 && !exclusiveWaiters.isEmpty {
            exclusive = true
            exclusiveWaiters.removeFirst().resume()
        } else if !exclusive && exclusiveWaiters.isEmpty {
            shared += sharedWaiters.count
            for waiter in sharedWaiters { waiter.resume() }
            sharedWaiters.removeAll()
        }
    }
}

/// How long a session's recent pages took from their navigation to being found ready, as a
/// moving average: the first check of the next page waits most of it (`TabLoad.pause`).
final class ReadyTime: Sendable {
    private let average = Mutex<Double>(0)

    /// 70 % of the average, at most 1 s: a page faster than its predecessors costs little extra.
    var firstGuess: Duration { .milliseconds(Int64(min(1000, average.withLock { $0 } * 0.7))) }

    func add(_ d: Duration) {
        let ms = Double(SidecarProbe.ms(d))
        average.withLock { $0 = $0 == 0 ? ms : $0 * 0.8 + ms * 0.2 }
    }
}
