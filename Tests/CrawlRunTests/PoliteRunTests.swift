import Coordinator
import CrawlKit
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

extension Chrome {
    /// Per-host limits across the fleet, measured where a site owner would: request timestamps at
    /// two loopback hosts (127.0.0.2 and 127.0.0.3), a run of six batches on five task slots, at most two tasks per host.
    @Suite struct PoliteRunTests {
        @Test func perHostLimitsHoldAcrossTasksAndRobotsTxtIsObeyed() async throws {
            let robots: @Sendable (HTTPRequest) -> HTTPResponse? = { request in
                request.url == "/robots.txt"
                    ? HTTPResponse(status: 200, body: Data("User-agent: *\nDisallow: /private\n".utf8)) : nil
            }
            let a = try FixtureServer(address: "127.0.0.2", handler: robots)
            let b = try FixtureServer(address: "127.0.0.3")
            defer {
                a.stop()
                b.stop()
            }
            let urls =
                (1...18).map { a.baseURL + "/page/\($0)" } + [a.baseURL + "/private/1"]
                + (1...18).map { b.baseURL + "/page/\($0)" }
            let rate = 2.0
            let dir = tempDir("polite")
            let jobPath = try writeJob(
                [
                    "name": "polite", "urls": .array(urls.map { .string($0) }), "batching": ["tasks": 6],
                    "crawl": [
                        "allowPrivateNetworks": true, "robotsTxt": "obey", "tabsPerSession": 2, "sessions": 1,
                        "retryBackoff": .number(0.05),
                    ],
                    "politeness": ["maxTasksPerHost": 2, "requestsPerSecondPerHost": .number(rate)],
                    "task": ["stopTimeout": 5],
                ], in: dir)
            let r = try await CrawlrunProcess.run(["run", jobPath, "--runs-dir", dir + "/runs", "--max-tasks", "5"])
            #expect(r.code == 1, "one URL refused by robots.txt: exit 1\n\(r.stderr)")
            let run = try runDirectory(dir + "/runs")
            let records = try readRecords(run + "/results.jsonl")
            #expect(records.count == 37, "one record per URL")
            let refused = records.filter { $0.error?.kind == .robots }
            #expect(refused.map(\.url) == [a.baseURL + "/private/1"])
            #expect(
                refused.first?.attempts == 0 && refused.first?.error?.message.contains("Disallow: /private") == true)
            #expect(records.filter(\.ok).count == 36)
            #expect(a.hits("/robots.txt") == 1 && b.hits("/robots.txt") == 1, "robots.txt fetched once per host")
            #expect(a.hits("/private/1") == 0, "a disallowed URL is never loaded")

            // At most 2 tasks held a host at once: each host's batches' task lifetimes overlap
            // at most pairwise.
            let state = try readJSON(run + "/state.json")
            let hostOf = state["hostSlots"]?["hosts"]?.objectValue
            #expect(hostOf?.count == 6, "the ledger knows each batch's host")
            // Each batch's host from its records (not from the ledger under test).
            let hostByBatch = Dictionary(records.map { ($0.batch, URL(string: $0.url)?.host ?? "") }) { a, _ in a }
            var spans: [String: [(Double, Double)]] = [:]
            for batch in state["batches"]?.arrayValue ?? [] {
                guard let id = batch["id"]?.stringValue, let host = hostByBatch[id],
                    let t = batch["attempts"]?.arrayValue?.last, let from = t["launchedAt"]?.doubleValue,
                    let to = t["endedAt"]?.doubleValue
                else { continue }
                spans[host, default: []].append((from, to))
            }
            for (host, list) in spans {
                let most = mostAtOnce(list)
                #expect(most <= 2, "\(host): \(most) tasks at once (limit 2)")
                #expect(list.count == 3)
            }
            for server in [a, b] { expectPaced(server, pages: 18, rate: rate, holders: 2) }
            let report = try readJSON(run + "/report.json")
            let hosts = report["hosts"]?["list"]?.arrayValue ?? []
            #expect(Set(hosts.compactMap { $0["host"]?.stringValue }) == ["127.0.0.2", "127.0.0.3"])
            #expect(report["hosts"]?["limitPerSecond"]?.doubleValue == rate)
            for h in hosts { #expect((numberOrZero(h["perSecond"])) <= rate * 1.1, "\(h)") }
            let page = (try? String(contentsOfFile: run + "/report.html", encoding: .utf8)) ?? ""
            #expect(page.contains("<h2>Hosts</h2>") && page.contains("measured req/s"))
        }
    }
}

private func numberOrZero(_ v: JSONValue?) -> Double { v?.doubleValue ?? 0 }

/// The most of `spans` open at once (each from its start up to, not including, its end).
func mostAtOnce<T: Comparable>(_ spans: [(T, T)]) -> Int {
    spans.map { s in spans.filter { $0.0 <= s.0 && s.0 < $0.1 }.count }.max() ?? 0
}

/// `server`'s `/page/1…pages` requests as it saw them: no `window` holds more than `rate`
/// allows, plus one per task holding the host (a window's edges). The pacer spaces each
/// task's starts; the browser adds its own delay before a request reaches the server (a fresh
/// browser's first page most), hence the window rather than the gap between two requests.
/// Unpaced, two tasks × two tabs put a dozen into a second.
func expectPaced(
    _ server: FixtureServer, pages: Int, rate: Double, holders: Int, window: Duration = .seconds(2),
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let times = (1...pages).flatMap { server.hitTimes("/page/\($0)") }.sorted()
    #expect(times.count >= pages, sourceLocation: sourceLocation)
    let busiest = times.map { t in times.filter { $0 >= t && $0 - t < window }.count }.max() ?? 0
    #expect(
        busiest <= Int((rate * (window / .seconds(1))).rounded()) + holders,
        "\(busiest) requests within \(window) at \(server.address): \(times.map { $0 - times[0] })",
        sourceLocation: sourceLocation)
}
