import CrawlKit
import JSONKit
import WebDriver

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One URL of the batch: its position, the URL as written, and its host.
struct WorkItem: Sendable {
    var index: Int
    var url: String
    var host: String
}

/// What a `SessionWorker` and its `TabDriver` use of the batch's run: sessions, records,
/// artifacts.
extension BatchRun {
    var options: CrawlOptions { batch.crawl }

    /// Opens a session. The first one may wait the whole wait timeout; after a loss, the sidecar
    /// has the recovery timeout to come back, else it is marked gone.
    func openSession(label: String, afterLoss: Bool, recycling: Bool) async -> WebDriverSession? {
        let hadOne = await sidecar.everHadSession
        let budget = hadOne ? crawler.settings.recoveryTimeout : crawler.settings.waitTimeout
        let deadline = ContinuousClock.now + budget
        var lastError = "no attempt made"
        var refusals = 0
        var pause: Duration = .milliseconds(100)
        if afterLoss {
            log.warn("\(label): opening a new session after a lost one")
        } else if !recycling {
            log.info("\(label): opening")
        }
        while ContinuousClock.now < deadline, !stop.isSet, !Task.isCancelled {
            if await sidecar.goneReason != nil { return nil }
            if await sidecar.shouldStop { return nil }
            do {
                let session = try await client.newSession(
                    alwaysMatch: PageVisitor.capabilities(options), timeout: .seconds(60))
                if visitor.preparesSessions {
                    do {
                        try await visitor.prepareSession(session)
                    } catch {
                        try? await session.delete()
                        if error.unsupported {
                            // Every URL gets a record saying why (as for a sidecar gone).
                            log.error("\(label): \(error.message)")
                            await sidecar.markGone(error.message)
                            return nil
                        }
                        throw error
                    }
                }
                await sidecar.markSession()
                if hadOne { log.info("\(label): new session \(session.id)") }
                return session
            } catch let error as WebDriverError where error.code == .sessionNotCreated {
                // The driver answered, so the sidecar is up: the browser itself would not start
                // (it exited at once, or refused the capabilities). Waiting does not help; a
                // second refusal in a row (the first may be a browser slow to start on a loaded
                // machine) ends the batch with the driver's words.
                lastError = ErrorClassifier.firstLine(error.message)
                refusals += 1
                if refusals >= Self.sessionRefusals {
                    await sidecar.markFatal(
                        CrawlerFailure(
                            .sessionNotCreated,
                            "\(lastError) (check crawl.browserArgs, crawl.capabilities and crawl.browserName)"))
                    return nil
                }
            } catch {
                lastError = "\(error)"
                refusals = 0
            }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { break }
            // Wait for the sidecar to say it is ready again, then try once more.
            let probe = SidecarProbe(client: client, log: log)
            do { try await probe.waitUntilReady(timeout: remaining, quiet: true) } catch { break }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(2))
        }
        if stop.isSet || Task.isCancelled { return nil }
        if hadOne {
            await sidecar.markGone(
                "WebDriver unavailable: no session within \(SidecarProbe.seconds(budget)) (\(lastError))")
        } else {
            await sidecar.markFatal(
                CrawlerFailure(
                    .webDriverUnavailable,
                    "could not create a WebDriver session within \(SidecarProbe.seconds(budget)): \(lastError)"))
        }
        return nil
    }

    /// The session's WebDriver BiDi connection, by `crawl.webdriver`: none for `classic`; for
    /// `auto`, when the session's capabilities name a WebSocket (`webSocketUrl`) that answers; for
    /// `bidi` the same, a sidecar without one being said in the log. Which transport the crawl
    /// uses is said once.
    func openBiDi(_ session: WebDriverSession, label: String) async -> BiDiTabs? {
        guard options.webdriver != .classic else { return nil }
        let say = { (line: String, warn: Bool) in
            guard
                !self.transportSaid.withLock({ said in
                    defer { said = true }; return said
                })
            else { return }
            warn ? self.log.warn(line) : self.log.info(line)
        }
        guard let url = session.webSocketURL, !url.isEmpty else {
            say(
                "\(label): classic WebDriver (the sidecar offers no WebDriver BiDi: no webSocketUrl)",
                options.webdriver == .bidi)
            return nil
        }
        do {
            // Selenium Grid names its node's address, which the crawler may not reach: the same
            // path on the address it reached the sidecar by (`BiDiConnection.endpoint`).
            let endpoint = BiDiConnection.endpoint(url, reachedThrough: crawler.settings.webDriverURL)
            let tabs = try await BiDiTabs.open(endpoint, strategy: options.pageLoadStrategy, timeout: .seconds(10))
            say("\(label): WebDriver BiDi (\(endpoint))", false)
            return tabs
        } catch {
            say("\(label): classic WebDriver (WebDriver BiDi did not answer: \(error))", true)
            return nil
        }
    }

    /// "session not created" answers in a row before the batch ends (exit 78).
    static var sessionRefusals: Int { 2 }

    /// Writes the one record of `item`. False when the results file cannot be written.
    func record(
        _ item: WorkItem, attempts: Int, startedAt: String, t0: ContinuousClock.Instant, page: PageResult? = nil,
        failure: VisitFailure? = nil, artifacts: [String: String] = [:], backoffs: Int = 0
    ) async -> Bool {
        let ms = Int(SidecarProbe.ms(ContinuousClock.now - t0))
        let shown = page ?? failure?.page
        var record = ResultRecord(
            url: item.url, ok: failure == nil, status: shown?.status ?? failure?.status,
            finalUrl: shown?.finalURL, title: shown?.title, fields: shown?.fields ?? [:],
            error: failure.map { RecordError(kind: $0.kind, message: $0.message) },
            attempts: attempts, batch: batch.batch, startedAt: startedAt, ms: ms,
            artifacts: artifacts.isEmpty ? nil : artifacts)
        record.backoffs = backoffs > 0 ? backoffs : nil
        return await write(record)
    }

    /// Screenshot and page source per the `screenshot` / `pageSource` policies, saved as
    /// `artifacts/<batch>/<n>.png|.html` beside the results (n: the URL's 1-based position).
    func captureArtifacts(_ index: Int, session: WebDriverSession, failed: Bool) async -> [String: String] {
        func wanted(_ p: ArtifactPolicy) -> Bool { p == .always || (p == .onError && failed) }
        var out: [String: String] = [:]
        let name = String(repeating: "0", count: max(0, 4 - String(index + 1).count)) + String(index + 1)
        if wanted(options.screenshot), let png = try? await session.screenshot(timeout: .seconds(15)),
            let path = await sink.saveArtifact(png, batch: batch.batch, name: name + ".png")
        {
            out["screenshot"] = path
        }
        if wanted(options.pageSource), let html = try? await session.pageSource(timeout: .seconds(15)),
            let path = await sink.saveArtifact(Data(html.utf8), batch: batch.batch, name: name + ".html")
        {
            out["source"] = path
        }
        return out
    }
}
