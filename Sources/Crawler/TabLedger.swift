/// The rules of one WebDriver session's tabs as a plain value: which tab takes which URL, when a
/// load is checked, what an outcome costs, when a tab is closed or replaced, when the session
/// ends and which URLs go on to the next one. Events in (`handle`), actions out (`next`); no I/O
/// and no clock: every call carries `now`, the time since the session's driver started.
///
/// A WebDriver session runs one command at a time (chromedriver queues the rest), so the ledger
/// gives its driver one command at a time too, and learns its answer before the next: no two
/// tabs ever race for the session's current window, and a command that outlasts its deadline is
/// settled (slow browser or hung tab, `TabLedger+Trouble`) before anything else is sent.
///
/// `Page` is what the driver keeps for a record (the page read, or the failure with its page):
/// the ledger only passes it on. URLs are named by their position in the batch.
struct TabLedger<Page: Sendable>: Sendable {
    typealias URLID = Int

    struct Options: Sendable {
        /// `crawl.tabsPerSession`; 1 is the one-tab mode.
        var tabs: Int
        var maxAttempts: Int
        /// `crawl.recycleSessionAfter`: pages concluded before the session takes no new URL.
        var recycleAfter: Int
        var pageLoadTimeout: Duration
        /// `crawl.retryBackoff`, in seconds.
        var retryBackoff: Double
        /// Tabs replaced in a row before a URL's navigation could start, before it fails.
        var maxReplacements = 3
        /// How often a URL whose host is held by the politeness delay asks again.
        var politenessPoll: Duration = .milliseconds(50)
        /// The jitter of the retry back-off, a factor in [0.5, 1.5); tests fix it.
        var jitter: @Sendable () -> Double = { Double.random(in: 0.5..<1.5) }
    }

    /// A URL this session holds: waiting for a tab or its retry time, or in a tab.
    struct Pending: Sendable {
        let item: WorkItem
        /// Attempts counted against `maxAttempts`.
        var used = 0
        /// Times its host said 429/503 and it waited for the host's back-off.
        var backoffs = 0
        /// Tabs replaced in a row before its navigation could start.
        var replacements = 0
        /// When its first attempt began (its record's `startedAt`/`ms` start there).
        var firstAttempt: Duration?
        /// What ended its last attempt; a crash makes the next one run alone.
        var last: Failure?
        /// What its last failed attempt would record.
        var lastPage: Page?
        var phase: Phase = .waiting(notBefore: .zero)

        init(_ item: WorkItem) { self.item = item }

        /// After its tab crashed, the URL is tried alone in the session: a page that kills its
        /// renderer then takes no other page with it, and the attempt that fails is its own.
        var alone: Bool { last == .tabCrashed }
    }

    enum Phase: Sendable, Equatable {
        /// In the session's queue, not before the given time (a retry's back-off).
        case waiting(notBefore: Duration)
        /// Given a tab; the network policy and its host's politeness hold come first (asked
        /// again at `due` while the host is held).
        case admitting(tab: Int, due: Duration)
        /// Holding its host; its tab's document is marked and the navigation sent.
        case starting(tab: Int)
        /// Navigated at `navigated`; checked `checks` times; next check at `due`.
        case loading(tab: Int, navigated: Duration, checks: Int, due: Duration)
        /// Its host answered 429/503: the driver asks `HostPacer` how long to wait.
        case backingOff
    }

    /// Why an attempt ended without a page. What each costs is `Failure.charged`.
    enum Failure: Sendable, Equatable {
        /// The page's own failure (an HTTP error, DNS, a selector that never appeared…).
        case page(retryable: Bool)
        /// 429 or 503: the host asks us to slow down (`TabLedger+Trouble`).
        case throttled
        /// Past the page-load timeout.
        case timedOut
        /// Its renderer crashed, or hung and its tab was closed.
        case tabCrashed
        /// The whole session went (a dead browser or sidecar).
        case sessionLost
        /// The tab could not start it (still navigating on its own, its previous page crashed,
        /// or the browser stayed too slow): not the URL's doing.
        case tabTrouble
        /// Another tab's hung page made the session unusable.
        case sessionAbandoned

        /// Counted against `maxAttempts`.
        var charged: Bool {
            switch self {
            case .page, .timedOut, .tabCrashed, .sessionLost: true
            case .throttled, .tabTrouble, .sessionAbandoned: false
            }
        }

