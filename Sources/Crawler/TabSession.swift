import Synchronization
import WebDriver

/// A WebDriver session whose tabs load pages at the same time (`crawl.tabsPerSession`).
///
/// WebDriver has one current window per session and chromedriver runs a session's commands one
/// after another, so the tabs take turns (`CommandTurn`), each turn switching to its tab when it
/// is not the current one. A tab whose renderer hangs holds the command sent to it, and every
/// later command of every session on that browser waits behind it (measured with chromedriver
/// 156, README "The crawler"): its page target is closed through the browser's DevTools
/// endpoint, which ends the held command and frees the session for the other tabs. When that
/// cannot be done the session is given up, and the other tabs' pages are tried again elsewhere
/// without counting it against them.
final class TabSession: Sendable {
    let session: WebDriverSession
    let label: String
    let closer: SessionCloser
    let log: Log
    private let turn = CommandTurn()
    private let state = Mutex<State>(State())

    struct State {
        var current: String?
        /// Set once the session is unusable: what every later command of it fails with.
        var lost: VisitFailure?
        /// The session was given up by the crawler because of a hung tab (not lost by itself).
        var abandoned = false
        /// The windows this session opened and has not closed (`closeTab` keeps one open).
        var open: Set<String> = []
        /// The windows `prepare` has run in (the first one was prepared with the session).
        var prepared: Set<String> = []
    }

    /// Its `prepareTab` runs in each new tab before the tab's first command (`crawl.headers`,
    /// which a new tab does not inherit); nil when the job needs nothing.
    let prepare: PageVisitor?

    /// Deadline of a window switch, a new tab, a close: commands the browser answers at once.
    static let windowDeadline: Duration = .seconds(3) + PageVisitor.margin

    init(
        session: WebDriverSession, label: String, closer: SessionCloser, log: Log, firstWindow: String,
        prepare: PageVisitor? = nil
    ) {
        self.prepare = prepare
        self.session = session
        self.label = label
        self.closer = closer
        self.log = log
        state.withLock {
            $0.current = firstWindow
            $0.open = [firstWindow]
            $0.prepared = [firstWindow]
        }
    }

    var lost: VisitFailure? { state.withLock { $0.lost } }
    var currentWindow: String? { state.withLock { $0.current } }
    /// True when the session was given up because a tab hung and could not be closed alone.
    var abandoned: Bool { state.withLock { $0.abandoned } }

    /// Runs `body` in this session's turn with `window` as the current window (nil: any open
    /// window, for commands that act on the session rather than a tab).
    func withWindow<T: Sendable>(
        _ window: String?, _ body: (WebDriverSession) async throws(VisitFailure) -> T
    ) async throws(VisitFailure) -> T {
        await turn.acquire(window: window ?? "")
        let result = await inTurn(window, body)
        await turn.release(window: state.withLock { $0.current })
        return try result.get()
    }

    private func inTurn<T: Sendable>(
        _ wanted: String?, _ body: (WebDriverSession) async throws(VisitFailure) -> T
    ) async -> Result<T, VisitFailure> {
        if let lost = lost { return .failure(lost) }
        var window = wanted ?? state.withLock { $0.current } ?? ""
        if window.isEmpty {
            // The current window was closed: any open one will do (New Window needs one).
            do {
                guard let open = try await session.windowHandles(timeout: Self.windowDeadline).first else {
                    let failure = VisitFailure(.browserCrash, "the session has no window left", sessionLost: true)
                    markLost(failure, abandoned: false)
                    return .failure(failure)
                }
                window = open
            } catch {
                return .failure(await settle(ErrorClassifier.classify(error, during: "listing tabs"), window: ""))
            }
        }
        if state.withLock({ $0.current }) != window {
            do {
                try await session.switchToWindow(window, timeout: Self.windowDeadline)
                state.withLock { $0.current = window }
            } catch {
                let failure = ErrorClassifier.classify(error, during: "switching to its tab")
                let noSuchWindow = (error as? WebDriverError)?.code == .noSuchWindow
                return .failure(await settle(failure, window: window, noSuchWindow: noSuchWindow))
            }
        }
        do {
            if let prepare, state.withLock({ !$0.prepared.contains(window) }) {
                try await prepare.prepareTab(session)
                state.withLock { _ = $0.prepared.insert(window) }
            }
            return .success(try await body(session))
        } catch {
            return .failure(await settle(error, window: window))
        }
    }

    /// Makes the session usable again after `failure` in `window`'s turn, or marks it lost. For
    /// a failure caught inside a `withWindow` body (which still holds the turn).
    func settle(_ failure: VisitFailure, window: String, noSuchWindow: Bool = false) async -> VisitFailure {
        var failure = failure
        if noSuchWindow {
            forget(window, always: true)
            failure.tabLost = true
            return failure
        }
        if failure.tabLost {
            return failure  // a crashed tab: the owner closes it and opens another
        }
        if failure.unresponsive {
            if await answersAgain() {
                // Slow, not hung: a command that outlasts its deadline holds every later one of
                // the session, so a browser that answers the next one had only fallen behind (a
                // loaded machine: measured in CI, a new tab took over 5 s). Closing the current
                // tab would fail another page's load.
                log.warn("\(label): the browser was slow (\(failure.message)); it answers again, nothing closed")
                failure.unresponsive = false
                failure.slow = true
                failure.notCharged = true
                return failure
            }
            if await closeHung(window) {
                failure.tabLost = true
                failure.sessionLost = false
                failure.unresponsive = false
                return failure
            }
            markLost(failure, abandoned: true)
            return failure
        }
        if failure.sessionLost { markLost(failure, abandoned: false) }
        return failure
    }

