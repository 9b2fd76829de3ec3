import CrawlKit
import Foundation
import HTTP
import JSONKit
import Synchronization
import TestSupport
import Testing

@testable import Crawler
@testable import WebDriver

extension Chrome {
    /// Pages that used to make the crawler report another page's data, or spoil the pages after
    /// them (issue 9): each batch puts normal pages after every hostile one, and every record must
    /// describe its own URL.
    @Suite struct HostilePageTests {
        static let fields = ["h1": FieldSpec(selector: "h1"), "price": FieldSpec(selector: ".price")]

        func byURL(_ records: [ResultRecord]) -> [String: ResultRecord] {
            Dictionary(records.map { ($0.url, $0) }, uniquingKeysWith: { a, _ in a })
        }

        /// A normal fixture page's record: ok, and its own title, fields and final URL.
        func expectOwnPage(
            _ record: ResultRecord?, _ url: String, n: Int, sourceLocation: SourceLocation = #_sourceLocation
        ) {
            #expect(record?.ok == true, "\(url): \(String(describing: record?.error))", sourceLocation: sourceLocation)
            #expect(record?.title == "Page \(n)", sourceLocation: sourceLocation)
            #expect(record?.finalUrl == url, sourceLocation: sourceLocation)
            #expect(record?.fields["h1"] == .string("Page \(n)"), sourceLocation: sourceLocation)
            #expect(record?.fields["price"] == .string("$\(n).00"), sourceLocation: sourceLocation)
        }

        /// A failed record that carries no page's data at all.
        func expectNoPageData(_ record: ResultRecord?, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(record?.ok == false, sourceLocation: sourceLocation)
            #expect(record?.title == nil && record?.finalUrl == nil, sourceLocation: sourceLocation)
            #expect(record?.fields.isEmpty == true, sourceLocation: sourceLocation)
        }

