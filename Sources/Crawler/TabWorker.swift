import CrawlKit
import WebDriver

/// One tab of a `TabEpoch`: takes URLs, loads each in its tab, checks it in the session's
/// turns, and records it. When a page is ready, the same turn reads it and starts the tab's next
/// URL, so a page costs one window switch (a switch makes the browser repaint the tab).
/// Used by one task only.
final class TabWorker {
    let epoch: TabEpoch
    var window: String?
    var current: (load: TabLoad, pending: PendingURL)?
    /// The tab's next URL, taken (and its host checked) while the current one loads.
    var next: PendingURL?
    /// Attempts waiting for their retry backoff.
    var later: [PendingURL] = []
    /// The politeness slot and load gate the tab holds for its current load.
    var hold: (host: String, alone: Bool)?
    /// A URL whose navigation could not start in a chained turn (`finish`): handled after it.
    var unstarted: (PendingURL, VisitFailure)?

    /// This tab takes the epoch's first URL, and opens the way for the others once it has.
    private var takesFirst: Bool

    init(epoch: TabEpoch, window: String?, takesFirst: Bool = false) {
        self.epoch = epoch
        self.window = window
        self.takesFirst = takesFirst
    }

    var run: BatchRun { epoch.run }
    var tabs: TabSession { epoch.tabs }

    func work() async {
        while !Task.isCancelled {
            if current == nil {
                let p = await nextURL()
                if takesFirst {
                    takesFirst = false
                    await epoch.firstTaken.open()
                }
                guard let p else { break }
                await start(p)
            } else {
                await checkCurrent()
            }
        }
        if takesFirst { await epoch.firstTaken.open() }  // cancelled before its first URL
        // Cancelled after the stop grace: a URL in flight is left without a record (retried later).
        current = nil
        await releaseHold()
        // URLs not started here go to the next session, or stay without a record when stopping.
        if tabs.lost != nil, !Task.isCancelled {
            for p in later + (next.map { [$0] } ?? []) { await epoch.carry.put(p) }
        }
    }

    /// The tab's next URL when one can start now (no retry waiting for its backoff); nil otherwise.
    func nextReady() async -> PendingURL? {
        if let i = later.firstIndex(where: { ($0.notBefore ?? .now) <= .now }) { return later.remove(at: i) }
        if let p = next {
            next = nil
            return p
        }
        return later.isEmpty ? await epoch.take() : nil
    }

    private func nextURL() async -> PendingURL? {
        if let i = later.indices.min(by: { (later[$0].notBefore ?? .now) < (later[$1].notBefore ?? .now) }) {
            return later.remove(at: i)
        }
        if let p = next {
            next = nil
            return p
        }
        return await epoch.take()
    }

    // MARK: - Starting a URL

    func start(_ pending: PendingURL) async {
        var p = pending
        if let reason = await run.sidecar.goneReason {
            _ = await record(p, failure: VisitFailure(.browserCrash, reason))
            return
        }
        if tabs.lost != nil {
            await epoch.carry.put(p)
            return
        }
        if let wait = p.notBefore, wait > .now {
            try? await Task.sleep(until: wait, clock: .continuous)
            if run.stop.isSet || Task.isCancelled { return }  // a retry left for the coordinator
        }
        p.notBefore = nil
        if let refused = await checked(&p) {
            await conclude(p, .failure(refused))
            return
        }
        await epoch.gate.acquire(alone: p.alone)
        await run.pacer.acquire(host: p.item.host)
        hold = (p.item.host, p.alone)
        if let failure = await begin(&p, in: nil) {
            await releaseHold()
            await notStarted(p, failure)
        }
    }

    /// Starts the clock of `p`'s first attempt and checks its host against the network policy:
    /// the refusal (an attempt) when refused.
    func checked(_ p: inout PendingURL) async -> VisitFailure? {
        if p.t0 == nil {
            // The clock starts at the first attempt, once a session exists (as in `Worker`).
            p.startedAt = Timestamp.now()
            p.t0 = .now
        }
        guard let refused = await run.visitor.check(host: p.item.host) else { return nil }
        p.used += 1
        return refused
    }

    /// Opens the tab when needed and starts `p`'s navigation in it; the failure when it did not
    /// start. Inside a turn already held when `session` is given.
    func begin(_ p: inout PendingURL, in session: WebDriverSession?) async -> VisitFailure? {
        if window == nil {
            do {
                window = try await tabs.openTab()
            } catch {
                return error
            }
        }
        guard let window else { return VisitFailure(.webdriver, "no tab") }
        let load = TabLoad(visitor: run.visitor, url: p.item.url, window: window)
        do throws(VisitFailure) {
            if let session {
                do { try await load.begin(session) } catch { throw await tabs.settle(error, window: window) }
            } else {
                try await tabs.withWindow(window) { session throws(VisitFailure) in try await load.begin(session) }
            }
        } catch {
            if !Self.isTabTrouble(error) { p.used += 1 }  // the navigation itself failed: an attempt
            return error
        }
        p.used += 1
        current = (load, p)
        return nil
    }

    /// A failure of the tab before the navigation started: not the URL's doing.
    static func isTabTrouble(_ failure: VisitFailure) -> Bool {
        failure.tabLost || failure.notCharged || failure.message == TabLoad.busyTab.message
    }

    /// `p`'s navigation did not start: the tab is replaced and it starts again, or it fails.
    func notStarted(_ pending: PendingURL, _ failure: VisitFailure) async {
        var p = pending
        guard Self.isTabTrouble(failure) else {
            await conclude(p, .failure(failure))
            return
        }
        // A slow browser keeps its tab: the same start is tried again in it.
        if !failure.slow {
            await dropTab(closing: !failure.unresponsive && !failure.tabLost || failure.kind == .browserCrash)
        }
        if tabs.lost != nil {
            await epoch.carry.put(p)
            return
        }
        p.replacements += 1
        if p.replacements > Worker.maxReplacements {
            p.used += 1
            let why =
                failure.slow
                ? VisitFailure(.timeout, "the browser stayed too slow to start the page: \(failure.message)")
                : VisitFailure(.browserCrash, "no working tab: \(failure.message)")
            await conclude(p, .failure(why))
            return
        }
        if !failure.slow { run.log.warn("\(tabs.label): a tab cannot be used (\(failure.message)); replacing it") }
        later.append(p)
    }

    /// Forgets the tab (closing it unless its target is already gone); the next URL opens another,
    /// or uses the one `closeTab` opened to keep the session alive.
    func dropTab(closing: Bool) async {
        guard let window else { return }
        self.window = nil
        if closing { self.window = await tabs.closeTab(window) }
    }

    func releaseHold() async {
        guard let hold else { return }
        self.hold = nil
        await run.pacer.release(host: hold.host)
        await epoch.gate.release(alone: hold.alone)
    }
}
