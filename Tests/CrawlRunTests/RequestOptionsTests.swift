import CrawlKit
import Crawler
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

/// `crawl.userAgent`, `crawl.headers`, `crawl.proxy`, `crawl.cookies`: checked with the job.
@Suite struct RequestOptionsTests {
    func problems(_ crawl: String) -> [String] {
        let text = #"{"urls": ["http://example.com/"], "crawl": "# + crawl + "}"
        do {
            _ = try Job.parse(Data(text.utf8), path: "job.json", backend: .local)
            return []
        } catch let error as JobError {
            return error.problems.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func validOptionsPass() {
        let ok = problems(
            #"{"userAgent": "MyBot/1.0", "headers": {"Accept-Language": "de", "X-Api-Key": "k"},"#
                + #""proxy": {"url": "http://proxy.internal:3128", "noProxy": ["*.internal"]},"#
                + #""cookies": {"shop.example.com": {"consent": "yes"}, ".example.com": {"sid": "a1"}}}"#)
        #expect(ok == [])
        #expect(problems(#"{"proxy": "http://10.0.0.5:3128"}"#) == [])
    }

    @Test func eachProblemNamesItsJSONPath() {
        let found = problems(
            #"{"userAgent": "", "headers": {"Bad Name": "x", "Cookie": "a=b", "X-Ok": 3},"#
                + #""proxy": "socks5://p:1080", "cookies": {"https://shop.example.com/": {"a": "b"},"#
                + #""shop.example.com": {"sid": "has space"}}}"#)
        #expect(found.contains("crawl.userAgent: must not be empty"), "\(found)")
        #expect(found.contains { $0.hasPrefix("crawl.headers.Bad Name: is not a header name") }, "\(found)")
        #expect(found.contains("crawl.headers.Cookie: cannot be set as an extra header: use crawl.cookies"))
        #expect(found.contains("crawl.headers.X-Ok: expected a string, found a number"), "\(found)")
        #expect(
            found.contains(
                "crawl.proxy: \"socks5://p:1080\": only http:// proxies are supported (W3C manual proxy), not socks5://"
            ),
            "\(found)")
        #expect(found.contains { $0.hasPrefix("crawl.cookies.https://shop.example.com/: is not a host name") })
        #expect(found.contains { $0.hasPrefix("crawl.cookies.shop.example.com.sid: the value may hold") })
        #expect(!found.joined().contains("has space"), "a cookie's value is never repeated")
        let credentials = problems(#"{"proxy": {"url": "http://user:secret@p:3128"}}"#)
        #expect(credentials.count == 1 && credentials[0].hasPrefix("crawl.proxy: the proxy URL holds credentials"))
        #expect(!credentials[0].contains("secret"))
        #expect(problems(#"{"proxy": {"noProxy": []}}"#) == ["crawl.proxy.url: required key is missing"])
        #expect(problems(#"{"proxy": 8080}"#) == ["crawl.proxy: expected a string or an object, found a number"])
        let firefox = problems(#"{"browserName": "firefox", "headers": {"X-A": "1"}, "cookies": {"h": {"a": "b"}}}"#)
        #expect(
            firefox == [
                "crawl.headers: is supported for chrome, chromium and MicrosoftEdge only (it needs CDP)",
                "crawl.cookies: is supported for chrome, chromium and MicrosoftEdge only (it needs CDP)",
            ])
    }

    @Test func capabilitiesCarryUserAgentAndProxy() {
        var o = CrawlOptions()
        o.userAgent = "MyBot/1.0"
        o.proxy = ProxyOption(url: "http://proxy.internal:3128", noProxy: ["<-loopback>"])
        let caps = PageVisitor.capabilities(o)
        let args = caps["goog:chromeOptions"]?["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(args == CrawlOptions.defaultChromeArgs + ["--user-agent=MyBot/1.0"], "added to the defaults")
        #expect(
            caps["proxy"] == [
                "proxyType": "manual", "httpProxy": "proxy.internal:3128", "sslProxy": "proxy.internal:3128",
                "noProxy": ["<-loopback>"],
            ])
        o.browserName = "firefox"
        #expect(
            PageVisitor.capabilities(o)["moz:firefoxOptions"]?["prefs"] == ["general.useragent.override": "MyBot/1.0"])
    }
}

/// A sidecar without the DevTools endpoint (a WebDriver server that answers `unknown command`
/// for `goog/cdp/execute`, as geckodriver does, and as an older Selenium Grid was reported to):
/// every URL gets a record saying why, instead of pages crawled without the job's headers.
@Suite struct RequestOptionsSidecarTests {
    @Test func aSidecarWithoutCDPGivesEveryURLARecordSayingWhy() async throws {
        let sidecar = try FixtureServer(fixtures: false) { request in
            func answer(_ status: Int, _ value: JSONValue) -> HTTPResponse {
                HTTPResponse(
                    status: status, headers: [(name: "Content-Type", value: "application/json")],
                    body: Data(JSONValue.object(["value": value]).encoded()))
            }
            switch (request.method, request.url) {
            case ("GET", "/status"): return answer(200, ["ready": true, "message": "ready"])
            case ("POST", "/session"):
                return answer(200, ["sessionId": "s1", "capabilities": ["browserName": "chrome"]])
            case ("DELETE", "/session/s1"): return answer(200, .null)
            default:
                return answer(404, ["error": "unknown command", "message": .string("unknown command: " + request.url)])
            }
        }
        defer { sidecar.stop() }
        let urls = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]
        let o = options { $0.headers = ["X-Api-Key": "k-123"] }
        let r = try await crawl(urls, options: o, driver: sidecar.baseURL)
        #expect(r.records.count == 2, "\(r.log)")
        for record in r.records {
            #expect(!record.ok)
            #expect(
                record.error?.message.hasPrefix(
                    "crawl.headers needs the driver's DevTools endpoint (POST /session/{id}/goog/cdp/execute)") == true,
                "\(record.error?.message ?? "")")
        }
        #expect(!r.log.contains("k-123"), "a header's value is never logged")
    }
}

extension Chrome {
    /// The options against real chromedriver: the fixture server and the proxy record what they
    /// received.
    @Suite struct RequestOptionsChromeTests {
        /// One tab per session, and four: a tab the tabbed mode opens gets the headers too (a new
        /// tab does not inherit them).
        @Test(arguments: [1, 4])
        func userAgentHeadersAndCookiesReachTheServerFromTheFirstPage(tabs: Int) async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let port = server.port
            // Two hosts on the one server: each gets its own cookies only.
            let urls = (1...6).map { "http://127.0.0.1:\(port)/page/\($0)" } + ["http://localhost:\(port)/page/7"]
            let o = options {
                $0.tabsPerSession = tabs
                $0.userAgent = "CrawlRunTest/1.0 (+https://example.com/bot)"
                $0.headers = ["X-Crawl-Test": "yes", "Accept-Language": "de-CH"]
                $0.cookies = ["127.0.0.1": ["sid": "abc123"], "localhost": ["consent": "granted"]]
            }
            let r = try await crawl(urls, options: o, driver: driver.url)
            await driver.stop()
            #expect(r.code == .ok && r.records.count == urls.count && r.records.allSatisfy(\.ok), "\(r.log)")
            for n in 1...7 {
                let seen = server.requestHeaders("/page/\(n)")
                let first = try #require(seen.first, "page \(n) was requested")
                #expect(first["user-agent"] == "CrawlRunTest/1.0 (+https://example.com/bot)", "page \(n)")
                #expect(first["x-crawl-test"] == "yes" && first["accept-language"] == "de-CH", "page \(n): \(first)")
                #expect(first["cookie"] == (n == 7 ? "consent=granted" : "sid=abc123"), "page \(n): \(first)")
            }
            #expect(!r.log.contains("abc123"), "a cookie's value is never logged")
        }

        @Test func pagesGoThroughTheProxy() async throws {
            let server = try FixtureServer()
            let proxy = try LoopbackProxy()
            let driver = try await ChromeDriver.start()
            defer {
                server.stop()
                proxy.stop()
            }
            let urls = (1...3).map { server.baseURL + "/page/\($0)" }
            // Chrome reaches loopback directly unless told otherwise ("<-loopback>").
            let o = options { $0.proxy = ProxyOption(url: "http://\(proxy.address)", noProxy: ["<-loopback>"]) }
            let r = try await crawl(urls, options: o, driver: driver.url)
            await driver.stop()
            #expect(r.code == .ok && r.records.allSatisfy(\.ok), "\(r.log)")
            #expect(r.records.first { $0.url == urls[0] }?.title == "Page 1")
            for url in urls { #expect(proxy.targets.contains(url), "\(url) went through the proxy") }
        }
    }
}