        @Test func navigationsThatCommitNoDocumentAreRecordedAsWhatTheyAre() async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let b = server.baseURL
            // The first URL runs on a fresh session's blank page; each later one follows a page
            // whose data it must not inherit — also one that navigated itself once loaded (the
            // document marked must be the one the next navigation leaves, not the one read).
            let urls = [
                b + "/no-content", b + "/page/1", b + "/no-content?again", b + "/page/2", b + "/not-modified",
                b + "/page/3", b + "/download", b + "/page/4", b + "/page/4#price", b + "/navigate-away",
                b + "/no-content?after-a-page-that-left",
            ]
            let o = options {
                $0.fields = Self.fields; $0.screenshot = .onError
            }
            let r = try await crawl(urls, options: o, driver: driver.url)
            await driver.stop()
            #expect(r.code == .ok)
            #expect(r.records.count == urls.count)
            #expect(r.records.allSatisfy { $0.artifacts == nil }, "no screenshot of the previous page is saved")
            let rec = byURL(r.records)
            for (url, n) in [(b + "/page/1", 1), (b + "/page/2", 2), (b + "/page/3", 3), (b + "/page/4", 4)] {
                expectOwnPage(rec[url], url, n: n)
            }
            for url in [b + "/no-content", b + "/no-content?again", b + "/no-content?after-a-page-that-left"] {
                expectNoPageData(rec[url])
                #expect(rec[url]?.error?.kind == .http && rec[url]?.status == 204 && rec[url]?.attempts == 1)
                #expect(rec[url]?.error?.message == "HTTP 204: no content, so no page to read")
            }
            let notModified = rec[b + "/not-modified"]
            expectNoPageData(notModified)
            #expect(notModified?.error?.kind == .http && notModified?.status == 304)
            let download = rec[b + "/download"]
            expectNoPageData(download)
            #expect(download?.error?.kind == .download && download?.status == 200)
            #expect(
                download?.error?.message
                    == "a file to download (Content-Disposition: attachment; filename=\"report.csv\"; Content-Type: text/csv), not a page"
            )
            // A fragment of the page just crawled is the same document, rightly kept.
            let fragment = rec[b + "/page/4#price"]
            #expect(fragment?.ok == true && fragment?.title == "Page 4" && fragment?.finalUrl == b + "/page/4#price")
        }

        /// A page that goes elsewhere by itself a moment after it was read, followed in its tab by
        /// a URL that commits no document: the page's own navigation lands after the crawler's
        /// went nowhere, and its document is not the 204's page.
        @Test(.disabled(if: tabbedRun, "sets its own tabs: run once"), arguments: [1, 2], ["script", "refresh"])
        func aPageThatLeavesByItselfNeverAnswersForTheNextURL(tabs: Int, by: String) async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let b = server.baseURL
            // Two tabs: the slow page keeps the second tab, so the 204 follows the leaving page in
            // the first.
            let urls = [b + "/navigate-away?left=50&by=\(by)", b + "/page/1?ms=2500", b + "/no-content"]
            let r = try await crawl(
                tabs == 1 ? [urls[0], urls[2]] : urls,
                options: options {
                    $0.fields = Self.fields; $0.tabsPerSession = tabs; $0.maxAttempts = 1
                },
                driver: driver.url)
            await driver.stop()
            let rec = byURL(r.records)
            expectNoPageData(rec[b + "/no-content"])
            #expect(rec[b + "/no-content"]?.status == 204, "\(String(describing: rec[b + "/no-content"]))")
        }

        /// A server slow to answer leaves the previous document in the tab for a while: that is a
        /// load still under way, not a navigation that committed nothing (in the tabbed mode the
        /// driver does not wait for loads, the crawler does).
        @Test func slowAnswersAreWaitedForAndReadFromTheirOwnDocument() async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let b = server.baseURL
            let slow = (1...5).map { b + "/slow?ms=\(300 * $0)" }
            let urls = [b + "/page/1"] + slow + [b + "/page/2"]
            let r = try await crawl(urls, options: options { $0.fields = Self.fields }, driver: driver.url)
            await driver.stop()
            #expect(r.code == .ok && r.records.count == urls.count)
            let rec = byURL(r.records)
            expectOwnPage(rec[b + "/page/1"], b + "/page/1", n: 1)
            expectOwnPage(rec[b + "/page/2"], b + "/page/2", n: 2)
            for url in slow {
                #expect(rec[url]?.ok == true && rec[url]?.title == "Slow" && rec[url]?.finalUrl == url, "\(r.log)")
                #expect(rec[url]?.attempts == 1)
            }
        }

        /// A page that answers after its page-load timeout: its late document never answers for
        /// the URL loaded next in the same tab (or session).
        @Test func aLateAnswerNeverAnswersForTheNextURL() async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let b = server.baseURL
            let pages = (1...6).map { b + "/page/\($0)" }
            let urls = [b + "/slow?ms=3500", b + "/slow?ms=3600"] + pages
            // 2 s: a fresh tab's first page under a loaded CI run took over 1 s; the slow pages
            // still answer 1.5 s after their timeout, while the next URLs load.
            let o = options {
                $0.fields = Self.fields; $0.pageLoadTimeout = 2; $0.maxAttempts = 1
            }
            let r = try await crawl(urls, options: o, driver: driver.url)
            await driver.stop()
            #expect(r.code == .ok && r.records.count == urls.count)
            let rec = byURL(r.records)
            for slow in urls.prefix(2) {
                expectNoPageData(rec[slow])
                #expect(rec[slow]?.error?.kind == .timeout, "\(r.log)")
            }
            for (n, url) in pages.enumerated() { expectOwnPage(rec[url], url, n: n + 1) }
        }

        @Test func aCrashedTabIsReplacedAndTheBatchGoesOn() async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            server.onCrash { driver.killRenderers() }
            let b = server.baseURL
            let urls = [b + "/page/1", b + "/crash", b + "/page/2", b + "/page/3"]
            let r = try await crawl(
                urls,
                options: options {
                    $0.fields = Self.fields; $0.maxAttempts = 2
                }, driver: driver.url)
            #expect(await eventually { driver.browserCount == 0 }, "every session was deleted")
            await driver.stop()
            #expect(r.code == .ok)
            let rec = byURL(r.records)
            let crashed = rec[b + "/crash"]
            expectNoPageData(crashed)
            #expect(
                crashed?.error?.kind == .browserCrash && crashed?.attempts == 2, "retried on a new session: \(r.log)")
            #expect(server.hits("/crash") == 2 && server.hits("/crash/now.js") == 2)
            expectOwnPage(rec[b + "/page/1"], b + "/page/1", n: 1)
            expectOwnPage(rec[b + "/page/2"], b + "/page/2", n: 2)
            expectOwnPage(rec[b + "/page/3"], b + "/page/3", n: 3)
            // One session with several tabs replaces the crashed tab, not the session.
            #expect(r.log.contains(tabbedRun ? "a tab was lost" : "opening a new session after a lost one"))
        }

        @Test(arguments: ["/hang", "/hang?mb=64"])
        func aHungRendererIsAbandonedAndItsBrowserEnded(hang: String) async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let b = server.baseURL
            let urls = [b + "/page/1", b + hang, b + "/page/2", b + "/page/3"]
            let watch = BrowserWatch(driver)
            let t0 = ContinuousClock.now
            let r = try await crawl(
                urls,
                options: options {
                    $0.fields = Self.fields; $0.pageLoadTimeout = 2; $0.maxAttempts = 1
                },
                driver: driver.url)
            let elapsed = ContinuousClock.now - t0
            let most = await watch.stop()
            #expect(await eventually { driver.browserCount == 0 }, "every session was deleted")
            await driver.stop()
            #expect(r.code == .ok)
            let rec = byURL(r.records)
            let hung = rec[b + hang]
            expectNoPageData(hung)
            #expect(hung?.error?.kind == .timeout)
            expectOwnPage(rec[b + "/page/1"], b + "/page/1", n: 1)
            expectOwnPage(rec[b + "/page/2"], b + "/page/2", n: 2)
            expectOwnPage(rec[b + "/page/3"], b + "/page/3", n: 3)
            #expect(server.hits("/page/2") == 1 && server.hits("/page/3") == 1, "no later URL timed out")
            #expect(most <= 1, "the hung browser was ended before the next one started")
            #expect(r.log.contains(tabbedRun ? "abandoned a tab" : "abandoned session"), "\(r.log)")
            // One page-load timeout + the navigation's margin, the new session's start, and a few
            // seconds for the first session and the three pages.
            let restarts = browserStarts(in: r.log)
            #expect(restarts.count == (tabbedRun ? 0 : 1), "tabbed: the hung tab is closed, its session kept")
            #expect(elapsed < .seconds(2 + 2 + 8) + restarts.reduce(.zero, +), "took \(elapsed)")
        }

        /// Crawls `/page/n` (with `query`) for each n of `pages` through a real chromedriver
        /// behind `http` (the injected fault), and expects a run that ends well with each page read
        /// from its own document on its first attempt and loaded once. The crawler's log.
        func crawlEachPageOnce(
            _ pages: ClosedRange<Int>, query: String = "", tabs: Int, maxAttempts: Int, behind http: any HTTPTransport
        ) async throws -> String {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let urls = pages.map { server.baseURL + "/page/\($0)" + query }
            let r = try await crawl(
                urls,
                options: options {
                    $0.fields = Self.fields; $0.tabsPerSession = tabs; $0.maxAttempts = maxAttempts
                },
                driver: driver.url, http: http)
            await driver.stop()
            #expect(r.code == .ok)
            let rec = byURL(r.records)
            for (n, url) in zip(pages, urls) {
                #expect(
                    rec[url]?.ok == true && rec[url]?.attempts == 1, "\(url): \(String(describing: rec[url]?.error))")
                #expect(rec[url]?.title == "Page \(n)" && rec[url]?.fields["h1"] == .string("Page \(n)"))
                #expect(server.hits("/page/\(n)") == 1, "page \(n) loaded once")
            }
            return r.log
        }

        /// A browser that falls behind (a loaded machine: in CI a new tab once took over 5 s) is
        /// slow, not hung: the tab whose page was loading meanwhile is not closed, and no page
        /// is charged an attempt. chromedriver is real; only the lateness is injected.
        @Test(.disabled(if: tabbedRun, "sets its own tabs: run once"))
        func aSlowNewTabClosesNothingAndCostsNoAttempt() async throws {
            let log = try await crawlEachPageOnce(
                1...4, query: "?ms=300", tabs: 4, maxAttempts: 1, behind: LateNewWindow(late: .seconds(8)))
            #expect(log.contains("the browser was slow"), "\(log)")
            #expect(!log.contains("abandoned") && !log.contains("a tab was lost"), "\(log)")
        }

        /// A tab that cannot mark its document within the session's short script timeout (a loaded
        /// machine: in CI a fresh session's first tab did not answer `leave` in 300 ms) is
        /// replaced without losing the session, and no page is charged an attempt for it.
        @Test(
            .disabled(if: tabbedRun, "sets its own tabs: run once"),
            .disabled(if: testWebDriver == .bidi, "the fault is injected in classic WebDriver's HTTP"))
        func aBusyTabIsReplacedAndNoPageCharged() async throws {
            let log = try await crawlEachPageOnce(3...5, tabs: 8, maxAttempts: 2, behind: BusyFirstLeave())
            #expect(!log.contains("after a lost one"), "\(log)")
        }

        /// The same, when no tab can be opened to replace the session's only one: it is kept
        /// open (closing a session's last window ends the session), and the page is loaded in a
        /// tab opened afterwards, charged nothing.
        @Test(
            .disabled(if: tabbedRun, "sets its own tabs: run once"),
            .disabled(if: testWebDriver == .bidi, "the fault is injected in classic WebDriver's HTTP"))
        func aBusyLastTabIsKeptWhenNoneCanReplaceIt() async throws {
            let log = try await crawlEachPageOnce(
                3...3, tabs: 8, maxAttempts: 1, behind: BusyFirstLeave(failingNewWindow: true))
            #expect(log.contains("it is kept open"), "\(log)")
            #expect(!log.contains("session was lost") && !log.contains("after a lost one"), "\(log)")
        }

        /// Tabbed, a ready page is read by its readiness check; an extraction that outlasts the
        /// check's short script timeout (thousands of matches) is read by its own command, which
        /// may take longer, instead of being checked until its page-load timeout.
        @Test(.disabled(if: tabbedRun, "sets its own tabs: run once"))
        func aLongExtractionIsStillReadInATab() async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let b = server.baseURL
            let urls = [b + "/huge?mb=8", b + "/page/1"]
            let r = try await crawl(
                urls,
                options: options {
                    $0.fields = ["h1": FieldSpec(selector: "h1"), "paras": FieldSpec(selector: "p", all: true)]
                    $0.tabsPerSession = 4; $0.maxAttempts = 1; $0.pageLoadTimeout = 30
                },
                driver: driver.url)
            await driver.stop()
            let rec = byURL(r.records)
            let huge = rec[b + "/huge?mb=8"]
            #expect(huge?.ok == true, "\(String(describing: huge?.error))\n\(r.log)")
            #expect((huge?.fields["paras"]?.arrayValue?.count ?? 0) > 7000)
            #expect(rec[b + "/page/1"]?.fields["h1"] == .string("Page 1"))
            print("long extraction: \(huge?.ms ?? -1) ms")
        }

        @Test(arguments: ["alert", "confirm", "prompt"])
        func dialogsAreDismissedAndThePageStillRead(kind: String) async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let b = server.baseURL
            let dialog = b + "/dialog?kind=\(kind)"
            let urls = [b + "/page/1", dialog, b + "/page/2", dialog + "&again", b + "/page/3"]
            let r = try await crawl(urls, options: options { $0.fields = Self.fields }, driver: driver.url)
            await driver.stop()
            let rec = byURL(r.records)
            for url in [dialog, dialog + "&again"] {
                #expect(rec[url]?.ok == true, "\(String(describing: rec[url]?.error))")
                #expect(
                    rec[url]?.title == "Dialog \(kind)" && rec[url]?.finalUrl == url, "\(String(describing: rec[url]))")
                #expect(rec[url]?.fields["h1"] == .string("Dialog \(kind)") && rec[url]?.fields["price"] == "$9.00")
                #expect(rec[url]?.attempts == 1)
            }
            expectOwnPage(rec[b + "/page/1"], b + "/page/1", n: 1)
            expectOwnPage(rec[b + "/page/2"], b + "/page/2", n: 2)
            expectOwnPage(rec[b + "/page/3"], b + "/page/3", n: 3)
        }

        @Test func loneSurrogatesAreReplacedAndTheRecordKept() async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let b = server.baseURL
            let urls = [b + "/surrogate", b + "/page/1"]
            let o = options {
                $0.fields = [
                    "lone": FieldSpec(selector: ".lone"), "pair": FieldSpec(selector: ".pair"),
                    "h1": FieldSpec(selector: "h1"), "price": FieldSpec(selector: ".price"),
                ]
            }
            let r = try await crawl(urls, options: o, driver: driver.url)
            await driver.stop()
            let rec = byURL(r.records)
            let page = rec[b + "/surrogate"]
            #expect(page?.ok == true, "\(String(describing: page?.error))")
            #expect(page?.title == "Lone \u{FFFD} title")
            #expect(page?.fields["lone"] == .string("high \u{FFFD} low \u{FFFD} end"))
            #expect(page?.fields["pair"] == .string("\u{1F600}"), "a valid pair is kept")
            #expect(rec[b + "/page/1"]?.ok == true && rec[b + "/page/1"]?.title == "Page 1")
        }

        @Test func aBasicChallengeIsAnHTTP401() async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let b = server.baseURL
            let urls = [b + "/page/1", b + "/basic-auth", b + "/page/2"]
            let r = try await crawl(urls, options: options { $0.fields = Self.fields }, driver: driver.url)
            await driver.stop()
            let rec = byURL(r.records)
            let auth = rec[b + "/basic-auth"]
            expectNoPageData(auth)
            #expect(auth?.error?.kind == .http && auth?.status == 401 && auth?.attempts == 1)
            #expect(auth?.error?.message == "HTTP 401: authentication required")
            expectOwnPage(rec[b + "/page/1"], b + "/page/1", n: 1)
            expectOwnPage(rec[b + "/page/2"], b + "/page/2", n: 2)
        }
    }
}

