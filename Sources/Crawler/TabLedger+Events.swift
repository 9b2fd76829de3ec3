/// What goes in and out of a `TabLedger`.
extension TabLedger {
    /// One thing for the driver to do. A `.run` command is answered with an `Event` before the
    /// ledger gives the next; the others need no answer.
    enum Action: Sendable {
        case run(Command)
        /// Nothing to do before this time (or an answer, or `stopRequested`).
        case wait(until: Duration)
        /// Write the URL's one record.
        case record(URLID, Page, attempts: Int, backoffs: Int)
        /// Its politeness hold ends (`HostPacer.release`).
        case releaseHost(String)
        /// URLs for the next session, in this order (the session ended before they did).
        case handOn([Pending])
        /// Close the session (DELETE) and say why.
        case end(SessionEnd)
    }

    /// A command the driver runs and answers.
    enum Command: Sendable, Equatable {
        /// The next URL: one handed on by a previous session first, then the batch queue's.
        /// Answered `taken`.
        case take
        /// Answered `tabOpened`.
        case openTab(tab: Int)
        /// The network policy, then the host's politeness hold (`HostPacer.tryAcquire`).
        /// Answered `admitted`, `hostBusy` or `refused`.
        case admit(URLID, host: String)
        /// Mark the tab's document (`PageScripts.leave`) and send the navigation without waiting
        /// for it. Answered `started`, `startFailed`, or a trouble.
        case start(URLID, window: String)
        /// One readiness check (`PageScripts.poll`), reading the page when ready. Answered
        /// `answered`.
        case check(URLID, window: String)
        /// The page-load timeout passed: mark the document and stop the load
        /// (`PageScripts.leaveAndStop`), so a late answer never reads as the next URL's page.
        /// Answered `answered(.failed(.timedOut, …))`.
        case stopLoad(URLID, window: String)
        /// After a missed deadline: a trivial script in the current tab. Answered `probe`.
        case probe
        /// Close a hung tab's page target (DevTools), then check that the session answers.
        /// Answered `hungTabClosed`.
        case closeHung(window: String)
        /// Close a tab (its last window: open a replacement first, and keep it when none can be
        /// opened). Answered `tabClosed`.
        case closeTab(window: String, replaceFirst: Bool)
        /// The host answered 429 or 503: `HostPacer.backOff`. Answered `backedOff`.
        case backOff(URLID, host: String)

        var window: String? {
            switch self {
            case .start(_, let w), .check(_, let w), .stopLoad(_, let w), .closeHung(let w), .closeTab(let w, _): w
            default: nil
            }
        }

        var url: URLID? {
            switch self {
            case .admit(let id, _), .start(let id, _), .check(let id, _), .stopLoad(let id, _), .backOff(let id, _):
                id
            default: nil
            }
        }
    }

    /// The answer of a check.
    enum Answer: Sendable {
        /// Still loading.
        case loading
        case ready(Page)
        case failed(Failure, Page)
    }

    /// How a tab went.
    enum TabLoss: Sendable, Equatable {
        /// Its renderer crashed: its window is closed, best effort.
        case crashed
        /// Its window is gone already (closed by its page, or "no such window").
        case closed
    }

    enum Event: Sendable {
        case taken(Pending?)
        case tabOpened(tab: Int, window: String)
        case admitted(URLID)
        /// The host's politeness delay holds it: asked again after `politenessPoll`.
        case hostBusy(URLID)
        /// The network policy refuses the host: an attempt, and its record.
        case refused(URLID, Page)
        case started(URLID)
        /// The navigation itself failed (charged), or the tab could not start it (`tabTrouble`:
        /// replaced, uncharged).
        case startFailed(URLID, Failure, Page)
        case answered(URLID, Answer)
        case backedOff(URLID, wait: Duration)
        /// The command's tab was lost; `Page` is the failure its URL gets.
        case tabLost(TabLoss, Page)
        /// The session answers no more (`invalid session id`, a dead sidecar).
        case sessionLost(Page)
        /// The command outlasted its deadline; `Page` is the failure its URL gets if the tab hung.
        case missedDeadline(Page)
        /// The probe after a missed deadline: the page ran it (the browser was only slow) or not.
        case probe(answered: Bool)
        case hungTabClosed(Bool)
        /// A tab was closed; `replacement` is the window opened first to keep the session alive.
        case tabClosed(replacement: String?)
        /// The browser said that `id`'s page may be ready to check (WebDriver BiDi pushes its
        /// navigation's events): its check is due now, not at its polling time. Answers no command.
        case loadPushed(URLID)
        /// SIGTERM: nothing new starts; loads in flight may finish.
        case stopRequested
        /// The stop grace is spent: end now, leaving what is in flight without a record.
        case graceSpent
    }
}