        var retryable: Bool {
            if case .page(let retryable) = self { return retryable }
            return true
        }
    }

    /// One tab of the session. Slot 0 is the session's first window.
    enum Tab: Sendable, Equatable {
        /// No window: one is opened when a URL needs it.
        case none
        case opening
        case open(window: String)
        /// To be closed (a crashed tab, or one that could not start a URL).
        case closing(window: String)
    }

    /// A command that outlasted its deadline, being settled: slow browser or hung tab.
    enum Trouble: Sendable {
        /// A trivial script is sent to the current tab.
        case probing(after: Command, Page)
        /// It did not run: the hung tab's page target is being closed.
        case closingHung(after: Command, Page)
    }

    /// The session's life: taking URLs, finishing those it holds, or over.
    enum Life: Sendable, Equatable {
        case taking
        /// No new URL: the queue ran out, the session is due to be recycled, or stopping.
        case draining(Drain)
        case ended(SessionEnd)
    }

    enum Drain: Sendable, Equatable {
        case queueEmpty
        case recycle
        /// SIGTERM: loads in flight may finish within the grace; nothing new starts.
        case stopping
    }

    enum SessionEnd: Sendable, Equatable {
        /// Every URL it took has its record.
        case done
        /// `recycleSessionAfter` pages: a new session takes the next URLs.
        case recycle
        /// Lost by itself: a new session is opened after a lost one.
        case lost
        /// Given up because a tab hung and could not be closed: its browser is closed as
        /// unresponsive.
        case abandoned
        /// Stopping: what was in flight is left without a record, for the coordinator.
        case stopped
    }

    let options: Options
    var tabs: [Tab]
    var pending: [URLID: Pending] = [:]
    /// URLs in the order they came (carried over first, then the queue's).
    var order: [URLID] = []
    var life: Life = .taking
    /// The command the driver is running; nil when none is out.
    var command: Command?
    /// Set while a missed deadline is being settled.
    var trouble: Trouble?
    /// Every window of the session not closed (the last one is never closed).
    var windows: [String]
    var current: String?
    /// Commands sent in a row to the current window while another tab waited (`maxPreferred`).
    var preferredInARow = 0
    /// Pages concluded in this session.
    var concluded = 0
    /// The first window's tab has taken the first URL (or there was none): other tabs may work.
    var firstTaken = false
    /// Moving average of recent pages' time from navigation to ready, in milliseconds.
    var readyAverage: Double = 0
    /// The queue answered empty: the ledger asks no more.
    var queueEmpty = false

    static var maxPreferred: Int { 4 }

    /// A session opened with `firstWindow` (nil when it has none: the first tab opens one).
    init(options: Options, firstWindow: String?) {
        self.options = options
        tabs = Array(repeating: .none, count: max(1, options.tabs))
        windows = []
        if let firstWindow {
            tabs[0] = .open(window: firstWindow)
            windows = [firstWindow]
            current = firstWindow
        }
    }

    /// The first check of a page waits most of the time recent pages took to be ready (70 % of
    /// the average, at most 1 s): a check sent before the navigation has answered is held by
    /// chromedriver and holds every other tab's commands meanwhile.
    var firstGuess: Duration { .milliseconds(Int64(min(1000, readyAverage * 0.7))) }

    /// The pause before check number `checks + 1`: short at first, longer for a slow page.
    func pause(checks: Int) -> Duration {
        checks == 0 ? firstGuess : .milliseconds(Int64(min(200, 10 * (1 << min(checks - 1, 5)))))
    }

    /// Jittered exponential back-off after charged attempt `attempt`: retryBackoff × 2^(n-1) ×
    /// jitter, at most 30 s.
    func backoff(attempt: Int) -> Duration {
        let base = options.retryBackoff * Double(1 << min(max(attempt, 1) - 1, 10))
        return .milliseconds(Int64(min(30, base * options.jitter()) * 1000))
    }

    /// URLs holding a tab.
    var inFlight: [URLID] {
        order.filter { id in
            switch pending[id]?.phase {
            case .admitting?, .starting?, .loading?: true
            default: false
            }
        }
    }

    func url(in tab: Int) -> URLID? {
        order.first { id in
            switch pending[id]?.phase {
            case .admitting(let t, _), .starting(let t), .loading(let t, _, _, _): t == tab
            default: false
            }
        }
    }

    func window(of tab: Int) -> String? {
        if case .open(let window) = tabs[tab] { return window }
        return nil
    }
}
