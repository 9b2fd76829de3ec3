import CrawlKit
import Foundation
import TestSupport
import Testing

@testable import Crawler

extension Chrome {
    /// `crawl.block`: what the browser does not fetch, seen from the fixture server.
    @Suite struct BlockTests {
        func crawlRich(block: [BlockedResource]) async throws -> (FixtureServer, [ResultRecord]) {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            let urls = (1...3).map { server.baseURL + "/rich/\($0)" }
            let r = try await crawl(
                urls,
                options: options {
                    $0.block = block;
                    $0.fields = ["h1": FieldSpec(selector: "h1"), "price": FieldSpec(selector: ".price")]
                }, driver: driver.url)
            await driver.stop()
            server.stop()
            #expect(r.code == .ok && r.records.count == 3)
            for (n, url) in urls.enumerated() {
                let record = r.records.first { $0.url == url }
                #expect(record?.ok == true && record?.title == "Rich \(n + 1)", "\(String(describing: record))")
                #expect(record?.fields["price"] == .string("$\(n + 1).00"), "fields do not depend on what is blocked")
            }
            return (server, r.records)
        }

        func images(_ s: FixtureServer) -> Int {
            (1...FixtureRichPages.images).map { s.hits("/rich/img/\($0).bmp") }.reduce(0, +) + s.hits("/rich/bg.bmp")
        }

        @Test func imagesAndFontsAreNotFetchedWhenBlocked() async throws {
            let (blocked, _) = try await crawlRich(block: [.images, .fonts, .media])
            #expect(images(blocked) == 0, "no image, CSS backgrounds included")
            #expect(blocked.hits("/rich/font.woff2") == 0)

            let (open, _) = try await crawlRich(block: [])
            #expect(images(open) == 3 * (FixtureRichPages.images + 1))
            #expect(open.hits("/rich/font.woff2") == 3)
        }

        @Test func stylesheetsAreRefusedWithAReason() {
            var o = CrawlOptions()
            o.block = [.stylesheets]
            let problem = o.rangeProblems().first { $0.key == "block" }?.message ?? ""
            #expect(problem.contains("stylesheets cannot be blocked"))
            o.block = [.images]
            o.browserName = "firefox"
            #expect(o.rangeProblems().contains { $0.key == "block" })
        }

        @Test func blockedResourcesBecomeChromeOptions() {
            var o = CrawlOptions()
            o.block = [.images, .fonts, .media]
            let chrome = PageVisitor.capabilities(o)["goog:chromeOptions"]
            let args = chrome?["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(args.contains("--disable-remote-fonts") && args.contains("--autoplay-policy=user-gesture-required"))
            #expect(chrome?["prefs"]?["profile.managed_default_content_settings.images"] == 2)
        }
    }
}
