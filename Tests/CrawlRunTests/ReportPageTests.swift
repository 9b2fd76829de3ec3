import Coordinator
import CrawlKit
import Foundation
import Testing

/// report.html from hand-built ledgers: a bar per attempt with its outcome, hostile text kept
/// as text, and a 20,000-batch run within the size cap (3 MB), quickly.
@Suite struct ReportPageTests {
    /// The class attribute of every `<rect>` of the timeline, in order.
    static func rectClasses(_ html: String) -> [String] {
        html.components(separatedBy: "<rect class=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test func oneBarPerAttemptColouredByOutcome() {
        let report = ReportSample.small()
        let html = ReportPage.html(report, exitCode: 130)
        let bars = Self.rectClasses(html).filter { $0.hasPrefix("bar ") }
        #expect(bars.count == report.attempts.count && bars.count == 13, "\(bars)")
        // Batch order, attempts in order: see ReportSample.small().
        #expect(
            bars == [
                "bar ok",  // 0001
                "bar failures",  // 0002: two ok: false records
                "bar infrastructure", "bar ok retry",  // 0003: killed, then done
                "bar failedToStart", "bar ok retry",  // 0004: never started, then done
                "bar infrastructure", "bar infrastructure retry", "bar infrastructure retry",  // 0005: 3 × exit 70
                "bar ok",  // 0006
                "bar infrastructure", "bar infrastructure retry", "bar stopped retry",  // 0007: interrupted on a3
            ])
        #expect(html.contains("<title>batch 0003 · attempt 2 of 2\ntask task-0003-a2\n"))
        #expect(html.contains(">0003</text>"), "a row per batch, labelled")
        #expect(html.contains(">a2</text>"), "a retry says which attempt it is")
        #expect(html.contains("exit <b>130</b>: interrupted"))
        #expect(html.contains("<b>Interrupted:</b> SIGINT"))
        #expect(html.contains("crawler exited 70: internal error"), "infrastructure problems grouped by their words")
        #expect(!html.contains("<script"), "no script of any kind")
    }

