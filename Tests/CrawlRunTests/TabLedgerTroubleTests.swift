import Testing

@testable import Crawler

/// The tab rules for trouble (slow browser, hung tab, lost session), politeness, recycling,
/// SIGTERM and 429/503, without a browser.
@Suite struct TabLedgerTroubleTests {
    typealias Sim = TabLedgerTests.Sim
    typealias L = TabLedger<String>

    /// Two tabs loading URLs 0 and 1; returns at the first check of URL 0.
    func twoLoading(urls: Int = 2) -> (Sim, L.Command) {
        var s = Sim(tabs: 2, urls: urls)
        while let c = s.next() {
            switch c {
            case .admit(let id, _): s.answer(.admitted(id))
            case .openTab(let tab): s.answer(.tabOpened(tab: tab, window: "w\(tab)"))
            case .start(let id, _): s.answer(.started(id))
            default: return (s, c)
            }
        }
        return (s, .probe)
    }

    /// fbd33e9: after a missed deadline the page must fail a trivial script before its tab is
    /// closed; a browser that answers it was only slow: nothing closed, nothing charged.
    @Test func aSlowBrowserIsNotTakenForAHungTab() {
        var (s, c) = twoLoading()
        guard case .check(let id, _) = c else { return #expect(Bool(false)) }
        s.answer(.missedDeadline("no answer"))
        #expect(s.next() == .probe)
        s.answer(.probe(answered: true))
        s.readyAll()
        #expect(!s.sent.contains { if case .closeHung = $0 { true } else { false } })
        #expect(!s.sent.contains { if case .closeTab = $0 { true } else { false } })
        #expect(s.records[id]?.attempts == 1 && s.records.count == 2)
    }

    /// README "A hung renderer" (d48bb78): its page target is closed alone; its URL is a charged
    /// `timeout`, retried; the other tab's page goes on.
    @Test func aHungTabIsClosedAloneAndItsURLRetried() {
        var (s, c) = twoLoading()
        guard case .check(let id, let window) = c else { return #expect(Bool(false)) }
        s.answer(.missedDeadline("hung"))
        #expect(s.next() == .probe)
        s.answer(.probe(answered: false))
        #expect(s.next() == .closeHung(window: window))
        s.answer(.hungTabClosed(true))
        #expect(!s.ledger.windows.contains(window))
        s.readyAll()
        #expect(s.records[id]?.attempts == 2, "the hung attempt counts")
        #expect(s.records[1 - id]?.attempts == 1, "the other tab's page was not disturbed")
        #expect(s.ended == .done)
    }

    /// README "A hung renderer": a hung tab that cannot be closed gives the session up; its URL
    /// is charged, the other tab's is not, and both go on to the next session.
    @Test func aHungTabThatCannotBeClosedAbandonsTheSession() {
        var (s, c) = twoLoading(urls: 3)
        guard case .check(let id, _) = c else { return #expect(Bool(false)) }
        s.answer(.missedDeadline("hung"))
        _ = s.next()
        s.answer(.probe(answered: false))
        _ = s.next()
        s.answer(.hungTabClosed(false))
        #expect(s.ended == .abandoned)
        let handed = Dictionary(uniqueKeysWithValues: s.handedOn.map { ($0.item.index, $0.used) })
        #expect(handed[id] == 1 && handed[1 - id] == 0)
        #expect(s.records.isEmpty)
    }

    /// a1f7b62: a load past its page-load timeout is charged even when the browser was slow to
    /// stop it (no endless uncharged retries).
    @Test func aTimeoutIsChargedEvenWhenTheBrowserWasSlowToStopIt() {
        var s = Sim(tabs: 2, urls: 1, maxAttempts: 1)
        guard case .check(let id, _)? = s.untilCheck() else { return #expect(Bool(false)) }
        s.now += .seconds(30)
        s.answer(.answered(id, .loading))
        guard case .stopLoad? = s.next() else { return #expect(Bool(false)) }
        s.answer(.missedDeadline("navigate timed out"))
        #expect(s.next() == .probe)
        s.answer(.probe(answered: true))
        #expect(s.records[id]?.attempts == 1 && s.records[id]?.page == "navigate timed out")
    }

    /// A session lost by itself (a dead browser): every page loading in it is charged (any of
    /// them may have crashed it), a URL not yet started is not, and all go to the next session.
    @Test func aLostSessionChargesItsLoadsAndHandsEveryURLOn() {
        var (s, c) = twoLoading(urls: 3)
        guard case .check(let id, _) = c else { return #expect(Bool(false)) }
        s.answer(.sessionLost("invalid session id"))
        #expect(s.ended == .lost)
        #expect(Set(s.handedOn.map(\.item.index)) == [0, 1], "URL 2 was never taken")
        #expect(s.handedOn.allSatisfy { $0.used == 1 })
        #expect(s.released.sorted() == ["h0", "h1"], "every politeness hold ends")
        _ = id
    }

    @Test func aLostSessionRecordsAURLOutOfAttempts() {
        var s = Sim(urls: 1, maxAttempts: 1)
        guard case .check(let id, _)? = s.untilCheck() else { return #expect(Bool(false)) }
        s.answer(.sessionLost("browser gone"))
        #expect(s.records[id]?.page == "browser gone" && s.records[id]?.attempts == 1)
        #expect(s.handedOn.isEmpty && s.ended == .lost)
    }

    @Test func aURLHandedOnKeepsItsAttempts() {
        var s = Sim(urls: 0, maxAttempts: 3)
        var carried = L.Pending(WorkItem(index: 7, url: "http://h1/7", host: "h1"))
        carried.used = 2
        s.queue = []
        guard s.next(answeringTakes: false) == .take else { return #expect(Bool(false)) }
        s.answer(.taken(carried))
        guard case .check(7, _)? = s.untilCheck() else { return #expect(Bool(false)) }
        s.answer(.answered(7, .failed(.page(retryable: true), "HTTP 503 once more")))
        #expect(s.records[7]?.attempts == 3, "2 before, 1 here: out of attempts")
    }

    // MARK: - Politeness, recycling, stop

    @Test func aHostHeldByItsPolitenessDelayIsAskedAgainLater() {
        var s = Sim(urls: 1)
        guard case .admit(let id, _)? = s.next() else { return #expect(Bool(false)) }
        s.answer(.hostBusy(id))
        let asked = s.now
        guard case .admit? = s.next() else { return #expect(Bool(false)) }
        #expect(s.now - asked == .milliseconds(50))
        s.answer(.admitted(id))
        s.readyAll()
        #expect(s.released == ["h0"])
    }

    @Test func aSessionIsRecycledAfterItsPages() {
        var s = Sim(urls: 5, recycleAfter: 2)
        s.readyAll()
        #expect(s.records.count == 2 && s.ended == .recycle)
        #expect(s.queue == [2, 3, 4], "the rest for the next session")
    }

    /// SIGTERM: nothing new starts; a load in flight may finish within the grace; a retryable
    /// failure while stopping is left without a record, for the coordinator.
    @Test func stoppingLetsLoadsFinishAndRecordsNoRetryableFailure() {
        var (s, c) = twoLoading(urls: 4)
        guard case .check(let id, _) = c else { return #expect(Bool(false)) }
        s.answer(.stopRequested)
        s.answer(.answered(id, .ready("read")))
        guard case .check(let other, _)? = s.next() else { return #expect(Bool(false)) }
        s.answer(.answered(other, .failed(.timedOut, "timeout")))
        #expect(s.next() == nil)
        #expect(s.records.count == 1 && s.records[id]?.page == "read")
        #expect(s.ended == .stopped)
        #expect(s.queue == [2, 3], "nothing new taken")
    }

    @Test func theGraceSpentEndsTheSessionAtOnceWithoutRecords() {
        var (s, _) = twoLoading()
        s.answer(.stopRequested)
        s.answer(.graceSpent)
        #expect(s.ended == .stopped && s.records.isEmpty && s.handedOn.isEmpty)
    }

    // MARK: - Checks

    /// 83a91b5: the first check of a page waits most of the session's recent time-to-ready.
    @Test func theFirstCheckWaitsMostOfTheRecentTimeToReady() {
        var s = Sim(urls: 2)
        guard case .check(let id, _)? = s.untilCheck() else { return #expect(Bool(false)) }
        s.now += .milliseconds(1000)
        s.answer(.answered(id, .ready("p")))
        let before = s.now
        guard case .admit(let next, _)? = s.next() else { return #expect(Bool(false)) }
        s.answer(.admitted(next))
        _ = s.next()
        s.answer(.started(next))
        guard case .check? = s.next() else { return #expect(Bool(false)) }
        #expect(s.now - before == .milliseconds(700))
    }

    /// Over WebDriver BiDi the browser pushes a navigation's load: the check falls due at once,
    /// not at its polling time; a push while the navigation is still being sent changes nothing
    /// (and leaves the command out).
    @Test func aPushedLoadMakesTheCheckDueAtOnce() {
        var s = Sim(urls: 2)
        guard case .check(let id, _)? = s.untilCheck() else { return #expect(Bool(false)) }
        s.now += .milliseconds(1000)
        s.answer(.answered(id, .ready("p")))
        guard case .admit(let next, _)? = s.next() else { return #expect(Bool(false)) }
        s.answer(.admitted(next))
        guard case .start? = s.next() else { return #expect(Bool(false)) }
        s.answer(.loadPushed(next))
        s.answer(.started(next))
        let started = s.now
        s.answer(.loadPushed(next))
        guard case .check(let checked, _)? = s.next() else { return #expect(Bool(false)) }
        #expect(checked == next && s.now == started, "without the push: 700 ms later")
    }

    @Test func theCurrentWindowGoesFirstButNotForever() {
        var (s, _) = twoLoading()
        // Both loads are due; answer "loading" each time and watch the windows alternate.
        var windows: [String] = []
        s.answer(.answered(0, .loading))
        for _ in 0..<12 {
            guard case .check(let id, let window)? = s.next() else { break }
            windows.append(window)
            s.now += .milliseconds(300)  // both due again
            s.answer(.answered(id, .loading))
        }
        var run = 0
        var longest = 0
        for (i, w) in windows.enumerated() {
            run = i > 0 && windows[i - 1] == w ? run + 1 : 1
            longest = max(longest, run)
        }
        #expect(Set(windows).count == 2 && longest <= L.maxPreferred + 1)
    }

    // MARK: - 429/503 (issue 25)

    /// A host that answers 429/503 is backed off (`HostPacer.backOff`): the first back-off costs
    /// no attempt, later ones do; the record counts them.
    @Test func aThrottledURLWaitsItsBackOffAndTheFirstIsFree() {
        var s = Sim(urls: 1, maxAttempts: 2)
        var throttles = 0
        while let c = s.untilCheck() {
            switch c {
            case .check(let id, _):
                throttles += 1
                s.answer(.answered(id, throttles <= 2 ? .failed(.throttled, "HTTP 429") : .ready("p")))
            case .backOff(let id, let host):
                #expect(host == "h0")
                s.answer(.backedOff(id, wait: .seconds(4)))
            default: Issue.record("unexpected \(c)")
            }
        }
        #expect(s.records[0]?.page == "p" && s.records[0]?.backoffs == 2)
        #expect(s.records[0]?.attempts == 2, "the second back-off was charged")
        #expect(s.now >= .seconds(8))
    }

    @Test func aThrottledURLOutOfAttemptsKeepsItsLastAnswer() {
        var s = Sim(urls: 1, maxAttempts: 1)
        while let c = s.untilCheck() {
            switch c {
            case .check(let id, _): s.answer(.answered(id, .failed(.throttled, "HTTP 503")))
            case .backOff(let id, _): s.answer(.backedOff(id, wait: .seconds(1)))
            default: Issue.record("unexpected \(c)")
            }
        }
        #expect(s.records[0]?.page == "HTTP 503" && s.records[0]?.backoffs == 2 && s.records[0]?.attempts == 1)
    }
}
