import CrawlKit
import Synchronization
import WebDriver

/// One WebDriver session whose `crawl.tabsPerSession` tabs load pages at the same time: one
/// browser, several pages in flight (README, "The crawler"). Every guarantee of a one-tab
/// session holds per tab: one record per URL, the page-load timeout per URL, a page's data only
/// from its own document (each tab marks its document before navigating, as `Worker` does),
/// dialogs dismissed, a crashed or hung tab replaced (not the session), politeness per host.
/// A session lost with pages in flight is replaced, and its URLs go first on the new one.
struct TabbedWorker: Sendable {
    let run: BatchRun
    let number: Int
    let queue: URLQueue

    var label: String { "session \(number)" }

    func run() async {
        let carry = Carry()
        var afterLoss = false
        var recycling = false
        while !run.stop.isSet, !Task.isCancelled, !(await run.sidecar.shouldStop) {
            if await carry.isEmpty, await queue.isEmpty { return }
            guard let session = await run.openSession(label: label, afterLoss: afterLoss, recycling: recycling) else {
                await recordWithoutSession(carry)
                return
            }
            let first = (try? await session.windowHandle(timeout: TabSession.windowDeadline)) ?? ""
            let tabs = TabSession(
                session: session, label: label, closer: run.closer, log: run.log, firstWindow: first,
                prepare: run.visitor.preparesTabs ? run.visitor : nil)
            if first.isEmpty {
                tabs.markLost(VisitFailure(.browserCrash, "the new session has no window"), abandoned: false)
            }
            let epoch = TabEpoch(worker: self, tabs: tabs, carry: carry)
            await epoch.run()
            // DELETE on every way out, even after cancellation: it ends the browser.
            await run.closer.close(session, unresponsive: tabs.abandoned, label: label)
            if await run.sidecar.outputFailed { return }
            afterLoss = tabs.lost != nil && !tabs.abandoned
            recycling = tabs.lost == nil
            if tabs.lost == nil && !epoch.recycleDue { return }
        }
    }

    /// No session can be had: with the sidecar gone, the URLs left get `browser-crash` records;
    /// otherwise (never had one, or stopping) they get none and the exit code tells.
    private func recordWithoutSession(_ carry: Carry) async {
        guard let reason = await run.sidecar.goneReason else { return }
        while let p = await carry.take() {
            guard
                await run.record(
                    p.item, attempts: p.used, startedAt: p.startedAt ?? Timestamp.now(), t0: p.t0 ?? .now,
                    failure: VisitFailure(.browserCrash, reason))
            else { return }
        }
        while let item = await queue.take() {
            guard
                await run.record(
                    item, attempts: 0, startedAt: Timestamp.now(), t0: .now,
                    failure: VisitFailure(.browserCrash, reason))
            else { return }
        }
    }
}

/// A URL on its way through a tabbed session: its attempts so far and when the next may start.
struct PendingURL: Sendable {
    var item: WorkItem
    /// Attempts counted against `maxAttempts`.
    var used = 0
    var startedAt: String?
    var t0: ContinuousClock.Instant?
    var last: VisitFailure?
    var notBefore: ContinuousClock.Instant?
    /// Tabs replaced in a row before this URL's navigation could start.
    var replacements = 0

    init(_ item: WorkItem) { self.item = item }

    /// After a crash, the URL is tried alone in its session (`LoadGate`).
    var alone: Bool { last?.kind == .browserCrash }
}

/// Opened once; whoever waits before then is resumed at the opening.
actor OneShot {
    private var opened = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if opened { return }
        await withCheckedContinuation { waiting.append($0) }
    }

    func open() {
        guard !opened else { return }
        opened = true
        for w in waiting { w.resume() }
        waiting = []
    }
}

/// URLs that were in flight on a lost session: they go first on the next one.
actor Carry {
    private var items: [PendingURL] = []
    var isEmpty: Bool { items.isEmpty }
    func put(_ p: PendingURL) { items.append(p) }
    func take() -> PendingURL? { items.isEmpty ? nil : items.removeFirst() }
}

/// The life of one session of a `TabbedWorker`: its tabs, until the URLs run out, the session is
/// lost, or it is due to be recycled.
final class TabEpoch: Sendable {
    let worker: TabbedWorker
    let tabs: TabSession
    let carry: Carry
    let gate = LoadGate()
    let readyTime = ReadyTime()
    /// The tab in the session's first window takes the first URL; the others wait for that. A
    /// batch smaller than the tabs then opens no tab it does not need, and the first window is
    /// never left idle while a new tab loads.
    let firstTaken = OneShot()
    private let pages = Atomic<Int>(0)
    private let closing = Atomic<Bool>(false)

    init(worker: TabbedWorker, tabs: TabSession, carry: Carry) {
        self.worker = worker
        self.tabs = tabs
        self.carry = carry
    }

    var run: BatchRun { worker.run }
    var recycleDue: Bool { closing.load(ordering: .relaxed) }

    func run() async {
        let first = tabs.currentWindow
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await TabWorker(epoch: self, window: first, takesFirst: true).work() }
            for _ in 1..<max(1, run.options.tabsPerSession) {
                group.addTask {
                    await self.firstTaken.wait()
                    await TabWorker(epoch: self, window: nil).work()
                }
            }
        }
    }

    /// The next URL for a tab: one carried over from a lost session first, then the queue's.
    /// Nil once the batch is stopping, the session is lost, or it is due to be recycled.
    func take() async -> PendingURL? {
        guard !run.stop.isSet, !Task.isCancelled, tabs.lost == nil, !recycleDue,
            !(await run.sidecar.shouldStop)
        else { return nil }
        if let p = await carry.take() { return p }
        return await worker.queue.take().map(PendingURL.init)
    }

    /// Counts a page loaded; past `recycleSessionAfter`, no new URL starts on this session.
    func countPage() {
        if pages.add(1, ordering: .relaxed).newValue >= run.options.recycleSessionAfter {
            closing.store(true, ordering: .relaxed)
        }
    }
}
