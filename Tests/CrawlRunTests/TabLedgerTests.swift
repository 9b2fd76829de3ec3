import Testing

@testable import Crawler

/// A session's tab rules without a browser: scripted WebDriver answers in, actions out, a test
/// clock. One test per row of README "One bad page never spoils the next" that the tab engine
/// decides, and per race the tabbed mode's history fixed (commit named in each).
@Suite struct TabLedgerTests {
    typealias L = TabLedger<String>

    /// Drives a ledger as the driver does, recording what it was told.
    struct Sim {
        var ledger: L
        var now: Duration = .zero
        var records: [Int: (page: String, attempts: Int, backoffs: Int)] = [:]
        var handedOn: [L.Pending] = []
        var ended: L.SessionEnd?
        var released: [String] = []
        var queue: [Int]
        var sent: [L.Command] = []

        init(tabs: Int = 1, urls: Int, maxAttempts: Int = 3, recycleAfter: Int = 1000, window: String? = "w0") {
            ledger = L(
                options: .init(
                    tabs: tabs, maxAttempts: maxAttempts, recycleAfter: recycleAfter, pageLoadTimeout: .seconds(30),
                    retryBackoff: 1, jitter: { 1 }),
                firstWindow: window)
            queue = Array(0..<urls)
        }

        mutating func apply(_ actions: [L.Action]) -> L.Command? {
            var command: L.Command?
            for a in actions {
                switch a {
                case .run(let c): command = c
                case .wait(let t): if t > now { now = t }
                case .record(let id, let page, let attempts, let backoffs): records[id] = (page, attempts, backoffs)
                case .releaseHost(let h): released.append(h)
                case .handOn(let list): handedOn += list
                case .end(let e): ended = e
                }
            }
            return command
        }

        /// The next command, advancing the clock through waits; `take` is answered from the queue.
        mutating func next(answeringTakes: Bool = true) -> L.Command? {
            for _ in 0..<1000 {
                guard ended == nil else { return nil }
                let actions = ledger.next(now: now)
                guard let c = apply(actions) else { continue }
                sent.append(c)
                if c == .take && answeringTakes {
                    let item = queue.isEmpty ? nil : queue.removeFirst()
                    let p = item.map {
                        L.Pending(WorkItem(index: $0, url: "http://h\($0 % 2)/\($0)", host: "h\($0 % 2)"))
                    }
                    _ = apply(ledger.handle(.taken(p), now: now))
                    continue
                }
                return c
            }
            Issue.record("the ledger never gave a command")
            return nil
        }

        mutating func answer(_ e: L.Event) { _ = apply(ledger.handle(e, now: now)) }

        /// Answers admissions, openings and starts until a check (or another command) is due.
        mutating func untilCheck() -> L.Command? {
            var n = 0
            while let c = next() {
                n += 1
                switch c {
                case .admit(let id, _): answer(.admitted(id))
                case .openTab(let tab): answer(.tabOpened(tab: tab, window: "w\(tab)-\(n)"))
                case .start(let id, _): answer(.started(id))
                default: return c
                }
            }
            return nil
        }

        /// Loads every URL: each check answers ready.
        mutating func readyAll() {
            while let c = untilCheck() {
                guard case .check(let id, _) = c else {
                    Issue.record("unexpected \(c)")
                    return
                }
                answer(.answered(id, .ready("page \(id)")))
            }
        }
    }

    // MARK: - Outcomes and attempts

    @Test func aReadyPageIsRecordedOnceWithOneAttempt() {
        var s = Sim(urls: 2)
        s.readyAll()
        #expect(s.records[0]?.page == "page 0" && s.records[0]?.attempts == 1)
        #expect(s.records[1]?.attempts == 1 && s.records[1]?.backoffs == 0)
        #expect(s.ended == .done)
        #expect(!s.sent.contains { if case .openTab = $0 { true } else { false } }, "one tab: its first window")
    }