/// Samples how many browsers run under a chromedriver, every 50 ms, until stopped.
final class BrowserWatch: Sendable {
    private let task: Task<Int, Never>

    init(_ driver: ChromeDriver) {
        task = Task {
            var most = 0
            while !Task.isCancelled {
                most = max(most, driver.browserCount)
                try? await Task.sleep(for: .milliseconds(50))
            }
            return most
        }
    }

    /// The most browsers seen at once.
    func stop() async -> Int {
        task.cancel()
        return await task.value
    }
}

extension Chrome.HostilePageTests {
    /// Issue 9's "done when": 100 normal pages with a crashing and a hanging page among them
    /// finish within the hostile pages' timeouts plus a few seconds of the same 100 pages alone,
    /// every normal page ok, and never a second browser alive beside the working one.
    @Test func aHundredPagesWithACrashAndAHangFinishOnTime() async throws {
        let server = try FixtureServer()
        let driver = try await ChromeDriver.start()
        defer { server.stop() }
        server.onCrash { driver.killRenderers() }
        let b = server.baseURL
        let o = options {
            $0.fields = Self.fields; $0.pageLoadTimeout = 3; $0.maxAttempts = 2; $0.retryBackoff = 0.05
        }
        let normal = (1...100).map { b + "/page/\($0)" }
        let t0 = ContinuousClock.now
        let alone = try await crawl(normal, options: o, driver: driver.url)
        let aloneTime = ContinuousClock.now - t0
        #expect(alone.records.allSatisfy { $0.ok })

        let others = (101...200).map { b + "/page/\($0)" }
        let urls = Array(others[..<30]) + [b + "/crash"] + Array(others[30..<60]) + [b + "/hang"] + Array(others[60...])
        let watch = BrowserWatch(driver)
        let t1 = ContinuousClock.now
        let r = try await crawl(urls, options: o, driver: driver.url)
        let hostileTime = ContinuousClock.now - t1
        let most = await watch.stop()
        #expect(await eventually { driver.browserCount == 0 }, "every session was deleted")
        await driver.stop()

        #expect(r.code == .ok && r.records.count == 102)
        let rec = byURL(r.records)
        for (i, url) in others.enumerated() { expectOwnPage(rec[url], url, n: 101 + i) }
        #expect(rec[b + "/crash"]?.error?.kind == .browserCrash && rec[b + "/crash"]?.attempts == 2)
        #expect(rec[b + "/hang"]?.error?.kind == .timeout && rec[b + "/hang"]?.attempts == 2)
        #expect(most <= 1, "an abandoned browser was still alive while the batch went on")
        // The hang's two attempts each last the page-load timeout plus the navigation's margin;
        // the four lost sessions each cost a browser start, read from the crawler's log. On this
        // shared 2-core machine a start takes 0.5 to 6 s with the load of the moment, and the
        // same pages take longer from one minute to the next: the pages' own time is scaled by
        // how much longer the normal pages' records took in this run.
        // Tabbed, `killRenderers` (the crash) kills the renderers of the pages loading in the
        // other tabs too: those pages are loaded again, at most tabs - 1 per crash.
        var reloaded = 0
        for (url, n) in zip(others, 101...) {
            if tabbedRun && server.hits("/page/\(n)") == 2 {
                reloaded += 1
                continue
            }
            #expect((rec[url]?.ms ?? .max) < 3000, "\(url) never waited for a timeout")
            #expect(server.hits("/page/\(n)") == 1)
        }
        #expect(reloaded <= 2 * (testTabs - 1))
        let restarts = browserStarts(in: r.log)
        // Tabbed, a hung tab is closed alone; killing every renderer of the browser may lose the
        // session (then it is replaced), once per attempt of /crash at most.
        #expect(tabbedRun ? restarts.count <= 2 : restarts.count == 4, "\(r.dir)/crawler.log")
        func total(_ records: [ResultRecord]) -> Double { Double(max(1, records.map(\.ms).reduce(0, +))) }
        let scale = max(1, total(others.compactMap { rec[$0] }) / total(alone.records))
        let budget = aloneTime * scale + .seconds(2 * (3 + 2)) + restarts.reduce(.zero, +) + .seconds(8)
        print(
            "hostile batch: 100 pages alone \(aloneTime); with /crash and /hang \(hostileTime) (budget \(budget): the pages alone ×\((scale * 100).rounded() / 100), timeouts 10 s, browser restarts \(restarts.map { "\($0)" }.joined(separator: ", ")), slack 8 s (the crash noticed twice, four sessions closed)); most browsers at once \(most)"
        )
        #expect(hostileTime < budget, "\(r.dir)/crawler.log")
    }

