import CrawlKit
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

@testable import Coordinator
@testable import CrawlRunCLI
@testable import Crawler

/// The politeness rules as values: host slots in the ledger, the pacer's intervals and back-off,
/// Retry-After, the job's `politeness` block, robots.txt fetched from a real loopback server.
@Suite struct PolitenessTests {
    static let done = TaskEnd(
        stopCode: .essentialContainerExited, reason: "Essential container in task exited",
        containers: [ContainerExit(name: "crawler", exitCode: 0), ContainerExit(name: "webdriver", exitCode: 143)])

    func launched(_ actions: [LedgerAction]) -> [String] {
        actions.compactMap { if case .launch(let o) = $0 { o.batch } else { nil } }
    }

    /// A batch whose host is at its limit waits; a batch of another host launches meanwhile.
    @Test func theLedgerSkipsBatchesWhoseHostsAreAtTheirLimit() throws {
        var l = BatchLedger(
            run: "r", batches: [("0001", 1), ("0002", 1), ("0003", 1), ("0004", 1), ("0005", 1)],
            options: .init(maxTasks: 3, retries: 0, maxRunSeconds: 3600))
        l.hostSlots = HostSlots(
            limit: 1, hosts: ["0001": ["a"], "0002": ["a"], "0003": ["b"], "0004": ["a", "b"], "0005": ["c"]])
        #expect(launched(l.start()) == ["0001", "0003", "0005"])
        for b in ["0001", "0003", "0005"] { _ = l.launched(batch: b, attempt: 1, task: "t" + b, now: 1) }
        // c ends: nothing of a or b may start.
        #expect(launched(l.taskEnded(batch: "0005", attempt: 1, records: 1, missing: [], end: Self.done, now: 2)) == [])
        // a ends: 0002 (a) goes before 0004 (a and b: b still held).
        #expect(
            launched(l.taskEnded(batch: "0001", attempt: 1, records: 1, missing: [], end: Self.done, now: 3)) == [
                "0002"
            ])
        _ = l.launched(batch: "0002", attempt: 1, task: "t2", now: 3)
        #expect(launched(l.taskEnded(batch: "0003", attempt: 1, records: 1, missing: [], end: Self.done, now: 4)) == [])
        #expect(
            launched(l.taskEnded(batch: "0002", attempt: 1, records: 1, missing: [], end: Self.done, now: 5)) == [
                "0004"
            ])
        // The slots survive state.json.
        let back = try JSONDecoder().decode(BatchLedger.self, from: JSONEncoder().encode(l))
        #expect(back.hostSlots == l.hostSlots)
    }

    @Test func pacedStartsKeepEachHostsInterval() {
        let t0 = ContinuousClock.now
        var rules = PaceRules(delay: .zero, intervals: ["a": .milliseconds(500)])
        #expect(rules.start(host: "a", now: t0) == .go)
        #expect(rules.start(host: "a", now: t0 + .milliseconds(100)) == .waitUntil(t0 + .milliseconds(500)))
        #expect(rules.start(host: "b", now: t0 + .milliseconds(100)) == .go, "another host is not held back")
        #expect(rules.start(host: "a", now: t0 + .milliseconds(500)) == .go)
        // politenessDelay: one at a time, the gap from the end.
        var gap = PaceRules(delay: .seconds(1))
        #expect(gap.start(host: "a", now: t0) == .go)
        #expect(gap.start(host: "a", now: t0) == .busy)
        gap.finish(host: "a", now: t0 + .seconds(3))
        #expect(gap.start(host: "a", now: t0 + .seconds(3)) == .waitUntil(t0 + .seconds(4)))
    }

    @Test func backOffDoublesUpToACeilingAndHonoursRetryAfter() {
        let t0 = ContinuousClock.now
        var rules = PaceRules(delay: .zero)
        #expect(rules.backOff(host: "a", retryAfter: nil, now: t0) == .seconds(1))
        #expect(rules.backOff(host: "a", retryAfter: nil, now: t0) == .seconds(2))
        #expect(rules.backOff(host: "a", retryAfter: nil, now: t0) == .seconds(4))
        #expect(rules.start(host: "a", now: t0 + .seconds(1)) == .waitUntil(t0 + .seconds(4)))
        #expect(rules.start(host: "b", now: t0) == .go)
        #expect(rules.backOff(host: "a", retryAfter: .seconds(30), now: t0) == .seconds(30))
        #expect(rules.backOff(host: "a", retryAfter: .seconds(86_400), now: t0) == .seconds(120), "the ceiling")
        for _ in 0..<20 { _ = rules.backOff(host: "c", retryAfter: nil, now: t0) }
        #expect(rules.backOff(host: "c", retryAfter: nil, now: t0) == .seconds(120))
        rules.settled(host: "c")
        #expect(rules.backOff(host: "c", retryAfter: nil, now: t0) == .seconds(1), "a good answer starts over")
    }

    /// RFC 9110 §10.2.3: seconds or an HTTP-date in any of its three forms.
    @Test func retryAfterParsesSecondsAndHTTPDates() {
        let now = 784_111_777.0  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(RetryAfter.seconds("120", now: now) == 120)
        #expect(RetryAfter.seconds(" 5 ", now: now) == 5)
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:50:37 GMT", now: now) == 60)
        #expect(RetryAfter.seconds("Sunday, 06-Nov-94 08:51:37 GMT", now: now) == 120)
        #expect(RetryAfter.seconds("Sun Nov  6 08:49:47 1994", now: now) == 10)
        #expect(RetryAfter.seconds("Sat, 05 Nov 1994 08:49:37 GMT", now: now) == 0, "a date past is now")
        #expect(RetryAfter.seconds("soon", now: now) == nil)
        #expect(RetryAfter.seconds("-3", now: now) == nil)
        #expect(RetryAfter.seconds("Sun, 32 Nov 1994 08:49:37 GMT", now: now) == nil)
    }

    func problems(_ job: String) -> [String] {
        do {
            _ = try Job.parse(Data(job.utf8), path: "job.json", backend: .local)
            return []
        } catch let e as JobError {
            return e.problems.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func badPolitenessAndRobotsSettingsNameTheirPlace() {
        #expect(
            problems(#"{"urls": ["http://a.example/"], "politeness": {"requestsPerSecondPerHost": 0}}"#) == [
                "politeness.requestsPerSecondPerHost: a rate of 0 never finishes a URL: give requests per second above 0 (0.5 is one request every 2 s), or remove the key for no rate limit"
            ])
        #expect(
            problems(#"{"urls": ["http://a.example/"], "politeness": {"maxTasksPerHost": 0}}"#) == [
                "politeness.maxTasksPerHost: must be between 1 and 5000, found 0"
            ])
        #expect(
            problems(#"{"urls": ["http://a.example/"], "politeness": {"maxTaskPerHost": 2}}"#) == [
                #"politeness.maxTaskPerHost: unknown key (did you mean "maxTasksPerHost"?)"#
            ])
        #expect(
            problems(#"{"urls": ["http://a.example/"], "crawl": {"robotsTxt": "obay"}}"#) == [
                #"crawl.robotsTxt: "obay" is not one of obey, ignore (did you mean "obey"?)"#
            ])
        #expect(
            problems(#"{"urls": ["http://a.example/"], "crawl": {"robotsProductToken": "CrawlRun/1.0"}}"#) == [
                "crawl.robotsProductToken: use letters, _ and - only (RFC 9309 §2.2.1), e.g. CrawlRun"
            ])
    }

    @Test func jobsWithoutTheKeyKeepTheirBehaviourAndNewOnesSayWhoTheyAre() throws {
        let old = try Job.parse(Data(#"{"urls": ["http://a.example/"]}"#.utf8), path: "j", backend: .local)
        #expect(old.crawl.robotsTxt == .ignore && old.crawl.userAgent == nil && !old.groupByHost)
        let new = try Job.parse(
            Data(
                #"{"urls": ["http://a.example/"], "crawl": {"robotsTxt": "obey", "contactURL": "https://me.example/bot"}, "politeness": {"maxTasksPerHost": 2}}"#
                    .utf8), path: "j", backend: .local)
        #expect(new.crawl.userAgent == "Mozilla/5.0 (compatible; CrawlRun/1.0; +https://me.example/bot)")
        #expect(new.groupByHost, "per-host limits group each host's URLs")
        // The share: 2 req/s over at most 2 tasks at once is one request per second each;
        // a Crawl-delay of 3 s is a floor.
        #expect(new.politeness.interval(holders: 2, crawlDelay: nil) == nil)
        let rate = PolitenessSettings(maxTasksPerHost: 2, requestsPerSecondPerHost: 2)
        #expect(rate.interval(holders: rate.holders(batchesWithHost: 5, maxTasks: 10), crawlDelay: nil) == 1)
        #expect(rate.interval(holders: rate.holders(batchesWithHost: 1, maxTasks: 10), crawlDelay: nil) == 0.5)
        #expect(rate.interval(holders: 2, crawlDelay: 3) == 3)
        #expect(rate.hostSeconds(urls: 100_000, secondsPerPage: 2, pagesAtOnce: 4) == 50_000)
    }

    /// robots.txt from a real loopback server: status rules, redirects, a loop, 10 MB.
    @Test func robotsTxtIsFetchedPerTheRFCsStatusRules() async throws {
        let big = Data(("User-agent: *\nDisallow: /early\n" + String(repeating: "#", count: 10 << 20)).utf8)
        let server = try FixtureServer(fixtures: false) { request in
            switch request.url {
            case "/ok/robots.txt": HTTPResponse(status: 200, body: Data("User-agent: *\nDisallow: /no\n".utf8))
            case "/gone/robots.txt": HTTPResponse(status: 404)
            case "/down/robots.txt": HTTPResponse(status: 503)
            case "/loop/robots.txt": HTTPResponse(status: 301, headers: [("Location", "/loop/again")])
            case "/loop/again": HTTPResponse(status: 302, headers: [("Location", "/loop/robots.txt")])
            case "/moved/robots.txt": HTTPResponse(status: 301, headers: [("Location", "/ok/robots.txt")])
            case "/big/robots.txt": HTTPResponse(status: 200, body: big)
            default: nil
            }
        }
        defer { server.stop() }
        let fetcher = RobotsFetcher(http: CurlHTTPClient(), userAgent: "CrawlRun-test", productToken: "CrawlRun")
        func fetch(_ prefix: String) async -> RobotsFetcher.Fetched {
            // The fixture's paths stand for hosts: one origin, robots.txt under a prefix.
            var origin = RobotsOrigin(url: server.baseURL + "/")!
            origin.pathAndQuery = "/"
            return await fetcher.fetch(url: server.baseURL + "/\(prefix)/robots.txt", origin: origin)
        }
        #expect(await fetch("ok").rules.refusal(for: "/no/1") != nil)
        #expect(await fetch("moved").rules.refusal(for: "/no/1") != nil, "a redirect is followed")
        #expect(await fetch("gone").rules == .allowAll)
        let down = await fetch("down")
        #expect(down.rules.refusal(for: "/x")?.contains("answered 503") == true)
        let loop = await fetch("loop")
        #expect(loop.rules == .allowAll)
        #expect(loop.note?.contains("redirects in a loop") == true, "\(loop.note ?? "")")
        let large = await fetch("big")
        #expect(large.rules.refusal(for: "/early") != nil)
        #expect(large.note?.contains("only its first 500 KiB were read") == true)
        #expect(server.requestHeaders("/ok/robots.txt").first?["user-agent"] == "CrawlRun-test")
        // Nobody listening: the host is off limits for the run.
        let closed = try FixtureServer()
        let url = closed.baseURL
        closed.stop()
        let gone = await fetcher.fetch(RobotsOrigin(url: url + "/")!)
        #expect(gone.rules.disallowAll?.contains("could not be fetched") == true)
    }

    /// report.json `hosts`: per host, loads over the span, and the back-offs its records carry.
    @Test func hostRatesCountLoadsAndBackoffsPerHost() {
        let lines = [
            #"{"url":"http://a.example/1","ok":true,"attempts":1,"startedAt":"2026-12-07T10:00:00.000Z","ms":500}"#,
            #"{"url":"http://a.example/2","ok":true,"attempts":2,"startedAt":"2026-12-07T10:00:01.000Z","ms":1000,"backoffs":2}"#,
            #"{"url":"http://a.example/3","ok":false,"attempts":0,"startedAt":"2026-12-07T10:00:09.000Z","ms":0,"error":{"kind":"robots","message":"m"}}"#,
            #"{"url":"http://B.example:8080/1","ok":true,"attempts":1,"startedAt":"2026-12-07T10:00:00.000Z","ms":100,"backoffs":1}"#,
        ].joined(separator: "\n")
        let rates = HostRates(results: Array(lines.utf8), limit: 2)
        #expect(rates.hosts.map(\.name) == ["a.example", "b.example"])
        #expect(rates.hosts[0].urls == 3 && rates.hosts[0].loads == 3 && rates.hosts[0].backoffs == 2)
        #expect(rates.hosts[0].seconds == 2 && rates.hosts[0].rate == 1.5)
        #expect(rates.hosts[1].rate == nil, "one load is no rate")
        #expect(rates.totalBackoffs == 3)
        #expect(rates.json["limitPerSecond"] == 2)
    }

    /// `plan` shows each host's URLs, batches, limit and the time the limit alone implies.
    @Test func planShowsTheTimeAHostsLimitImplies() async throws {
        let dir = tempDir("plan-hosts")
        let urls = (1...600).map { "https://shop.example/p/\($0)" } + (1...30).map { "https://other.example/\($0)" }
        try urls.joined(separator: "\n").write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        let jobPath = try writeJob(
            [
                "urlsFile": "urls.txt", "batching": ["batchSize": 100],
                "politeness": ["maxTasksPerHost": 2, "requestsPerSecondPerHost": .number(0.5)],
            ], in: dir)
        let r = try await CrawlrunProcess.run(["plan", jobPath])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.contains("  politeness: per host 2 tasks, 0.5 req/s across all tasks"), "\(r.stdout)")
        #expect(
            r.stdout.contains("    shop.example      600        7  2 tasks, 0.5 req/s  ≥ 20 min 0 s"), "\(r.stdout)")
        #expect(r.stdout.contains("    other.example      30        1  2 tasks, 0.5 req/s  ≥ 1 min 0 s"), "\(r.stdout)")
        #expect(r.stdout.contains("  robots.txt: ignored"), "a job without the key keeps its behaviour")
        let zero = try writeJob(
            ["urls": ["https://a.example/"], "politeness": ["requestsPerSecondPerHost": 0]], in: dir)
        let bad = try await CrawlrunProcess.run(["plan", zero])
        #expect(
            bad.code == 65 && bad.stderr.contains("politeness.requestsPerSecondPerHost: a rate of 0"), "\(bad.stderr)")
    }
}
