/// What the session does next: the order in which a `TabLedger` gives its commands.
extension TabLedger {
    /// The actions due at `now`: at most one command (none while one is out), or a wait, or the
    /// session's end.
    mutating func next(now: Duration) -> [Action] {
        guard command == nil, !isEnded else { return [] }
        if let c = chooseCommand(now: now) {
            command = c
            return [.run(c)]
        }
        if pending.isEmpty, case .draining(let drain) = life {
            return finish(drain == .recycle ? .recycle : drain == .stopping ? .stopped : .done)
        }
        let times = pending.values.compactMap { p -> Duration? in
            switch p.phase {
            case .waiting(let t): t
            case .admitting(_, let t): t
            case .loading(_, _, _, let t): t
            default: nil
            }
        }.filter { $0 > now }
        // Nothing timed (every tab busy with a command's answer): look again shortly.
        return [.wait(until: times.min() ?? now + options.politenessPoll)]
    }

    var isEnded: Bool {
        if case .ended = life { return true }
        return false
    }

    /// The command due now, in this order: settling a missed deadline, closing a tab, starting
    /// an admitted URL, admitting one, giving a free tab a URL, taking a URL, checking a load.
    private mutating func chooseCommand(now: Duration) -> Command? {
        switch trouble {
        case .probing?: return .probe
        case .closingHung(let after, _)?:
            guard let window = after.window ?? current else { return .probe }
            return .closeHung(window: window)
        case nil: break
        }
        for tab in tabs.indices {
            if case .closing(let window) = tabs[tab] {
                return .closeTab(window: window, replaceFirst: windows == [window])
            }
        }
        // A free tab gets its page going before any check: every tab loads at the same time.
        for id in order {
            guard let p = pending[id] else { continue }
            switch p.phase {
            case .starting(let tab):
                guard let window = window(of: tab) else {
                    tabs[tab] = .opening
                    return .openTab(tab: tab)
                }
                return .start(id, window: window)
            case .backingOff: return .backOff(id, host: p.item.host)
            case .admitting(_, let due) where due <= now: return .admit(id, host: p.item.host)
            default: continue
            }
        }
        if assignWaiting(now: now) { return chooseCommand(now: now) }
        if case .taking = life, freeTabs.count > waitingCount, !aloneBlocks { return .take }
        return dueCheck(now: now)
    }

    /// A load whose check is due; the current window's first (it needs no window switch, which
    /// costs the browser a repaint), but not more than `maxPreferred` times in a row while
    /// another tab waits.
    private mutating func dueCheck(now: Duration) -> Command? {
        var due: [(id: URLID, window: String, navigated: Duration, at: Duration)] = []
        for id in order {
            guard case .loading(let tab, let navigated, _, let at)? = pending[id]?.phase, at <= now,
                let window = window(of: tab)
            else { continue }
            due.append((id, window, navigated, at))
        }
        guard var pick = due.min(by: { $0.at < $1.at }) else { return nil }
        if let same = due.first(where: { $0.window == current }), same.id != pick.id,
            preferredInARow < Self.maxPreferred
        {
            pick = same
            preferredInARow += 1
        } else {
            preferredInARow = 0
        }
        // Timed out when the check fell due past the timeout: a check held up meanwhile behind
        // another tab's command (a hung page's, up to its deadline) still looks at its page once.
        if pick.at - pick.navigated >= options.pageLoadTimeout { return .stopLoad(pick.id, window: pick.window) }
        return .check(pick.id, window: pick.window)
    }

    /// Gives the first URL due to a free tab; false when none can start now.
    private mutating func assignWaiting(now: Duration) -> Bool {
        if case .draining(.stopping) = life { return false }
        guard !aloneBlocks,
            let id = order.first(where: { id in
                if case .waiting(let t)? = pending[id]?.phase { t <= now } else { false }
            }),
            let tab = freeTabs.first
        else { return false }
        // A crashed URL starts only once every other load has ended; while it waits, none starts.
        if pending[id]?.alone == true, !inFlight.isEmpty { return false }
        pending[id]?.phase = .admitting(tab: tab, due: now)
        if tab == 0 { firstTaken = true }
        return true
    }

    /// A URL tried alone is in flight, or waits for the others to end.
    private var aloneBlocks: Bool {
        inFlight.contains { pending[$0]?.alone == true }
            || (!inFlight.isEmpty
                && order.contains { id in
                    guard let p = pending[id], p.alone, case .waiting = p.phase else { return false }
                    return true
                })
    }

    /// Tabs holding no URL, the ones with a window first (the current one first of all). Until
    /// the first window's tab has taken the first URL, only that tab: a batch smaller than the
    /// tabs then opens no tab it does not need, and the first window is never left idle.
    var freeTabs: [Int] {
        let busy = Set(
            order.compactMap { id -> Int? in
                switch pending[id]?.phase {
                case .admitting(let t, _)?, .starting(let t)?, .loading(let t, _, _, _)?: t
                default: nil
                }
            })
        let free = tabs.indices.filter { tab in
            guard !busy.contains(tab), firstTaken || tab == 0 else { return false }
            switch tabs[tab] {
            case .none, .open: return true
            case .opening, .closing: return false
            }
        }
        return free.sorted { a, b in rank(a) < rank(b) }
    }

    private func rank(_ tab: Int) -> Int {
        guard let window = window(of: tab) else { return 2 }
        return window == current ? 0 : 1
    }

    /// URLs waiting for a tab (each keeps one free tab from taking a new URL, as a retry did in
    /// its own tab).
    var waitingCount: Int {
        pending.values.filter { if case .waiting = $0.phase { true } else { false } }.count
    }

    /// Ends the session: URLs it still holds go to the next one.
    mutating func finish(_ end: SessionEnd) -> [Action] {
        life = .ended(end)
        var out: [Action] = []
        var handed: [Pending] = []
        for id in order {
            guard var p = pending[id] else { continue }
            if let host = p.heldHost { out.append(.releaseHost(host)) }
            p.phase = .waiting(notBefore: .zero)
            if end == .lost || end == .abandoned { handed.append(p) }
        }
        pending = [:]
        order = []
        if !handed.isEmpty { out.append(.handOn(handed)) }
        out.append(.end(end))
        return out
    }
}

extension TabLedger.Pending {
    /// The host whose politeness hold this URL has (from its admission to its conclusion).
    var heldHost: String? {
        switch phase {
        case .starting, .loading: item.host
        default: nil
        }
    }
}
