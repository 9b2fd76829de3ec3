import CrawlKit
import JSONKit
import WebDriver

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One WebDriver session working through the shared URL queue.
struct Worker: Sendable {
    let run: BatchRun
    let number: Int
    let queue: URLQueue

    private var options: CrawlOptions { run.options }
    private var log: Log { run.log }

    func run() async {
        var session: WebDriverSession?
        await work(&session)
        // DELETE the session on every way out, even after cancellation: it ends the browser.
        if let session { await run.closer.close(session, unresponsive: false, label: label) }
    }

    private var label: String { "session \(number)" }

    private func work(_ session: inout WebDriverSession?) async {
        var pages = 0
        var lostSession = false
        while !run.stop.isSet, !Task.isCancelled, !(await run.sidecar.shouldStop) {
            guard let item = await queue.take() else { break }
            if let reason = await run.sidecar.goneReason {
                guard
                    await run.record(
                        item, attempts: 0, startedAt: Timestamp.now(), t0: .now,
                        failure: VisitFailure(.browserCrash, reason))
                else { return }
                continue
            }
            // The clock starts at the first attempt, once a session exists: a record's `ms` is the
            // time spent on its URL, not the browser's start-up.
            var startedAt = Timestamp.now()
            var t0 = ContinuousClock.now
            var attempt = 0
            var backoffs = 0
            var outcome: Result<PageResult, VisitFailure>?
            var artifacts: [String: String] = [:]
            while attempt < options.maxAttempts {
                let ready = await readySession(&session, pages: &pages, lostSession: &lostSession)
                guard let ready else { break }
                if attempt == 0 {
                    startedAt = Timestamp.now()
                    t0 = ContinuousClock.now
                }
                attempt += 1
                let visited: Result<PageResult, VisitFailure>
                switch ready {
                case .success(let current):
                    await run.pacer.acquire(host: item.host)
                    do {
                        visited = .success(try await run.visitor.visit(item.url, host: item.host, session: current))
                    } catch {
                        visited = .failure(error)
                    }
                    await run.pacer.release(host: item.host)
                    pages += 1
                    switch visited {
                    case .success:
                        artifacts = await run.captureArtifacts(item.index, session: current, failed: false)
                    case .failure(let error) where error.abandonsSession:
                        // The next URL must start on a working page: replace the session, and
                        // end its browser now rather than let it burn CPU while the batch goes on.
                        session = nil
                        lostSession = error.sessionLost
                        await run.closer.close(current, unresponsive: error.unresponsive, label: label)
                    case .failure(let error) where !error.previousPageShown:
                        artifacts = await run.captureArtifacts(item.index, session: current, failed: true)
                    case .failure:
                        break
                    }
                case .failure(let error):
                    visited = .failure(error)
                }
                outcome = visited
                guard case .failure(let error) = visited else { break }
                if run.stop.isSet || Task.isCancelled {
                    // Stopping: a URL whose attempt failed is left without a record, so the
                    // coordinator retries it rather than keeping a failure caused by the stop.
                    if error.retryable { return }
                    break
                }
                if TabDriver.failure(error) == .throttled {
                    // The host asked us to slow down (429/503): its back-off, the first free.
                    backoffs += 1
                    if backoffs == 1 { attempt -= 1 }
                    guard attempt < options.maxAttempts else { break }
                    try? await Task.sleep(for: await run.pacer.backOff(host: item.host, retryAfter: nil))
                    if run.stop.isSet || Task.isCancelled { return }
                    continue
                }
                guard error.retryable, attempt < options.maxAttempts else { break }
                try? await Task.sleep(for: run.backoff(attempt: attempt))
                if run.stop.isSet || Task.isCancelled { return }
            }
            if Task.isCancelled, case .failure = outcome { return }
            switch outcome {
            case .success(let page)?:
                guard
                    await run.record(
                        item, attempts: attempt, startedAt: startedAt, t0: t0, page: page, artifacts: artifacts,
                        backoffs: backoffs)
                else { return }
            case .failure(let failure)?:
                guard
                    await run.record(
                        item, attempts: attempt, startedAt: startedAt, t0: t0, failure: failure, artifacts: artifacts,
                        backoffs: backoffs)
                else { return }
            case nil:
                // No session could be had for this URL.
                if let reason = await run.sidecar.goneReason {
                    guard
                        await run.record(
                            item, attempts: attempt, startedAt: startedAt, t0: t0,
                            failure: VisitFailure(.browserCrash, reason))
                    else { return }
                } else {
                    return  // fatal (never had a session) or stopping: no record, exit code tells
                }
            }
        }
    }

    /// Sessions replaced in a row before a URL's attempt counts as failed on the browser.
    static let maxReplacements = 3

    /// A session ready for the next navigation: opened, or recycled after `recycleSessionAfter`
    /// pages, with its current document marked by `leave`. A session that cannot mark it (a
    /// hung renderer, a crashed tab) is closed and replaced. Nil when no session can be had
    /// (sidecar gone, stopping); a failure when replacements keep failing.
    private func readySession(
        _ session: inout WebDriverSession?, pages: inout Int, lostSession: inout Bool
    ) async -> Result<WebDriverSession, VisitFailure>? {
        var last = VisitFailure(.browserCrash, "no working browser session")
        for _ in 0..<Self.maxReplacements {
            if session == nil || pages >= options.recycleSessionAfter {
                let recycling = session != nil
                if let old = session {
                    session = nil
                    await run.closer.close(old, unresponsive: false, label: label)
                }
                session = await run.openSession(label: label, afterLoss: lostSession, recycling: recycling)
                lostSession = false
                pages = 0
            }
            guard let current = session else { return nil }
            do {
                try await run.visitor.leave(current)
                return .success(current)
            } catch {
                log.warn("\(label): the session cannot be used (\(error.message)); replacing it")
                session = nil
                lostSession = error.sessionLost
                await run.closer.close(current, unresponsive: error.unresponsive, label: label)
                last = VisitFailure(
                    .browserCrash, "no working browser session: \(error.message)", sessionLost: true)
            }
        }
        return .failure(last)
    }
}