    /// The last resort of `SessionCloser`: a hung session whose browser has no DevTools endpoint
    /// to reach (a remote sidecar, a Selenium node) cannot be deleted, so its processes are
    /// killed, found by their profile directory.
    @Test func aHungBrowserThatCannotBeDeletedIsKilled() async throws {
        let server = try FixtureServer()
        let driver = try await ChromeDriver.start()
        defer { server.stop() }
        let client = WebDriverClient(baseURL: driver.url, http: CurlHTTPClient())
        // chromedriver's own page-load timeout past the command's 3 s deadline: on a loaded machine
        // a 1 s one ended the navigation with chromedriver's "timed out receiving message from
        // renderer" before `/hang` had loaded and begun its loop (nothing hung, the DELETE worked).
        let session = try await client.newSession(
            alwaysMatch: PageVisitor.capabilities(options { $0.pageLoadTimeout = 30 }, tabs: false))
        let hung = await #expect(throws: WebDriverError.self) {
            try await session.navigate(to: server.baseURL + "/hang", timeout: .seconds(3))
        }
        #expect(hung?.isUnresponsive == true && hung?.isSessionLost == false, "\(String(describing: hung))")
        #expect(driver.browserCount == 1)
        // The same session as a driver that names no DevTools endpoint reports it.
        var capabilities = session.capabilities.objectValue ?? [:]
        capabilities["goog:chromeOptions"] = nil
        let remote = WebDriverSession(id: session.id, client: client, capabilities: .object(capabilities))
        #expect(remote.debuggerAddress == nil && remote.browserUserDataDir != nil)
        let dir = tempDir("closer")
        let fd = open(dir + "/log", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let t0 = ContinuousClock.now
        await SessionCloser(http: CurlHTTPClient(), log: Log(fd: fd)).close(remote, unresponsive: true, label: "test")
        let took = ContinuousClock.now - t0
        close(fd)
        #expect(await eventually(timeout: .seconds(5)) { driver.browserCount == 0 }, "the hung browser is gone")
        await driver.stop()
        let log = try String(contentsOfFile: dir + "/log", encoding: .utf8)
        #expect(log.contains("session \(session.id) did not end; killed its browser (pids"), "\(log)")
        #expect(took < SessionCloser.deleteTimeout + .seconds(2), "the DELETE is waited for a bounded time: \(took)")
    }

