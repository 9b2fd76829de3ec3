/// How a `TabLedger` takes each answer: what an outcome costs a URL, when a tab is replaced,
/// when the session ends.
extension TabLedger {
    /// Takes `event` (the answer to the command out, or a stop) at `now`; returns what must be
    /// done at once (records, politeness releases, the session's end).
    mutating func handle(_ event: Event, now: Duration) -> [Action] {
        guard !isEnded else { return [] }
        switch event {
        case .stopRequested: return stop()
        case .graceSpent: return finish(.stopped)
        case .loadPushed(let id):
            // Needs no command, and may come while one is out.
            if case .loading(let tab, let navigated, let checks, let due)? = pending[id]?.phase, due > now {
                pending[id]?.phase = .loading(tab: tab, navigated: navigated, checks: checks, due: now)
            }
            return []
        default: break
        }
        guard let c = command else { return [] }
        command = nil
        switch event {
        case .taken(let p?):
            pending[p.item.index] = p
            order.append(p.item.index)
            return []
        case .taken(nil):
            firstTaken = true
            if case .taking = life { life = .draining(.queueEmpty) }
            return []
        case .tabOpened(let tab, let window):
            tabs[tab] = .open(window: window)
            windows.append(window)
            return []
        case .admitted(let id):
            if case .draining(.stopping) = life { return drop(id) }
            guard case .admitting(let tab, _)? = pending[id]?.phase else { return [] }
            pending[id]?.phase = .starting(tab: tab)
            return []
        case .hostBusy(let id):
            guard case .admitting(let tab, _)? = pending[id]?.phase else { return [] }
            let due = now + options.politenessPoll
            pending[id]?.phase = .admitting(tab: tab, due: due)
            return []
        case .refused(let id, let page):
            pending[id]?.used += 1
            return conclude(id, .page(retryable: false), page, now: now)
        case .started(let id):
            guard case .starting(let tab)? = pending[id]?.phase else { return [] }
            pending[id]?.used += 1
            current = window(of: tab)
            let due = now + firstGuess
            pending[id]?.phase = .loading(tab: tab, navigated: now, checks: 0, due: due)
            return []
        case .startFailed(let id, .tabTrouble, let page):
            if options.tabs == 1 { return startAgain(id, else: .tabCrashed, page, now: now) + finish(.abandoned) }
            return replaceTab(for: id, .crashed, page, now: now)
        case .startFailed(let id, let failure, let page):
            pending[id]?.used += 1
            return conclude(id, failure, page, now: now)
        case .answered(let id, let answer):
            return answered(id, answer, now: now)
        case .backedOff(let id, let wait):
            return backedOff(id, wait: wait, now: now)
        case .tabLost(let loss, let page):
            if options.tabs == 1 { return oneTabLost(.lost, page, after: c, now: now) }
            return tabLost(loss, page, after: c, now: now)
        case .sessionLost(let page):
            var out: [Action] = []
            if let id = c.url, pending[id] != nil {
                if case .starting = pending[id]?.phase { pending[id]?.used += 1 }
                out += conclude(id, .sessionLost, page, now: now, ending: true)
            }
            return out + endSession(.lost, page, now: now)
        case .missedDeadline(let page):
            if options.tabs == 1 { return oneTabLost(.abandoned, page, after: c, now: now) }
            trouble = .probing(after: c, page)
            return []
        case .probe(let answered):
            guard case .probing(let after, let page)? = trouble else { return [] }
            if answered {
                trouble = nil
                return slow(after, page, now: now)
            }
            trouble = .closingHung(after: after, page)
            return []
        case .hungTabClosed(let closed):
            guard case .closingHung(let after, let page)? = trouble else { return [] }
            trouble = nil
            if closed {
                if let window = after.window ?? current { forget(window) }
                return hung(after, page, now: now)
            }
            return hung(after, page, now: now, ending: true) + endSession(.abandoned, page, now: now)
        case .tabClosed(let replacement):
            guard case .closeTab(let window, let replaceFirst) = c,
                let tab = tabs.firstIndex(of: .closing(window: window))
            else { return [] }
            if let replacement {
                windows.append(replacement)
                tabs[tab] = .open(window: replacement)
            } else {
                tabs[tab] = .none
            }
            // The last window is kept (unused) when no tab could replace it: closing it would
            // end the session, and every page in flight with it.
            if !(replaceFirst && replacement == nil) { forget(window) }
            return []
        case .stopRequested, .graceSpent, .loadPushed:
            return []
        }
    }

