import CrawlKit
import WebDriver

/// The `TabLedger` commands over WebDriver, each answered with the event the ledger expects.
extension TabDriver {
    typealias Event = SessionLedger.Event

    func execute(_ c: SessionLedger.Command) async -> Event {
        if let window = c.window { lastWindow = window }
        switch c {
        case .take: return .taken(await take())
        case .openTab(let tab): return await openTab(tab)
        case .admit(let id, let host): return await admit(id, host: host)
        case .start(let id, let window): return await start(id, in: window)
        case .check(let id, let window): return await check(id, in: window)
        case .stopLoad(let id, let window): return await stopLoad(id, in: window)
        case .probe: return .probe(answered: await probe())
        case .closeHung(let window): return .hungTabClosed(await closeHung(window))
        case .closeTab(let window, let replaceFirst): return await closeTab(window, replaceFirst: replaceFirst)
        case .backOff(let id, let host):
            // Classic WebDriver shows no response header: Retry-After cannot be read from a page.
            return .backedOff(id, wait: await run.pacer.backOff(host: host, retryAfter: nil))
        }
    }

    /// A URL handed on by the previous session first, then the queue's; nil once stopping.
    private func take() async -> SessionLedger.Pending? {
        guard !run.stop.isSet, !Task.isCancelled, !(await run.sidecar.shouldStop) else { return nil }
        let p = carry.isEmpty ? await queue.take().map { SessionLedger.Pending($0) } : carry.removeFirst()
        if let p { items[p.item.index] = p.item }
        return p
    }

    private func admit(_ id: Int, host: String) async -> Event {
        // The clock starts at the first attempt, once a session exists.
        if clocks[id] == nil { clocks[id] = (Timestamp.now(), .now) }
        if let reason = await run.sidecar.goneReason {
            return .refused(id, Reading(VisitFailure(.browserCrash, reason)))
        }
        // The network policy once per attempt, not at each ask while the host is held.
        if !policyPassed.contains(id) {
            if let refused = await run.visitor.check(host: host) { return .refused(id, Reading(refused)) }
            policyPassed.insert(id)
        }
        guard await run.pacer.tryAcquire(host: host) else { return .hostBusy(id) }
        policyPassed.remove(id)
        return .admitted(id)
    }

    /// Marks the tab's document and sends the navigation (`TabLoad.begin`).
    private func start(_ id: Int, in window: String) async -> Event {
        guard let item = items[id] else {
            return .startFailed(id, .tabTrouble, Reading(VisitFailure(.webdriver, "no URL")))
        }
        let trouble = { (f: VisitFailure) -> Event in .startFailed(id, .tabTrouble, Reading(f)) }
        if let event = await reach(window, otherwise: trouble) { return event }
        attempts += 1
        let load = TabLoad(visitor: run.visitor, url: item.url, window: window, token: "\(label)#\(attempts)")
        // Marked by the read of its last page, a moment ago: no `leave` (one command less).
        let fresh = marked.removeValue(forKey: window).map { ContinuousClock.now - $0 < Self.markFresh } ?? false
        do {
            try await load.begin(channel(window), marked: fresh)
        } catch {
            if error.notCharged || error.tabBusy, !error.abandonsSession, !error.tabLost {
                run.log.warn("\(label): a tab cannot be used (\(error.message)); replacing it")
                return trouble(error)
            }
            return self.trouble(error) { .startFailed(id, .page(retryable: $0.retryable), Reading($0)) }
        }
        loads[id] = load
        return .started(id)
    }