    /// How long each replacement session took to open, from the crawler's log: an "opening"
    /// line to the next "new session" line (the first session logs none).
    func browserStarts(in log: String) -> [Duration] {
        var starts: [Duration] = []
        var opening: Date?
        let parse = ISO8601DateFormatter()
        parse.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for line in log.split(separator: "\n") {
            guard let stamp = line.split(separator: " ").first, let time = parse.date(from: String(stamp)) else {
                continue
            }
            if line.contains("session 1: opening") {
                opening = time
            } else if let began = opening, line.contains("session 1: new session") {
                starts.append(.milliseconds(Int64(time.timeIntervalSince(began) * 1000)))
                opening = nil
            }
        }
        return starts
    }
}

/// What the crawler's own HEAD request makes of a navigation that committed no document.
@Suite struct UncommittedNavigationTests {
    func failure(_ answers: [String: HTTPResponse], allowPrivate: Bool = true, url: String) async -> VisitFailure {
        let transport = ClosureTransport { request in
            #expect(request.method == "HEAD")
            return answers[request.url] ?? HTTPResponse(status: 404)
        }
        let probe = UncommittedNavigation(http: transport, policy: NetworkPolicy(allowPrivateNetworks: allowPrivate))
        return await probe.failure(for: url)
    }

    @Test func statusesAndDownloads() async {
        let b = "http://127.0.0.1:9"
        let f = await failure(
            [b + "/a": HTTPResponse(status: 301, headers: [("Location", "/b")]), b + "/b": HTTPResponse(status: 204)],
            url: b + "/a")
        #expect(f.kind == .http && f.status == 204, "redirects are followed")
        let zip = await failure(
            [b + "/zip": HTTPResponse(status: 200, headers: [("Content-Type", "application/zip")])], url: b + "/zip")
        #expect(
            zip.kind == .download && zip.status == 200
                && zip.message == "a file to download (Content-Type: application/zip), not a page")
        let html = await failure(
            [b + "/html": HTTPResponse(status: 200, headers: [("Content-Type", "text/html")])], url: b + "/html")
        #expect(html.kind == .navigation && html.status == nil)
        #expect(html.message.hasSuffix("the server answers HEAD with HTTP 200"))
        let gone = await failure([:], url: b + "/missing")
        #expect(gone.kind == .navigation)
    }

    @Test func redirectsGoThroughTheNetworkPolicy() async {
        let f = await failure(
            [
                "http://127.0.0.1:9/x": HTTPResponse(
                    status: 302, headers: [("Location", "http://169.254.170.2/v2/credentials")])
            ],
            url: "http://127.0.0.1:9/x")
        #expect(f.kind == .blocked, "the crawler never asks the credential endpoint: \(f.message)")
    }
}

