import Coordinator
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing
import WebDriver

extension Chrome {
    /// report.html as a person sees it: opened from disk in headless Chromium.
    @Suite struct ReportPageBrowserTests {
        static let caps: JSONValue = [
            "browserName": "chrome",
            "goog:chromeOptions": [
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1500"]
            ],
        ]

        /// What the page holds, read by a script in the page (no script of the page's own).
        static let inspect = """
            const bars = [...document.querySelectorAll('svg.tl rect.bar')];
            return {
              bars: bars.length,
              titled: bars.filter(b => b.querySelector('title')).length,
              classes: bars.map(b => b.getAttribute('class')),
              resources: performance.getEntriesByType('resource').length,
              scripts: document.scripts.length,
              images: document.images.length,
              svgWidth: document.querySelector('svg.tl').getBoundingClientRect().width,
              bodyWidth: document.body.scrollWidth,
              hostileTip: bars.some(b => b.textContent.includes("t-<script>alert('task')</script>")),
              pageScrolls: document.documentElement.scrollWidth > window.innerWidth
            };
            """

        @Test func rendersInChromiumWithABarPerAttemptAndNoNetwork() async throws {
            let dir = tempDir("report-page")
            let small = ReportSample.small()
            let large = ReportSample.large(batches: 2000)
            let pages = [("report.html", small), ("report-large.html", large)]
            for (name, report) in pages {
                try Data(ReportPage.html(report, exitCode: name == "report.html" ? 130 : 1).utf8)
                    .write(to: URL(fileURLWithPath: dir + "/" + name))
            }
            let driver = try await ChromeDriver.start()
            let client = WebDriverClient(baseURL: driver.url, http: CurlHTTPClient())
            let session = try await client.newSession(alwaysMatch: Self.caps)
            do {
                for (name, report) in pages {
                    try await session.navigate(to: "file://" + dir + "/" + name)
                    let seen = try await session.execute(Self.inspect)
                    let attempts = report.attempts.count
                    #expect(seen["bars"]?.intValue == attempts, "\(name): one bar per task attempt")
                    #expect(seen["titled"]?.intValue == attempts, "\(name): each with its tooltip")
                    #expect(seen["resources"]?.intValue == 0, "\(name): no network request")
                    #expect(
                        seen["scripts"]?.intValue == 0 && seen["images"]?.intValue == 0, "\(name): nothing injected")
                    #expect(seen["pageScrolls"] == false, "\(name): fits the window's width")
                    if name == "report.html" {
                        #expect(seen["hostileTip"] == true, "a hostile task id is shown as text")
                        let classes = seen["classes"]?.arrayValue?.compactMap(\.stringValue) ?? []
                        for outcome in AttemptOutcome.allCases {
                            #expect(classes.contains { $0.hasPrefix("bar \(outcome.rawValue)") }, "\(outcome)")
                        }
                    }
                    let png = try await session.screenshot()
                    #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
                    let shot = dir + "/" + name.replacingOccurrences(of: ".html", with: ".png")
                    try png.write(to: URL(fileURLWithPath: shot))
                    // For a person to look at (the lead's image viewer).
                    let copy = "/tmp/crawlrun-" + name.replacingOccurrences(of: ".html", with: ".png")
                    try? FileManager.default.removeItem(atPath: copy)
                    try? FileManager.default.copyItem(atPath: shot, toPath: copy)
                }
            } catch {
                try? await session.delete()
                await driver.stop()
                throw error
            }
            try await session.delete()
            await driver.stop()
        }
    }
}
