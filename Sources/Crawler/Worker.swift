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

    private var options: CrawlOptions { run.batch.crawl }
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
                    await record(
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
                        artifacts = await captureArtifacts(item.index, session: current, failed: false)
                    case .failure(let error) where error.abandonsSession:
                        // The next URL must start on a working page: replace the session, and
                        // end its browser now rather than let it burn CPU while the batch goes on.
                        session = nil
                        lostSession = error.sessionLost
                        await run.closer.close(current, unresponsive: error.unresponsive, label: label)
                    case .failure(let error) where !error.previousPageShown:
                        artifacts = await captureArtifacts(item.index, session: current, failed: true)
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
                guard error.retryable, attempt < options.maxAttempts else { break }
                try? await Task.sleep(for: backoff(attempt: attempt))
                if run.stop.isSet || Task.isCancelled { return }
            }
            if Task.isCancelled, case .failure = outcome { return }
            switch outcome {
            case .success(let page)?:
                guard
                    await record(
                        item, attempts: attempt, startedAt: startedAt, t0: t0, page: page, artifacts: artifacts)
                else { return }
            case .failure(let failure)?:
                guard
                    await record(
                        item, attempts: attempt, startedAt: startedAt, t0: t0, failure: failure, artifacts: artifacts)
                else { return }
            case nil:
                // No session could be had for this URL.
                if let reason = await run.sidecar.goneReason {
                    guard
                        await record(
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
                session = await openSession(afterLoss: lostSession, recycling: recycling)
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

    /// Jittered exponential backoff: retryBackoff × 2^(attempt-1) × [0.5, 1.5), at most 30 s.
    func backoff(attempt: Int) -> Duration {
        let base = options.retryBackoff * Double(1 << min(attempt - 1, 10))
        let seconds = min(30, base * Double.random(in: 0.5..<1.5))
        return .milliseconds(Int64(seconds * 1000))
    }

    private func record(
        _ item: (index: Int, url: String, host: String), attempts: Int, startedAt: String,
        t0: ContinuousClock.Instant, page: PageResult? = nil, failure: VisitFailure? = nil,
        artifacts: [String: String] = [:]
    ) async -> Bool {
        let elapsed = ContinuousClock.now - t0
        let ms = Int(SidecarProbe.ms(elapsed))
        let shown = page ?? failure?.page
        let record = ResultRecord(
            url: item.url, ok: failure == nil, status: shown?.status ?? failure?.status,
            finalUrl: shown?.finalURL, title: shown?.title, fields: shown?.fields ?? [:],
            error: failure.map { RecordError(kind: $0.kind, message: $0.message) },
            attempts: attempts, batch: run.batch.batch, startedAt: startedAt, ms: ms,
            artifacts: artifacts.isEmpty ? nil : artifacts)
        return await run.write(record)
    }

    /// Opens a session. The first one may wait the whole wait timeout; after a loss, the sidecar
    /// has the recovery timeout to come back (a restarted container), else it is marked gone.
    private func openSession(afterLoss: Bool, recycling: Bool) async -> WebDriverSession? {
        let hadOne = await run.sidecar.everHadSession
        let budget = hadOne ? run.crawler.settings.recoveryTimeout : run.crawler.settings.waitTimeout
        let deadline = ContinuousClock.now + budget
        var lastError = "no attempt made"
        var pause: Duration = .milliseconds(100)
        if afterLoss {
            log.warn("session \(number): opening a new session after a lost one")
        } else if !recycling {
            log.info("session \(number): opening")
        }
        while ContinuousClock.now < deadline, !run.stop.isSet, !Task.isCancelled {
            if await run.sidecar.goneReason != nil { return nil }
            if await run.sidecar.shouldStop { return nil }
            do {
                let session = try await run.client.newSession(
                    alwaysMatch: PageVisitor.capabilities(options), timeout: .seconds(60))
                await run.sidecar.markSession()
                if hadOne { log.info("session \(number): new session \(session.id)") }
                return session
            } catch {
                lastError = "\(error)"
            }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { break }
            // Wait for the sidecar to say it is ready again, then try once more.
            let probe = SidecarProbe(client: run.client, log: log)
            do { try await probe.waitUntilReady(timeout: remaining, quiet: true) } catch { break }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(2))
        }
        if run.stop.isSet || Task.isCancelled { return nil }
        if hadOne {
            await run.sidecar.markGone(
                "WebDriver unavailable: no session within \(SidecarProbe.seconds(budget)) (\(lastError))")
        } else {
            await run.sidecar.markFatal(
                CrawlerFailure(
                    .webDriverUnavailable,
                    "could not create a WebDriver session within \(SidecarProbe.seconds(budget)): \(lastError)"))
        }
        return nil
    }

    /// Screenshot and page source per the `screenshot` / `pageSource` policies, saved as
    /// `artifacts/<batch>/<n>.png|.html` beside the results (n: the URL's 1-based position).
    private func captureArtifacts(_ index: Int, session: WebDriverSession, failed: Bool) async -> [String: String] {
        func wanted(_ p: ArtifactPolicy) -> Bool { p == .always || (p == .onError && failed) }
        var out: [String: String] = [:]
        let name = String(repeating: "0", count: max(0, 4 - String(index + 1).count)) + String(index + 1)
        if wanted(options.screenshot), let png = try? await session.screenshot(timeout: .seconds(15)),
            let path = await run.sink.saveArtifact(png, batch: run.batch.batch, name: name + ".png")
        {
            out["screenshot"] = path
        }
        if wanted(options.pageSource), let html = try? await session.pageSource(timeout: .seconds(15)),
            let path = await run.sink.saveArtifact(Data(html.utf8), batch: run.batch.batch, name: name + ".html")
        {
            out["source"] = path
        }
        return out
    }
}