    @Test func aRetryableFailureIsRetriedAfterItsBackoffThenRecorded() {
        var s = Sim(urls: 1, maxAttempts: 3)
        var checks: [Duration] = []
        while let c = s.untilCheck() {
            guard case .check(let id, _) = c else { break }
            checks.append(s.now)
            s.answer(.answered(id, .failed(.page(retryable: true), "HTTP 500")))
        }
        #expect(s.records[0]?.attempts == 3 && s.records[0]?.page == "HTTP 500")
        #expect(checks.count == 3)
        // Back-off 1 s then 2 s (retryBackoff × 2^(n-1), jitter fixed at 1).
        #expect(checks[1] - checks[0] >= .seconds(1) && checks[2] - checks[1] >= .seconds(2))
    }

    @Test func aPageFailureNotWorthRetryingIsRecordedAtOnce() {
        var s = Sim(urls: 1)
        guard case .check(let id, _)? = s.untilCheck() else { return #expect(Bool(false)) }
        s.answer(.answered(id, .failed(.page(retryable: false), "HTTP 404")))
        #expect(s.records[0]?.attempts == 1 && s.records[0]?.page == "HTTP 404")
    }

    @Test func aHostTheNetworkPolicyRefusesGetsItsRecordWithoutANavigation() {
        var s = Sim(urls: 1)
        guard case .admit(let id, _)? = s.next() else { return #expect(Bool(false)) }
        s.answer(.refused(id, "blocked"))
        #expect(s.records[0]?.attempts == 1 && s.records[0]?.page == "blocked")
        #expect(!s.sent.contains { if case .start = $0 { true } else { false } })
    }

    /// README "Every record describes its own URL": past its page-load timeout a load is stopped
    /// and its document marked (`stopLoad`) before its tab takes anything else, so a late answer
    /// never reads as the next URL's page. Charged.
    @Test func aLoadPastItsTimeoutIsStoppedBeforeItsTabTakesAnotherURL() {
        var s = Sim(urls: 2, maxAttempts: 1)
        guard case .check(let id, let window)? = s.untilCheck() else { return #expect(Bool(false)) }
        s.now += .seconds(31)
        s.answer(.answered(id, .loading))
        #expect(s.next() == .stopLoad(id, window: window))
        s.answer(.answered(id, .failed(.timedOut, "timeout")))
        #expect(s.records[0]?.attempts == 1 && s.records[0]?.page == "timeout")
        #expect(s.released == ["h0"], "its politeness hold ends with it")
    }

    // MARK: - Tabs

    /// 7dd6b10: the tab in the session's first window takes the first URL; a batch smaller than
    /// the tabs opens no tab it does not need.
    @Test func theFirstWindowTakesTheFirstURLAndNoTabIsOpenedInVain() {
        var s = Sim(tabs: 4, urls: 2)
        guard case .admit(0, _)? = s.next() else { return #expect(Bool(false)) }
        s.answer(.admitted(0))
        #expect(s.next() == .start(0, window: "w0"))
        s.answer(.started(0))
        s.readyAll()
        let opened = s.sent.filter { if case .openTab = $0 { true } else { false } }
        #expect(opened.count == 1, "two URLs, four tabs: one tab opened beside the first window")
        #expect(s.records.count == 2 && s.ended == .done)
    }

    @Test func tabsLoadTheirPagesAtTheSameTime() {
        var s = Sim(tabs: 3, urls: 3)
        var started = 0
        while let c = s.next() {
            switch c {
            case .admit(let id, _): s.answer(.admitted(id))
            case .openTab(let tab): s.answer(.tabOpened(tab: tab, window: "w\(tab)"))
            case .start(let id, _):
                started += 1
                s.answer(.started(id))
            case .check(let id, _):
                #expect(started == 3, "every tab started before the first check")
                s.answer(.answered(id, .ready("p")))
            default: Issue.record("unexpected \(c)")
            }
        }
        #expect(s.records.count == 3)
    }

    /// 1a426d0 / 82d15ab: closing a crashed tab that is the session's last window opens a
    /// replacement first; when none can be opened the window is kept and the session goes on.
    @Test func theLastWindowIsNeverClosed() {
        var s = Sim(tabs: 2, urls: 1)
        guard case .check(let id, let window)? = s.untilCheck() else { return #expect(Bool(false)) }
        s.answer(.tabLost(.crashed, "tab crashed"))
        #expect(s.next() == .closeTab(window: window, replaceFirst: true))
        s.answer(.tabClosed(replacement: nil))
        #expect(s.ledger.windows == [window], "kept open, unused")
        #expect(s.ended == nil)
        s.readyAll()
        #expect(s.records[id]?.attempts == 2, "the crashed attempt was charged")
        #expect(s.records.count == 1 && s.ended == .done)
    }

    /// README "A crashed tab": the tab is replaced (not the session), its URL retried alone: no
    /// other load starts until it has ended.
    @Test func aCrashedTabsURLIsRetriedAlone() {
        var s = Sim(tabs: 2, urls: 3)
        var loading: Set<Int> = []
        var crashed = false
        var aloneChecked = false
        while let c = s.next() {
            switch c {
            case .admit(let id, _): s.answer(.admitted(id))
            case .openTab(let tab): s.answer(.tabOpened(tab: tab, window: "w\(tab)-\(s.sent.count)"))
            case .closeTab: s.answer(.tabClosed(replacement: nil))
            case .start(let id, _):
                if crashed && s.records[0] == nil { #expect(id == 0 && loading.isEmpty, "the crashed URL alone") }
                loading.insert(id)
                s.answer(.started(id))
            case .check(let id, _) where id == 0 && !crashed:
                crashed = true
                loading.remove(id)
                s.answer(.tabLost(.crashed, "tab crashed"))
            case .check(let id, _):
                if crashed && id == 0 {
                    aloneChecked = loading == [0]
                }
                loading.remove(id)
                s.answer(.answered(id, .ready("p")))
            default: Issue.record("unexpected \(c)")
            }
        }
        #expect(aloneChecked)
        #expect(s.records[0]?.attempts == 2 && s.records.count == 3)
    }

    /// 82d15ab: a tab whose page is still navigating by itself cannot be marked: the tab is
    /// replaced and the URL starts again uncharged; after `maxReplacements` it is an attempt.
    @Test func aBusyTabIsReplacedWithoutChargingItsURL() {
        var s = Sim(tabs: 2, urls: 1, maxAttempts: 1)
        var replacements = 0
        while let c = s.next() {
            switch c {
            case .admit(let id, _): s.answer(.admitted(id))
            case .openTab(let tab): s.answer(.tabOpened(tab: tab, window: "w\(s.sent.count)"))
            case .closeTab: s.answer(.tabClosed(replacement: "r\(s.sent.count)"))
            case .start(let id, _):
                replacements += 1
                s.answer(.startFailed(id, .tabTrouble, "no working tab"))
            default: Issue.record("unexpected \(c)")
            }
        }
        #expect(replacements == 4, "three replacements, then the fourth failure counts")
        #expect(s.records[0]?.attempts == 1 && s.records[0]?.page == "no working tab")
    }

    // MARK: - One tab: the tab is the session

    /// README "A crashed tab", one tab per session: the session is replaced and the URL retried
    /// on the new one, charged.
    @Test func withOneTabACrashedTabLosesTheSession() {
        var s = Sim(urls: 2)
        guard case .check(let id, _)? = s.untilCheck() else { return #expect(Bool(false)) }
        s.answer(.tabLost(.crashed, "tab crashed"))
        #expect(s.ended == .lost && s.handedOn.map(\.item.index) == [id] && s.handedOn.first?.used == 1)
    }

    /// README "A hung renderer", one tab per session: no probe, the session is given up (its
    /// browser closed as unresponsive) and the hung URL is a charged `timeout`.
    @Test func withOneTabAHungPageAbandonsTheSession() {
        var s = Sim(urls: 2)
        guard case .check(let id, _)? = s.untilCheck() else { return #expect(Bool(false)) }
        s.answer(.missedDeadline("no answer"))
        #expect(s.ended == .abandoned && s.handedOn.first?.used == 1 && s.handedOn.first?.last == .timedOut)
        #expect(!s.sent.contains(.probe))
        _ = id
    }
}