    /// True when the current tab's page runs a trivial script within `windowDeadline`.
    /// chromedriver runs a session's commands one after another, so the script waits for the
    /// late command before it, then for the page's renderer: a hung renderer never runs it (a
    /// command that needs only the browser, such as listing the windows, would answer).
    private func answersAgain() async -> Bool {
        do {
            _ = try await session.execute("return 1", timeout: Self.windowDeadline)
            return true
        } catch let error as WebDriverError {
            // A dialog answers for its page: the page runs.
            return error.code == .unexpectedAlertOpen
        } catch {
            return false
        }
    }

    /// Closes a tab whose renderer does not answer, and checks that the session answers again.
    private func closeHung(_ window: String) async -> Bool {
        guard await closer.closeTarget(session, id: window) else { return false }
        do {
            _ = try await session.windowHandles(timeout: Self.windowDeadline)
        } catch {
            return false
        }
        forget(window, always: true)
        log.warn("\(label): abandoned a tab whose page stopped answering; its page target was closed")
        return true
    }

    func markLost(_ failure: VisitFailure, abandoned: Bool) {
        let first = state.withLock { s in
            guard s.lost == nil else { return false }
            var lost = VisitFailure(.browserCrash, failure.message, sessionLost: true)
            lost.notCharged = abandoned
            s.lost = lost
            s.abandoned = abandoned
            return true
        }
        // Said once, with its cause: the replacement's "after a lost one" line does not say why.
        if first && !abandoned { log.warn("\(label): the session was lost (\(failure.message))") }
    }

    /// Opens a tab for the next page (the current window stays current).
    func openTab() async throws(VisitFailure) -> String {
        var tries = 0
        while true {
            tries += 1
            do {
                return try await withWindow(nil) { session throws(VisitFailure) in
                    do {
                        let window = try await session.newWindow(type: "tab", timeout: Self.windowDeadline)
                        state.withLock { _ = $0.open.insert(window) }
                        return window
                    } catch let error as WebDriverError where error.code == .noSuchWindow {
                        // New Window needs an open current window, and this one was closed (its
                        // page crashed, or closed itself): another open window will do.
                        forget()
                        var failure = ErrorClassifier.classify(error, during: "opening a tab")
                        failure.tabLost = true
                        failure.sessionLost = false
                        throw failure
                    } catch {
                        throw ErrorClassifier.classify(error, during: "opening a tab")
                    }
                }
            } catch  where error.tabLost && tries < 2 {
                continue
            }
        }
    }

    /// Closes a tab whose renderer crashed or whose load was given up. Best effort: a window that
    /// cannot be closed is left to the session's end. When it is the session's last window, a
    /// new tab is opened first and returned (for the tab's owner to use): closing the last window
    /// ends the session ([W3C Close Window](https://www.w3.org/TR/webdriver2/#close-window)), and
    /// with it every other page in flight (CI: a fresh session's only tab could not mark its
    /// document in time, and closing it lost the session and cost its pages an attempt).
    /// When no new tab can be opened, the last window is kept open (unused, closed with the
    /// session) and nil returned: the owner opens a tab for its next URL as usual.
    func closeTab(_ window: String) async -> String? {
        let outcome = try? await withWindow(window) { session throws(VisitFailure) -> (closed: Bool, new: String?) in
            var replacement: String?
            if state.withLock({ $0.open.subtracting([window]).isEmpty }) {
                do {
                    let new = try await session.newWindow(type: "tab", timeout: Self.windowDeadline)
                    state.withLock { _ = $0.open.insert(new) }
                    replacement = new
                } catch {
                    log.warn("\(label): no tab could be opened to replace the last one (\(error)); it is kept open")
                    return (false, nil)
                }
            }
            do {
                try await session.closeWindow(timeout: Self.windowDeadline)
            } catch let error as WebDriverError where error.isSessionLost && !error.isTabCrash {
                throw ErrorClassifier.classify(error, during: "closing a tab")
            } catch {
                _ = await closer.closeTarget(session, id: window)
            }
            // Still in the turn: the next command must not take the closed window for current.
            forget(window)
            return (true, replacement)
        }
        if outcome == nil { forget(window) }  // the turn failed before the body forgot it
        return outcome?.new
    }

    /// Takes `window` (nil: the current one) out of the open windows. It stops being current
    /// when it was, or in any case with `always` (after a failed switch or a closed hung tab, the
    /// driver's current window is not known).
    private func forget(_ window: String? = nil, always: Bool = false) {
        state.withLock { s in
            if let gone = window ?? s.current {
                s.open.remove(gone)
                if s.current == gone { s.current = nil }
            }
            if always { s.current = nil }
        }
    }
}