/// chromedriver as a loaded machine makes it: the first New Window is carried out at once but
/// answered `late`, and every command sent meanwhile waits behind it (chromedriver runs a
/// session's commands one after another). A request whose deadline passes first fails with a
/// timeout, as the libcurl client's would.
final class LateNewWindow: HTTPTransport {
    let late: Duration
    let real = CurlHTTPClient(connectTimeout: .seconds(2), timeout: .seconds(60))
    private let busy = Mutex<(delayed: Bool, until: ContinuousClock.Instant)>((false, .now))

    init(late: Duration) { self.late = late }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let first = request.method == "POST" && request.url.hasSuffix("/window/new")
        let (delay, until) = busy.withLock { b -> (Bool, ContinuousClock.Instant) in
            if first && !b.delayed {
                b = (true, .now + late)
                return (true, b.until)
            }
            return (false, b.until)
        }
        var answer: HTTPResponse?
        if delay { answer = try await real.send(request) }
        if until > .now {
            if let timeout = request.timeout, .now + timeout < until {
                try await Task.sleep(for: timeout)
                throw HTTPError(code: .timeout, curlCode: 28, message: "Operation timed out", url: request.url)
            }
            try await Task.sleep(until: until, clock: .continuous)
        }
        if let answer { return answer }
        return try await real.send(request)
    }
}