    /// One readiness check; a ready page is read, judged and its artifacts saved in the same turn.
    private func check(_ id: Int, in window: String) async -> Event {
        guard let load = loads[id], let item = items[id] else { return .answered(id, .loading) }
        // Over BiDi, a navigation not yet worth checking (by its pushed events) costs no command.
        if let bidi, !bidi.worthChecking(window) { return .answered(id, .loading) }
        let failed = { (f: VisitFailure) -> Event in .answered(id, .failed(Self.failure(f), Reading(f))) }
        if let event = await reach(window, otherwise: failed) { return event }
        defer { if let at = load.markedAt { marked[window] = at } }
        do {
            guard let page = try await load.check(channel(window)) else { return .answered(id, .loading) }
            let judged = try await run.visitor.judge(page, host: item.host)
            let saved = await artifacts(item.index, in: window, failed: false)
            return .answered(id, .ready(Reading(.success(judged), artifacts: saved)))
        } catch {
            if error.unresponsive, let verdict = await classicVerdict(window) { return verdict }
            // A failure of the page (not of the tab) keeps the turn for its artifacts.
            guard !error.previousPageShown, !error.abandonsSession, !error.tabLost else {
                return trouble(error, otherwise: failed)
            }
            let saved = await artifacts(item.index, in: window, failed: true)
            return .answered(id, .failed(Self.failure(error), Reading(.failure(error), artifacts: saved)))
        }
    }

    /// Past the page-load timeout: marks the document and stops the load, so a late answer never
    /// reads as the next URL's page and a never-ending document stops using the network.
    private func stopLoad(_ id: Int, in window: String) async -> Event {
        let timeout = Reading(
            loads[id]?.timeoutFailure ?? VisitFailure(.timeout, "navigate timed out: the page did not load in time"))
        let timedOut = Event.answered(id, .failed(.timedOut, timeout))
        if let event = await reach(window, otherwise: { _ in timedOut }) { return event }
        do {
            _ = try await channel(window).execute(
                PageScripts.leaveAndStop, args: [], timeout: PageVisitor.leaveDeadline)
        } catch let error as WebDriverError where error.code != .unexpectedAlertOpen {
            let why = ErrorClassifier.classify(error, during: "stopping the load")
            if why.tabLost { return lostTab(.crashed, why.message, timeout) }
            // A renderer that does not answer is hung: the probe tells.
            if why.unresponsive || why.kind == .timeout { return .missedDeadline(timeout) }
            if why.sessionLost { return .sessionLost(timeout) }
        } catch {}
        return timedOut
    }

    /// Over BiDi, a script sent to a tab whose renderer crashed gets no answer at all, where
    /// classic chromedriver answers "tab crashed": after a missed deadline the tab is asked once
    /// over classic, and a crash found so is a lost tab (nil: no crash seen, or classic).
    private func classicVerdict(_ window: String) async -> Event? {
        guard bidi != nil else { return nil }
        do {
            if current != window {
                try await session.switchToWindow(window, timeout: Self.windowDeadline)
                current = window
            }
            _ = try await session.execute("return 1", timeout: Self.windowDeadline)
        } catch let error as WebDriverError where error.isTabCrash {
            current = nil
            let failure = ErrorClassifier.classify(error, during: "waiting for the page")
            return lostTab(.crashed, failure.message, Reading(failure))
        } catch {}
        return nil
    }

    /// True when the current tab's page runs a trivial script within `windowDeadline`.
    /// chromedriver runs a session's commands one after another, so the script waits for the
    /// late command before it, then for the page's renderer: a hung renderer never runs it (a
    /// command that needs only the browser, such as listing the windows, would answer).
    /// Over BiDi, the script goes to the window of the command that missed its deadline.
    private func probe() async -> Bool {
        let target: any PageChannel = lastWindow.map { channel($0) } ?? session
        do {
            _ = try await target.execute("return 1", args: [], timeout: Self.windowDeadline)
        } catch let error as WebDriverError {
            // A dialog answers for its page: the page runs.
            return error.code == .unexpectedAlertOpen
        } catch {
            return false
        }
        run.log.warn("\(label): the browser was slow; it answers again, nothing closed")
        return true
    }

    /// Closes a tab whose renderer does not answer through the browser's DevTools endpoint (which
    /// ends the command it holds), and checks that the session answers again.
    private func closeHung(_ window: String) async -> Bool {
        guard await run.closer.closeTarget(session, id: window) else { return false }
        current = nil
        bidi?.forget(window)
        guard (try? await session.windowHandles(timeout: Self.windowDeadline)) != nil else { return false }
        run.log.warn("\(label): abandoned a tab whose page stopped answering; its page target was closed")
        return true
    }
}
