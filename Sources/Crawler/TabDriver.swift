import CrawlKit
import WebDriver

/// What a `TabLedger` of the crawler passes on to a record: the page read (or the failure, with
/// the page when it was read) and the artifacts saved with it.
struct Reading: Sendable {
    var outcome: Result<PageResult, VisitFailure>
    var artifacts: [String: String] = [:]

    init(_ outcome: Result<PageResult, VisitFailure>, artifacts: [String: String] = [:]) {
        self.outcome = outcome
        self.artifacts = artifacts
    }

    init(_ failure: VisitFailure) { self.init(.failure(failure)) }
}

typealias SessionLedger = TabLedger<Reading>

/// Runs one WebDriver session's `TabLedger`: executes each action it gives (the commands of
/// `TabDriver+Commands`, records, politeness releases) and answers it, until the ledger ends the
/// session. The rules are all in the ledger; this only speaks WebDriver. Used by one task.
final class TabDriver {
    let run: BatchRun
    let label: String
    let session: WebDriverSession
    /// The session's WebDriver BiDi connection (`crawl.webdriver`); nil: classic WebDriver only.
    let bidi: BiDiTabs?
    let queue: URLQueue
    var ledger: SessionLedger
    /// URLs handed on by the previous session: taken first.
    var carry: [SessionLedger.Pending]
    /// When each URL's first attempt began (its record's `startedAt` and `ms`), across sessions.
    var clocks: [Int: (startedAt: String, t0: ContinuousClock.Instant)]
    /// One load per URL in a tab: the state of its checks.
    var loads: [Int: TabLoad] = [:]
    /// URLs whose current attempt passed the network policy and waits for its host's hold.
    var policyPassed: Set<Int> = []
    /// The URLs taken, by position (a record names its URL after the ledger let it go).
    var items: [Int: WorkItem] = [:]
    /// The window the driver last switched to (nil: unknown, after a close).
    var current: String?
    /// Windows `prepareTab` has run in (the first one was prepared with the session).
    var prepared: Set<String> = []
    /// Windows whose document the check that read it also marked, and when: the next start in
    /// such a window within `markFresh` sends no `leave`.
    var marked: [String: ContinuousClock.Instant] = [:]
    /// Attempts begun in this session: each one's checks carry its own token.
    var attempts = 0
    /// The window of the last command that had one: over BiDi, where a probe is sent.
    var lastWindow: String?
    let origin = ContinuousClock.now

    /// Deadline of a window switch, a new tab, a close: commands the browser answers at once.
    static let windowDeadline: Duration = .seconds(3) + PageVisitor.margin

    /// How long a mark made by a read stands in for the next start's `leave`. The mark (and its
    /// cancelling of the page's own navigations) holds as long as the document does; but a
    /// navigation the page cannot be stopped from (a cross-document `history.back()`) could
    /// replace it by an unmarked document meanwhile, and the tab's next URL may wait for its
    /// host's politeness hold for seconds. Short: in a busy session the next start follows the
    /// read within a few commands; later, `leave` marks the document actually left.
    ///
    /// Zero for now (every start sends its `leave`, as before): with a second of freshness a
    /// `/no-content` URL was twice in about eleven runs recorded ok with the session's blank first
    /// page (`finalUrl: "data:,"`), never without it, and the cause is not found yet. A record must
    /// never describe another page; one command per page is the smaller loss.
    static let markFresh: Duration = .zero

    init(
        run: BatchRun, label: String, session: WebDriverSession, bidi: BiDiTabs? = nil, queue: URLQueue,
        firstWindow: String?, carry: [SessionLedger.Pending],
        clocks: [Int: (startedAt: String, t0: ContinuousClock.Instant)]
    ) {
        self.run = run
        self.label = label
        self.session = session
        self.bidi = bidi
        self.queue = queue
        self.carry = carry
        self.clocks = clocks
        current = firstWindow
        if let firstWindow { prepared = [firstWindow] }
        let o = run.options
        ledger = SessionLedger(
            options: .init(
                tabs: o.tabsPerSession, maxAttempts: o.maxAttempts, recycleAfter: o.recycleSessionAfter,
                pageLoadTimeout: .milliseconds(Int64(o.pageLoadTimeout * 1000)), retryBackoff: o.retryBackoff),
            firstWindow: firstWindow)
    }

    var now: Duration { ContinuousClock.now - origin }

    /// Works until the ledger ends the session: how it ended, and the URLs for the next one.
    func work() async -> (end: SessionLedger.SessionEnd, handedOn: [SessionLedger.Pending]) {
        var handed: [SessionLedger.Pending] = []
        var stopSent = false
        var actions = ledger.next(now: now)
        while true {
            if Task.isCancelled {
                actions = ledger.handle(.graceSpent, now: now)
            } else if !stopSent, run.stop.isSet {
                stopSent = true
                actions = ledger.handle(.stopRequested, now: now) + actions
            }
            var command: SessionLedger.Command?
            var wait: Duration?
            for action in actions {
                switch action {
                case .run(let c): command = c
                case .wait(let t): wait = t
                case .record(let id, let reading, let attempts, let backoffs):
                    await record(id, reading, attempts: attempts, backoffs: backoffs)
                case .releaseHost(let host): await run.pacer.release(host: host)
                case .handOn(let list): handed = list
                case .end(let end): return (end, handed)
                }
            }
            if let command {
                let event = await execute(command)
                actions = ledger.handle(event, now: now) + pushedLoads() + ledger.next(now: now)
            } else {
                if let wait { await pause(until: wait) }
                actions = pushedLoads() + ledger.next(now: now)
            }
        }
    }

    /// Sleeps until `t`, waking early for a stop (checked every 50 ms) or, over BiDi, for a page
    /// the browser says is worth checking (every 5 ms: a flag read, no command).
    private func pause(until t: Duration) async {
        let step: Duration = bidi == nil ? .milliseconds(50) : .milliseconds(5)
        // At least one real sleep: once stopping, a loop that never suspended would keep this
        // session's cooperative thread (over BiDi a check may need no command, so no I/O either),
        // and the tasks that deliver events and end the stop grace would never run.
        repeat {
            try? await Task.sleep(for: max(.milliseconds(1), min(t - now, step)))
        } while now < t && !run.stop.isSet && !Task.isCancelled && bidi?.hasPushed != true
    }

    /// The loads whose navigation events (BiDi) say their page is worth checking now.
    private func pushedLoads() -> [SessionLedger.Action] {
        guard let bidi else { return [] }
        var out: [SessionLedger.Action] = []
        for context in bidi.takePushed() {
            guard let tab = ledger.tabs.firstIndex(of: .open(window: context)), let id = ledger.url(in: tab) else {
                continue
            }
            out += ledger.handle(.loadPushed(id), now: now)
        }
        return out
    }

    private func record(_ id: Int, _ reading: Reading, attempts: Int, backoffs: Int) async {
        guard let item = item(id) else { return }
        let clock = clocks[id] ?? (Timestamp.now(), .now)
        loads[id] = nil
        switch reading.outcome {
        case .success(let page):
            _ = await run.record(
                item, attempts: attempts, startedAt: clock.startedAt, t0: clock.t0, page: page,
                artifacts: reading.artifacts, backoffs: backoffs)
        case .failure(let failure):
            _ = await run.record(
                item, attempts: attempts, startedAt: clock.startedAt, t0: clock.t0, failure: failure,
                artifacts: reading.artifacts, backoffs: backoffs)
        }
        clocks[id] = nil
        items[id] = nil
    }

    func item(_ id: Int) -> WorkItem? { items[id] }
}