    @Test func hostileTextStaysText() {
        let report = ReportSample.small()
        var withProblem = report
        withProblem.problems = ["logs of <b>0007</b> not copied: \"disk\" & 'full'"]
        let html = ReportPage.html(withProblem, exitCode: 2)
        for raw in ["<script", "<img", "<b>0007", "onerror=alert(1)>", "javascript:alert(4)\"", "href=\"javascript"] {
            #expect(!html.contains(raw), "\(raw) escaped")
        }
        // In a tooltip (an element's text), a table cell and an attribute.
        #expect(html.contains("task t-&lt;script&gt;alert(&#39;task&#39;)&lt;/script&gt;&amp;&quot;x&quot;"))
        #expect(html.contains("exited &lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot; &#39;single&#39;"))
        #expect(html.contains("hint: check &lt;/title&gt;&lt;script&gt;alert(2)&lt;/script&gt;"))
        #expect(
            html.contains(
                "<a href=\"http://x.example/?a=1&amp;b=&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;\" rel=\"noreferrer\">"
            ))
        #expect(html.contains("<td class=\"url\">javascript:alert(4)</td>"), "only http(s) examples are links")
        #expect(html.contains("logs of &lt;b&gt;0007&lt;/b&gt; not copied: &quot;disk&quot; &amp; &#39;full&#39;"))
    }

    @Test func countsCostAndErrorKinds() {
        let html = ReportPage.html(ReportSample.small(), exitCode: 130)
        #expect(html.contains("<title>demo · run 20261122-000000-abcd · crawlrun</title>"))
        #expect(html.contains("32 URLs — 19 ok, 2 failed, 11 without a result"))
        #expect(html.contains("<span>without a result</span><b>11</b>"))
        #expect(html.contains("<small>on Fargate · $"), "a local run's cost is what Fargate would charge")
        #expect(html.contains("<td><code>incomplete</code></td><td class=\"n\">11</td>"))
        #expect(html.contains("took <b>2 min 1 s</b>"))
    }

    @Test func twentyThousandBatchesStayWithinTheCapAndRenderQuickly() {
        let report = ReportSample.large(batches: 20_000)
        let attempts = report.attempts.count
        #expect(attempts > 20_000, "retries: \(attempts) attempts")
        let clock = ContinuousClock()
        var html = ""
        let elapsed = clock.measure { html = ReportPage.html(report, exitCode: 1) }
        let bytes = html.utf8.count
        let caption = html.components(separatedBy: "<p class=\"note\">").last?.prefix(300) ?? ""
        print("report.html for 20,000 batches, \(attempts) attempts: \(bytes / 1024) KiB in \(elapsed)")
        #expect(bytes < 3 * 1024 * 1024, "\(bytes) bytes")
        #expect(elapsed < .seconds(10), "a debug build on a busy machine; release takes ~0.2 s")
        let rects = Self.rectClasses(html)
        let bars = rects.filter { $0.hasPrefix("bar ") }
        let merged = rects.filter { $0.hasPrefix("run ") }.count
        #expect(attempts > 8000, "past the cap, attempts that did their job are merged")
        #expect(bars.filter { $0.hasPrefix("bar infrastructure") }.count == 1000, "every problem drawn one by one")
        #expect(bars.filter { $0.hasPrefix("bar failedToStart") }.count == 40)
        #expect(merged > 0 && merged + bars.count < 3000, "\(merged) merged bars, \(bars.count) one by one")
        let merging = caption.contains("attempts are drawn as \(merged) merged bars")
        #expect(merging, "\(caption)")
    }

    /// Short tasks with long launch gaps, 500 at once: runs broken at every gap would be one per
    /// attempt; they span the gaps instead, and the page stays small.
    @Test func gappyLanesStayWithinTheCap() {
        let report = ReportSample.large(batches: 20_000, maxTasks: 500, seconds: 1, delay: 20)
        let html = ReportPage.html(report)
        let rects = Self.rectClasses(html)
        #expect(html.utf8.count < 1024 * 1024, "\(html.utf8.count) bytes")
        #expect(rects.count < 8000 + 1040 + 600, "\(rects.count) rectangles")
        #expect(rects.filter { $0.hasPrefix("bar infrastructure") }.count == 1000, "problems still one by one")
    }

    @Test func manyBatchesArePackedIntoLanesBarByBar() {
        let report = ReportSample.large(batches: 2000)
        let html = ReportPage.html(report)
        let bars = Self.rectClasses(html).filter { $0.hasPrefix("bar ") }
        #expect(
            bars.count == report.attempts.count && bars.count == 2104, "100 killed and 4 never started, each retried")
        #expect(bars.filter { $0.hasSuffix(" retry") }.count == 104)
        let packed = html.contains("2104 attempts packed into 6")
        #expect(packed, "about as many lanes as tasks at once (64)")
        #expect(!html.contains("class=\"lbl\""), "no row labels")
    }

    @Test func aRunThatLaunchedNothingSaysSo() {
        var ledger = BatchLedger(
            run: "r", batches: (1...100).map { (String($0), 5) },
            options: .init(maxTasks: 4, retries: 2, maxRunSeconds: 60))
        _ = ledger.interrupt("SIGTERM")
        let html = ReportPage.html(
            ReportSample.report(ledger, counts: RecordCounts(urls: 500, incomplete: 500), seconds: 0.2))
        #expect(Self.rectClasses(html).isEmpty)
        #expect(html.contains("No task was launched."))
        #expect(html.contains("<b>Interrupted:</b> SIGTERM"))
        #expect(html.contains(">0 s<"), "an axis all the same")
    }

    @Test func axisTicksAreRound() {
        let html = ReportPage.html(ReportSample.small())
        for label in [">0 s<", ">15 s<", ">1 min<", ">1 min 45 s<"] { #expect(html.contains(label), "\(label)") }
        #expect(!html.contains(">2 min 15 s<"), "no tick past the end")
    }
}