    // MARK: - Outcomes

    private mutating func answered(_ id: URLID, _ answer: Answer, now: Duration) -> [Action] {
        guard case .loading(let tab, let navigated, let checks, _)? = pending[id]?.phase else { return [] }
        switch answer {
        case .loading:
            let due = now + pause(checks: checks + 1)
            pending[id]?.phase = .loading(tab: tab, navigated: navigated, checks: checks + 1, due: due)
            return []
        case .ready(let page):
            let ms =
                Double((now - navigated).components.seconds) * 1000
                + Double((now - navigated).components.attoseconds) / 1e15
            readyAverage = readyAverage == 0 ? ms : readyAverage * 0.8 + ms * 0.2
            return conclude(id, nil, page, now: now)
        case .failed(.throttled, let page):
            var out = release(id)
            pending[id]?.phase = .backingOff
            pending[id]?.lastPage = page
            out += count()
            return out
        case .failed(let failure, let page):
            return conclude(id, failure, page, now: now)
        }
    }

    /// The end of one attempt at `id`: its record, a retry after the back-off, or (the session
    /// ending) a hand-over to the next session. `failure` nil: the page was read.
    mutating func conclude(
        _ id: URLID, _ failure: Failure?, _ page: Page, now: Duration, ending: Bool = false
    ) -> [Action] {
        guard var p = pending[id] else { return [] }
        var out = release(id)
        out += count()
        guard let failure else { return out + record(id, page) }
        if !failure.charged { p.used = max(0, p.used - 1) }
        p.last = failure
        p.lastPage = page
        p.phase = .waiting(notBefore: now)
        pending[id] = p
        if case .draining(.stopping) = life {
            // Stopping: a retryable failure is left without a record, for the coordinator.
            return out + (failure.retryable ? drop(id) : record(id, page))
        }
        guard !failure.charged || (failure.retryable && p.used < options.maxAttempts) else {
            return out + record(id, page)
        }
        if failure.charged && !ending {
            let retryAt = now + backoff(attempt: p.used)
            pending[id]?.phase = .waiting(notBefore: retryAt)
        }
        return out
    }

    private mutating func backedOff(_ id: URLID, wait: Duration, now: Duration) -> [Action] {
        guard var p = pending[id], case .backingOff = p.phase else { return [] }
        p.backoffs += 1
        // The first back-off costs no attempt: the host asked us to wait, the page did not fail.
        if p.backoffs == 1 { p.used = max(0, p.used - 1) }
        p.last = .throttled
        p.phase = .waiting(notBefore: now + wait)
        pending[id] = p
        if case .draining(.stopping) = life { return drop(id) }
        if p.used >= options.maxAttempts, let page = p.lastPage { return record(id, page) }
        return []
    }

    /// Counts a page concluded; past `recycleSessionAfter`, the session takes no new URL.
    private mutating func count() -> [Action] {
        concluded += 1
        if concluded >= options.recycleAfter, case .taking = life { life = .draining(.recycle) }
        return []
    }

    private mutating func record(_ id: URLID, _ page: Page) -> [Action] {
        guard let p = pending.removeValue(forKey: id) else { return [] }
        order.removeAll { $0 == id }
        return [.record(id, page, attempts: p.used, backoffs: p.backoffs)]
    }

    /// Forgets `id` without a record (stopping: the coordinator retries it).
    private mutating func drop(_ id: URLID) -> [Action] {
        let out = release(id)
        pending[id] = nil
        order.removeAll { $0 == id }
        return out
    }

    /// Ends `id`'s politeness hold, if it has one.
    private mutating func release(_ id: URLID) -> [Action] {
        guard let host = pending[id]?.heldHost else { return [] }
        pending[id]?.phase = .waiting(notBefore: .zero)
        return [.releaseHost(host)]
    }

    private mutating func stop() -> [Action] {
        life = .draining(.stopping)
        var out: [Action] = []
        for id in order {
            switch pending[id]?.phase {
            case .loading?: continue  // may finish within the grace
            default:
                // Not started: nothing new starts (the one whose command is out is dropped at
                // its answer).
                if command?.url == id { continue }
                out += drop(id)
            }
        }
        return out
    }
}
