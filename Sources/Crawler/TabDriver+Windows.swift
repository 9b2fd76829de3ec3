import CrawlKit
import WebDriver

/// A `TabDriver`'s windows: switching, opening and closing tabs, and what a failed command
/// tells the ledger.
extension TabDriver {
    /// Makes `window` current (prepared for `crawl.headers` before its first command); nil when
    /// done, else the event its failure answers (`otherwise` for a failure of neither the tab nor
    /// the session).
    func enter(_ window: String, otherwise: (VisitFailure) -> Event) async -> Event? {
        if current != window {
            do {
                try await session.switchToWindow(window, timeout: Self.windowDeadline)
                current = window
            } catch {
                current = nil
                return trouble(error, during: "switching to its tab", otherwise: otherwise)
            }
        }
        if run.visitor.preparesTabs, !prepared.contains(window) {
            do {
                try await run.visitor.prepareTab(session)
                prepared.insert(window)
            } catch {
                return trouble(error, otherwise: otherwise)
            }
        }
        return nil
    }

    /// Where `window`'s scripts and navigations go: its browsing context over BiDi, else the
    /// session's current window (made `window` by `reach`).
    func channel(_ window: String) -> any PageChannel {
        if let bidi { return bidi.tab(window) }
        return session
    }

    /// `enter`, over classic WebDriver; over BiDi commands are addressed to the tab and need no
    /// switch (only a tab's preparation for `crawl.headers`, a DevTools command, needs one).
    func reach(_ window: String, otherwise: (VisitFailure) -> Event) async -> Event? {
        if bidi != nil, !run.visitor.preparesTabs || prepared.contains(window) { return nil }
        return await enter(window, otherwise: otherwise)
    }

    /// `BatchRun.captureArtifacts` of the page in `window`, which a screenshot or the page's
    /// source (classic commands) need current.
    func artifacts(_ index: Int, in window: String, failed: Bool) async -> [String: String] {
        let o = run.options
        let wanted = [o.screenshot, o.pageSource].contains { $0 == .always || ($0 == .onError && failed) }
        guard wanted else { return [:] }
        if bidi != nil, await enter(window, otherwise: { _ in .probe(answered: false) }) != nil { return [:] }
        return await run.captureArtifacts(index, session: session, failed: failed)
    }

    /// Opens a tab (the current window stays current). New Window needs an open current window:
    /// after a close, any open one is made current first.
    func openTab(_ tab: Int) async -> Event {
        let lost = { (f: VisitFailure) -> Event in .tabLost(.closed, Reading(f)) }
        if current == nil {
            do {
                guard let open = try await session.windowHandles(timeout: Self.windowDeadline).first else {
                    return .sessionLost(Reading(VisitFailure(.browserCrash, "the session has no window left")))
                }
                if let event = await enter(open, otherwise: lost) { return event }
            } catch {
                return trouble(error, during: "listing tabs", otherwise: lost)
            }
        }
        do {
            return .tabOpened(tab: tab, window: try await session.newWindow(type: "tab", timeout: Self.windowDeadline))
        } catch {
            return trouble(error, during: "opening a tab", otherwise: lost)
        }
    }

    /// Closes a tab whose renderer crashed or whose URL could not start in it. Best effort: a
    /// window that cannot be closed is left to the session's end. Closing the last window would
    /// end the session ([W3C Close Window](https://www.w3.org/TR/webdriver2/#close-window)) and
    /// every page in flight with it, so then (`replaceFirst`) a new tab is opened first; when none
    /// can be, the window is kept open (unused, closed with the session).
    func closeTab(_ window: String, replaceFirst: Bool) async -> Event {
        if let event = await enter(window, otherwise: { _ in .tabClosed(replacement: nil) }) { return event }
        var replacement: String?
        if replaceFirst {
            do {
                replacement = try await session.newWindow(type: "tab", timeout: Self.windowDeadline)
            } catch {
                run.log.warn("\(label): no tab could be opened to replace the last one (\(error)); it is kept open")
                return .tabClosed(replacement: nil)
            }
        }
        do {
            _ = try await session.closeWindow(timeout: Self.windowDeadline)
        } catch let error as WebDriverError where error.isSessionLost && !error.isTabCrash {
            return trouble(error, during: "closing a tab") { _ in .tabClosed(replacement: replacement) }
        } catch {
            _ = await run.closer.closeTarget(session, id: window)
        }
        current = nil
        bidi?.forget(window)
        return .tabClosed(replacement: replacement)
    }

    /// What a failed command tells the ledger: its tab gone or crashed, a missed deadline (slow
    /// or hung: the probe tells), the session lost, or `otherwise`.
    func trouble(_ error: any Error, during step: String = "", otherwise: (VisitFailure) -> Event) -> Event {
        let failure = ErrorClassifier.classify(error, during: step)
        if (error as? WebDriverError)?.code == .noSuchWindow {
            current = nil
            return lostTab(.closed, failure.message, Reading(failure))
        }
        return trouble(failure, otherwise: otherwise)
    }

    func trouble(_ failure: VisitFailure, otherwise: (VisitFailure) -> Event) -> Event {
        if failure.tabLost { return lostTab(.crashed, failure.message, Reading(failure)) }
        if failure.unresponsive { return .missedDeadline(Reading(failure)) }
        if failure.sessionLost {
            run.log.warn("\(label): the session was lost (\(failure.message))")
            return .sessionLost(Reading(failure))
        }
        return otherwise(failure)
    }

    func lostTab(_ loss: SessionLedger.TabLoss, _ why: String, _ reading: Reading) -> Event {
        run.log.warn("\(label): a tab was lost (\(why)); a new tab replaces it")
        return .tabLost(loss, reading)
    }

    /// The ledger's name for a page's failure: 429 and 503 ask us to slow down (issue 25).
    static func failure(_ f: VisitFailure) -> SessionLedger.Failure {
        if f.kind == .http, f.status == 429 || f.status == 503 { return .throttled }
        return .page(retryable: f.retryable)
    }
}
