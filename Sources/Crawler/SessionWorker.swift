import CrawlKit
import WebDriver

/// One WebDriver session after another working through the batch's URL queue: each session's
/// `crawl.tabsPerSession` tabs load pages at the same time (one browser, several pages in flight;
/// README, "The crawler"), their rules in a `TabLedger` run by a `TabDriver`. A session lost, or
/// given up for a hung tab, is replaced and its URLs go first on the new one; one due to be
/// recycled is replaced too.
struct SessionWorker: Sendable {
    let run: BatchRun
    let number: Int
    let queue: URLQueue

    var label: String { "session \(number)" }

    func run() async {
        var carry: [SessionLedger.Pending] = []
        var clocks: [Int: (startedAt: String, t0: ContinuousClock.Instant)] = [:]
        var afterLoss = false
        var recycling = false
        while !run.stop.isSet, !Task.isCancelled, !(await run.sidecar.shouldStop) {
            if carry.isEmpty, await queue.isEmpty { return }
            guard let session = await run.openSession(label: label, afterLoss: afterLoss, recycling: recycling) else {
                await recordWithoutSession(carry, clocks: clocks)
                return
            }
            let first = try? await session.windowHandle(timeout: TabDriver.windowDeadline)
            let bidi = await run.openBiDi(session, label: label)
            let driver = TabDriver(
                run: run, label: label, session: session, bidi: bidi, queue: queue, firstWindow: first,
                carry: carry, clocks: clocks)
            let (end, handed) = await driver.work()
            carry = driver.carry + handed
            clocks = driver.clocks
            await bidi?.close()
            // DELETE on every way out, even after cancellation: it ends the browser.
            await run.closer.close(session, unresponsive: end == .abandoned, label: label)
            if await run.sidecar.outputFailed { return }
            afterLoss = end == .lost
            recycling = end == .recycle
            switch end {
            case .lost, .abandoned, .recycle: continue
            case .done, .stopped: return
            }
        }
    }

    /// No session can be had: with the sidecar gone, the URLs left get `browser-crash` records;
    /// otherwise (never had one, or stopping) they get none and the exit code tells.
    private func recordWithoutSession(
        _ carry: [SessionLedger.Pending], clocks: [Int: (startedAt: String, t0: ContinuousClock.Instant)]
    ) async {
        guard let reason = await run.sidecar.goneReason else { return }
        for p in carry {
            let clock = clocks[p.item.index] ?? (Timestamp.now(), .now)
            guard
                await run.record(
                    p.item, attempts: p.used, startedAt: clock.startedAt, t0: clock.t0,
                    failure: VisitFailure(.browserCrash, reason), backoffs: p.backoffs)
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