/// Answers the first `leave` (the script that marks a tab's document) with chromedriver's script
/// timeout, as a loaded machine's fresh tab did; everything else goes to the real chromedriver.
/// With `failingNewWindow`, the first New Window after that answer fails too (a browser too
/// loaded to open a tab in time).
final class BusyFirstLeave: HTTPTransport {
    let real = CurlHTTPClient(connectTimeout: .seconds(2), timeout: .seconds(60))
    private let done = Mutex(false)
    private let newWindowFailures: Mutex<Int>

    init(failingNewWindow: Bool = false) { newWindowFailures = Mutex(failingNewWindow ? 1 : 0) }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let isLeave =
            request.url.hasSuffix("/execute/sync")
            && (request.body.map { String(decoding: $0, as: UTF8.self) }?.contains("window.confirm = () => false")
                ?? false)
        if isLeave,
            done.withLock({ d in
                defer { d = true }; return !d
            })
        {
            return Self.driverError(
                "script timeout", "script timeout: Timed out receiving message from renderer: 0.300")
        }
        if request.url.hasSuffix("/window/new"), done.withLock({ $0 }),
            newWindowFailures.withLock({ n in
                defer { n = max(0, n - 1) }; return n > 0
            })
        {
            return Self.driverError("timeout", "timeout: Timed out receiving message from renderer")
        }
        return try await real.send(request)
    }

    /// chromedriver's answer for a failed command ([W3C errors](https://www.w3.org/TR/webdriver2/#errors)).
    static func driverError(_ error: String, _ message: String) -> HTTPResponse {
        let body = #"{"value":{"error":"\#(error)","message":"\#(message)","stacktrace":""}}"#
        return HTTPResponse(status: 500, headers: [("Content-Type", "application/json")], body: Data(body.utf8))
    }
}
