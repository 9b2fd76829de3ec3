import CrawlKit
import WebDriver

/// Checking a tab's load and concluding its URL: the record, a retry, or a hand-over to the next
/// session.
extension TabWorker {
    /// Waits the load's pause, then checks it once in the tab's turn; concludes the URL when the
    /// page is ready, has failed, or has outlasted the page-load timeout.
    func checkCurrent() async {
        guard let (load, p) = current else { return }
        try? await Task.sleep(for: load.pause(firstGuess: epoch.readyTime.firstGuess))
        if Task.isCancelled { return }
        let timedOut = load.timedOut
        do throws(VisitFailure) {
            let result = try await tabs.withWindow(load.window) {
                session throws(VisitFailure) -> Bool? in
                if timedOut {
                    // Mark the document and stop the load, so a late answer never reads as the
                    // next URL's page, and a never-ending document stops using the network. A
                    // renderer that does not answer is hung: `settle` closes its tab.
                    var failure = load.timeoutFailure
                    do {
                        _ = try await session.execute(PageScripts.leaveAndStop, timeout: PageVisitor.leaveDeadline)
                    } catch let error as WebDriverError where error.code != .unexpectedAlertOpen {
                        let why = ErrorClassifier.classify(error, during: "stopping the load")
                        failure.unresponsive = why.unresponsive || why.kind == .timeout
                        failure.tabLost = why.tabLost
                        failure.sessionLost = why.sessionLost && !why.tabLost
                    } catch {}
                    throw failure
                }
                do throws(VisitFailure) {
                    guard let page = try await load.check(session) else { return nil }
                    epoch.readyTime.add(load.sinceNavigation)
                    let judged = try await run.visitor.judge(page, host: p.item.host)
                    let saved = await run.captureArtifacts(p.item.index, session: session, failed: false)
                    await finish(p, .success(judged), artifacts: saved, chainingIn: session)
                    return true
                } catch {
                    // A failure of the page (not of the tab) keeps the turn for its artifacts.
                    guard !error.previousPageShown, !error.abandonsSession, !error.tabLost else { throw error }
                    let saved = await run.captureArtifacts(p.item.index, session: session, failed: true)
                    await finish(p, .failure(error), artifacts: saved, chainingIn: session)
                    return true
                }
            }
            if result == nil { return }  // still loading
        } catch let error where error.slow && !timedOut {
            // The browser answered late, the load goes on: it is checked again (its page-load
            // timeout still runs from its navigation).
        } catch {
            current = nil
            await releaseHold()
            var failure = error
            // Past its page-load timeout the page has had its attempt, however slow the browser
            // was to stop it: charged, so a browser slow every time cannot retry it forever.
            if failure.slow { failure.notCharged = false }
            await conclude(p, .failure(failure))
        }
        if let (p, failure) = unstarted {
            unstarted = nil
            await notStarted(p, failure)
        }
    }

    /// Concludes `p` in the turn that read it, then starts the tab's next URL in the same turn
    /// when that needs no waiting: a page then costs one window switch, not two (a switch makes
    /// the browser bring the tab forward and paint it).
    private func finish(
        _ p: PendingURL, _ outcome: Result<PageResult, VisitFailure>, artifacts: [String: String],
        chainingIn session: WebDriverSession
    ) async {
        current = nil
        await releaseHold()
        await conclude(p, outcome, artifacts: artifacts)
        guard current == nil, window != nil, !run.stop.isSet, !Task.isCancelled, var next = await nextReady()
        else { return }
        if let refused = await checked(&next) {
            await conclude(next, .failure(refused))
            return
        }
        guard await run.pacer.tryAcquire(host: next.item.host) else {
            self.next = next  // the host's politeness delay: started later, outside the turn
            return
        }
        guard !next.alone, await epoch.gate.tryAcquireShared() else {
            await run.pacer.release(host: next.item.host)
            self.next = next
            return
        }
        hold = (next.item.host, false)
        if let failure = await begin(&next, in: session) {
            await releaseHold()
            unstarted = (next, failure)
        }
    }

    /// The end of one attempt at `pending`: its record, a retry after the backoff, or (its
    /// session lost) a hand-over to the next session.
    func conclude(
        _ pending: PendingURL, _ outcome: Result<PageResult, VisitFailure>, artifacts: [String: String] = [:]
    ) async {
        var p = pending
        switch outcome {
        case .success(let page):
            epoch.countPage()
            _ = await record(p, page: page, artifacts: artifacts)
        case .failure(let failure):
            epoch.countPage()
            p.last = failure
            if failure.notCharged { p.used = max(0, p.used - 1) }
            if failure.tabLost {
                run.log.warn("\(tabs.label): a tab was lost (\(failure.message)); a new tab replaces it")
                await dropTab(closing: true)
            }
            if run.stop.isSet || Task.isCancelled {
                // Stopping: a retryable failure is left without a record, for the coordinator.
                if failure.retryable { return }
                _ = await record(p, failure: failure, artifacts: artifacts)
                return
            }
            if failure.notCharged || (failure.retryable && p.used < run.options.maxAttempts) {
                if tabs.lost != nil {
                    await epoch.carry.put(p)
                    return
                }
                if !failure.notCharged { p.notBefore = .now + run.backoff(attempt: p.used) }
                later.append(p)
                return
            }
            _ = await record(p, failure: failure, artifacts: artifacts)
        }
    }

    /// Writes `p`'s one record.
    @discardableResult
    func record(
        _ p: PendingURL, page: PageResult? = nil, failure: VisitFailure? = nil, artifacts: [String: String] = [:]
    ) async -> Bool {
        await run.record(
            p.item, attempts: p.used, startedAt: p.startedAt ?? Timestamp.now(), t0: p.t0 ?? .now, page: page,
            failure: failure, artifacts: artifacts)
    }
}
