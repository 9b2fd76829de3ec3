import CrawlKit
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing
import WebDriver

@testable import Crawler

/// `crawl.blockHosts` and the `/real/N` pages it is measured on (issue 23).
@Suite struct BlockHostsOptionTests {
    func problems(_ crawl: String) throws -> [String] {
        let dir = tempDir("blockhosts")
        try Data(#"{"urls": ["http://a.example/"], "crawl": \#(crawl)}"#.utf8).write(
            to: URL(fileURLWithPath: dir + "/job.json"))
        do {
            _ = try Job.load(path: dir + "/job.json", backend: .local)
            return []
        } catch let error as JobError {
            return error.problems.map(\.description)
        }
    }

    @Test func badPatternsAreNamedAtTheirIndex() throws {
        let found = try problems(
            #"{"blockHosts": ["ads.example", "https://t.example/x", "10.0.0.1", "a.example:8080", "", 7, "*", "a b"]}"#)
        #expect(
            found == [
                "crawl.blockHosts[1]: expected a host name such as ads.example.com, or a pattern such as *.ads.example.com, not a URL",
                "crawl.blockHosts[2]: an IP address is not looked up by name, so it cannot be blocked this way; expected a host name such as ads.example.com, or a pattern such as *.ads.example.com",
                "crawl.blockHosts[3]: expected a host name such as ads.example.com, or a pattern such as *.ads.example.com, without a port",
                "crawl.blockHosts[4]: must not be empty",
                "crawl.blockHosts[5]: expected a string, found a number",
                "crawl.blockHosts[6]: would block every host; expected a host name such as ads.example.com, or a pattern such as *.ads.example.com",
                "crawl.blockHosts[7]: \" \" cannot be in a host name; expected a host name such as ads.example.com, or a pattern such as *.ads.example.com",
            ])
        #expect(try problems(#"{"blockHosts": ["ads.example", "*.cdn.example"]}"#) == [])
    }

    @Test func aProxyOrFirefoxIsRefusedWithAReason() throws {
        #expect(
            try problems(#"{"blockHosts": ["ads.example"], "proxy": "http://127.0.0.1:3128"}"#) == [
                "crawl.blockHosts: cannot be combined with crawl.proxy: the proxy resolves host names, not the browser"
            ])
        #expect(
            try problems(#"{"blockHosts": ["ads.example"], "browserName": "firefox"}"#) == [
                "crawl.blockHosts: is supported for chrome, chromium and MicrosoftEdge only"
            ])
    }

    @Test func hostsBecomeResolverRulesBeforeTheJobsOwn() {
        var o = CrawlOptions()
        o.blockHosts = ["Ads.Example", "*.t.example"]
        o.browserArgs = ["--host-resolver-rules=MAP shop.example 127.0.0.1"]
        let args =
            PageVisitor.capabilities(o)["goog:chromeOptions"]?["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(
            args.filter { $0.hasPrefix("--host-resolver-rules=") } == [
                "--host-resolver-rules=MAP ads.example ~NOTFOUND, MAP *.ads.example ~NOTFOUND, MAP *.t.example ~NOTFOUND, MAP shop.example 127.0.0.1"
            ])
    }
}

extension Chrome {
    @Suite struct RealPageTests {
        /// `/real/N` loads in Chrome with its own work and its third parties: the analytics beacon
        /// and pixel, and the ad frame with what it loads in turn.
        @Test func aRealPageLoadsItsThirdParties() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let html = try await CurlHTTPClient().send(HTTPRequest(method: "GET", url: server.baseURL + "/real/1"))
            #expect((200_000...400_000).contains(html.body.count), "page size \(html.body.count)")
            let driver = try await ChromeDriver.start()
            let client = WebDriverClient(baseURL: driver.url, http: CurlHTTPClient())
            let session = try await client.newSession(
                alwaysMatch: PageVisitor.capabilities(options { _ in }, tabs: false))
            try await session.navigate(to: server.baseURL + "/real/1")
            // The ad script fills its slot once it runs; the frame's sync frame loads after it.
            var loaded = false
            for _ in 0..<100 where !loaded {
                loaded = server.hits("/tp/sync") >= 2 && server.hits("/tp/collect") >= 1
                if !loaded { try await Task.sleep(for: .milliseconds(50)) }
            }
            let work = try await session.execute("return document.body.dataset.workMs")
            let title = try await session.title()
            try await session.delete()
            await driver.stop()
            #expect(title == "Real 1")
            #expect(loaded, "beacon \(server.hits("/tp/collect")), sync frames \(server.hits("/tp/sync"))")
            #expect(server.hits("/tp/analytics.js") == 1 && server.hits("/tp/ads.js") == 1)
            #expect(server.hits("/tp/frame") == 2 && server.hits("/tp/creative.js") >= 1)
            #expect(server.hits("/real/app.js") == 1 && server.hits("/real/font.woff2") == 1)
            #expect((1...FixtureRealPages.images).allSatisfy { server.hits("/real/img/\($0).bmp") == 1 })
            #expect(Int(work.stringValue ?? "") != nil, "the page's own script ran: \(work)")
        }

        /// Blocked hosts' requests never reach the server; the page is still recorded, with the
        /// same fields.
        @Test func blockedHostsAreNeverReached() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let driver = try await ChromeDriver.start()
            let urls = (1...3).map { server.baseURL + "/real/\($0)" }
            let r = try await crawl(
                urls,
                options: options {
                    $0.blockHosts = FixtureRealPages.thirdPartyHosts
                    $0.fields = ["h1": FieldSpec(selector: "h1"), "price": FieldSpec(selector: ".price")]
                }, driver: driver.url)
            await driver.stop()
            #expect(r.code == .ok && r.records.count == 3)
            for (n, url) in urls.enumerated() {
                let record = r.records.first { $0.url == url }
                #expect(record?.ok == true && record?.title == "Real \(n + 1)", "\(String(describing: record))")
                #expect(record?.fields["price"] == .string("$\(n + 1).00"))
            }
            #expect(server.thirdPartyRequestCount == 0)
            #expect(server.hits("/real/app.js") >= 1, "the site's own resources still load")
        }
    }
}
