/// A `TabLedger`'s rules for trouble: a slow browser, a hung or crashed tab, a tab that cannot
/// start a URL, a lost session.
extension TabLedger {
    /// The command that missed its deadline answered the probe: the browser was slow (a loaded
    /// machine: measured in CI, a new tab took over 5 s), not hung. Nothing is closed — closing
    /// the current tab would fail another page's load — and the step is tried again.
    mutating func slow(_ c: Command, _ page: Page, now: Duration) -> [Action] {
        switch c {
        case .check(let id, _):
            guard case .loading(let tab, let navigated, let checks, _)? = pending[id]?.phase else { return [] }
            pending[id]?.phase = .loading(tab: tab, navigated: navigated, checks: checks, due: now)
            return []
        case .stopLoad(let id, _):
            // Past its page-load timeout the page has had its attempt, however slow the browser
            // was to stop it: charged, so a browser slow every time cannot retry it forever.
            return conclude(id, .timedOut, page, now: now)
        case .start(let id, _):
            return startAgain(id, else: .timedOut, page, now: now)
        case .openTab(let tab):
            tabs[tab] = .none
            guard let id = url(in: tab) else { return [] }
            return startAgain(id, else: .timedOut, page, now: now)
        case .closeTab(let window, _):
            if let tab = tabs.firstIndex(of: .closing(window: window)) { tabs[tab] = .none }
            return []
        default:
            return []
        }
    }

    /// The command's tab hung: its page target was closed (`ending` false), or could not be and
    /// the session is given up.
    mutating func hung(_ c: Command, _ page: Page, now: Duration, ending: Bool = false) -> [Action] {
        switch c {
        case .check(let id, _), .stopLoad(let id, _):
            return conclude(id, .timedOut, page, now: now, ending: ending)
        case .start(let id, _):
            return startAgain(id, else: .tabCrashed, page, now: now)
        case .openTab(let tab):
            tabs[tab] = .none
            guard let id = url(in: tab) else { return [] }
            return startAgain(id, else: .tabCrashed, page, now: now)
        default:
            return []
        }
    }

    mutating func tabLost(_ loss: TabLoss, _ page: Page, after c: Command, now: Duration) -> [Action] {
        if case .probing(let after, let first)? = trouble {
            trouble = .closingHung(after: after, first)
            return []
        }
        switch c {
        case .check(let id, let window), .stopLoad(let id, let window):
            lose(window, loss)
            return conclude(id, .tabCrashed, page, now: now)
        case .start(let id, _):
            return replaceTab(for: id, loss, page, now: now)
        case .openTab(let tab):
            // New Window needs an open current window, and this one was closed: another will do.
            if let window = current { forget(window) }
            tabs[tab] = .none
            guard let id = url(in: tab) else { return [] }
            return startAgain(id, else: .tabCrashed, page, now: now)
        case .closeTab(let window, _), .closeHung(let window):
            forget(window)
            return []
        default:
            return []
        }
    }

    /// The tab could not start `id`'s navigation (still navigating on its own, its previous page
    /// crashed): it is replaced, and `id` starts again uncharged.
    mutating func replaceTab(for id: URLID, _ loss: TabLoss, _ page: Page, now: Duration) -> [Action] {
        guard case .starting(let tab)? = pending[id]?.phase else { return [] }
        if let window = window(of: tab) { lose(window, loss) }
        return startAgain(id, else: .tabCrashed, page, now: now)
    }

    /// `id`'s navigation did not start for its tab's sake: it waits for a tab again, uncharged,
    /// until `maxReplacements` tabs in a row failed it; then that counts as an attempt failed
    /// with `failure`.
    mutating func startAgain(_ id: URLID, else failure: Failure, _ page: Page, now: Duration) -> [Action] {
        guard pending[id] != nil else { return [] }
        var out: [Action] = []
        if let host = pending[id]?.heldHost { out.append(.releaseHost(host)) }
        pending[id]?.phase = .waiting(notBefore: now)
        pending[id]?.replacements += 1
        guard let p = pending[id], p.replacements > options.maxReplacements else { return out }
        pending[id]?.used += 1
        return out + conclude(id, failure, page, now: now)
    }

    /// A tab's window went: closed by us (`crashed`: best effort) or already gone.
    mutating func lose(_ window: String, _ loss: TabLoss) {
        guard let tab = tabs.firstIndex(of: .open(window: window)) else { return }
        switch loss {
        case .crashed: tabs[tab] = .closing(window: window)
        case .closed:
            tabs[tab] = .none
            forget(window)
        }
    }

    /// `window` is closed: no tab has it, and it is not current.
    mutating func forget(_ window: String) {
        windows.removeAll { $0 == window }
        if current == window { current = nil }
        for tab in tabs.indices where tabs[tab] == .open(window: window) || tabs[tab] == .closing(window: window) {
            tabs[tab] = .none
        }
    }

    /// The session is lost or abandoned: the other pages loading in it end too — charged when it
    /// was lost by itself (any of them may have crashed it), not when another tab's hung page made
    /// us give it up — and every URL left goes to the next session.
    mutating func endSession(_ end: SessionEnd, _ page: Page, now: Duration) -> [Action] {
        var out: [Action] = []
        for id in order {
            guard case .loading? = pending[id]?.phase else { continue }
            out += conclude(id, end == .lost ? .sessionLost : .sessionAbandoned, page, now: now, ending: true)
        }
        return out + finish(end)
    }

    /// With one tab, the tab is the session: a crashed tab loses it, a hung one (no answer past
    /// its deadline) gives it up, and the next URL starts on a new session (README "One bad page
    /// never spoils the next"). The URL in it is charged when its navigation had started.
    mutating func oneTabLost(_ end: SessionEnd, _ page: Page, after c: Command, now: Duration) -> [Action] {
        var out: [Action] = []
        switch c {
        case .check(let id, _), .stopLoad(let id, _):
            out = conclude(id, end == .lost ? .tabCrashed : .timedOut, page, now: now, ending: true)
        case .start(let id, _):
            out = startAgain(id, else: .tabCrashed, page, now: now)
        default: break
        }
        return out + finish(end)
    }
}
