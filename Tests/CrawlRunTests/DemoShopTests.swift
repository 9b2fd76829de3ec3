import CrawlKit
import Foundation
import JSONKit
import TestSupport
import Testing

extension Chrome {
    /// jobs/demo.json over jobs/demo-site, as scripts/demo.sh runs it (on a free port instead of
    /// 8080): what the README's "Your first job" shows — a redirect, a page missing a field, a
    /// missing page — and the counts the demo prints.
    @Suite struct DemoShopTests {
        @Test func demoJobShowsARedirectAMissingFieldAndAMissingPage() async throws {
            let site = try FixtureServer(root: packageRoot + "/jobs/demo-site", fixtures: false)
            defer { site.stop() }
            let dir = tempDir("demo")
            // The job's URL list names port 8080: a copy naming this one (scripts/demo-site.sh does the same).
            let urls = try String(contentsOfFile: packageRoot + "/jobs/demo-urls.txt", encoding: .utf8)
                .replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(site.port)")
            try urls.write(toFile: dir + "/demo-urls.txt", atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(atPath: packageRoot + "/jobs/demo.json", toPath: dir + "/demo.json")
            let r = try await CrawlrunProcess.run(["run", dir + "/demo.json", "--runs-dir", dir + "/runs"])
            #expect(r.code == 1, "one page is missing on purpose: exit 1\n\(r.stderr)")
            #expect(
                r.stderr.contains("29 URLs — 28 ok, 1 failed") || r.stdout.contains("29 URLs — 28 ok, 1 failed"),
                "the demo's counts (README, scripts/demo.sh)\n\(r.stdout)\n\(r.stderr)")
            let records = try readRecords(try runDirectory(dir + "/runs") + "/results.jsonl")
            let base = "http://127.0.0.1:\(site.port)"
            #expect(records.count == 29 && records.filter(\.ok).count == 28)
            let moved = try #require(records.first { $0.url == base + "/products/lantern" })
            #expect(moved.ok && moved.status == 200 && moved.finalUrl == base + "/products/01.html")
            #expect(moved.fields["heading"] == "Lantern")
            let gift = try #require(records.first { $0.url == base + "/products/gift-card.html" })
            #expect(gift.ok && gift.fields["heading"] == "Gift Card" && gift.fields["price"] == "$25.00")
            #expect(gift.fields["stock"] == JSONValue.null && gift.fields["tags"] == [], "the missing field")
            let missing = try #require(records.first { $0.url == base + "/products/25.html" })
            #expect(!missing.ok && missing.status == 404 && missing.error?.kind == .http)
        }
    }
}
