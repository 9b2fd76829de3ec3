import CrawlKit

/// report.html: the run as a person reads it in five seconds — headline, counts, cost, what went
/// wrong, the error kinds with example URLs, and the timeline of every task attempt
/// (`ReportTimeline`). One self-contained file: inline CSS and SVG, no script, no fetch of any
/// kind, so it opens from disk, mails as an attachment and prints. Pure: report in, text out.
public enum ReportPage {
    /// The page; `exitCode` is what `crawlrun` exits with (nil: not known, not shown).
    public static func html(_ report: RunReport, exitCode: Int32? = nil) -> String {
        let timeline = ReportTimeline(report)
        let drawn = timeline.render()
        var out = ""
        out.reserveCapacity(drawn.svg.utf8.count + 16_384)
        out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        // No network at all, even if someone edits a link in: the page needs nothing from outside.
        out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        out += "<title>\(HTML.escape("\(report.job) · run \(report.run)")) · crawlrun</title>"
        out += "<style>\(style)</style></head><body>\n"
        out += headline(report, exitCode: exitCode)
        out += counts(report)
        out += "<section><h2>Timeline of every task attempt</h2><p class=\"legend\">"
        let tally = timeline.tally
        for o in AttemptOutcome.allCases {
            let n = tally[o] ?? 0
            out +=
                "<span\(n == 0 ? " class=\"none\"" : "")><i class=\"sw \(o.rawValue)\"></i>\(o.label) <b>\(HTML.count(n))</b></span>"
        }
        let retries = timeline.bars.lazy.filter { $0.attempt.attempt > 1 }.count
        out +=
            "<span\(retries == 0 ? " class=\"none\"" : "")><i class=\"sw retry\"></i>a retry <b>\(HTML.count(retries))</b>"
        out += "</span></p>\n"
        out += drawn.svg
        out += "\n<p class=\"note\">\(HTML.escape(drawn.caption)) Hover a bar for its task, stop code and reason.</p>"
        out += "</section>\n"
        out += problems(report, timeline: timeline)
        out += errors(report)
        out += hostSection(report)
        out += "<footer>Written by crawlrun at \(HTML.escape(date(report.finishedAt))). "
        out += "report.json beside this file holds every attempt with its exit codes and timings.</footer>"
        out += "</body></html>\n"
        return out
    }

    /// The page as UTF-8, for the run directory.
    public static func bytes(_ report: RunReport, exitCode: Int32? = nil) -> [UInt8] {
        Array(html(report, exitCode: exitCode).utf8)
    }

    /// What each of `crawlrun run`'s exit codes tells a person or a scheduler (README).
    public static func exitMeaning(_ code: Int32) -> String {
        switch code {
        case 0: "every URL ok"
        case 1: "the run finished, some URLs failed"
        case 2: "the run could not finish: URLs left without a result, or a backend failure"
        case 130: "interrupted"
        default: "exit code \(code)"
        }
    }

    static func headline(_ r: RunReport, exitCode: Int32?) -> String {
        let c = r.counts
        let tone: String
        switch exitCode {
        case 0?: tone = "good"
        case 1?: tone = "warn"
        case nil: tone = r.status == .finished ? (c.failed + c.incomplete > 0 ? "warn" : "good") : "bad"
        default: tone = "bad"
        }
        var parts = ["\(HTML.count(c.ok)) ok"]
        if c.failed > 0 { parts.append("\(HTML.count(c.failed)) failed") }
        if c.incomplete > 0 { parts.append("\(HTML.count(c.incomplete)) without a result") }
        var out = "<header><h1><span class=\"badge \(tone)\">\(r.status.rawValue)</span> "
        out += "\(HTML.escape(r.job)) <small>\(HTML.count(c.urls)) URLs — \(parts.joined(separator: ", "))</small></h1>"
        var facts = [
            "run <b>\(HTML.escape(r.run))</b>", "\(HTML.escape(r.backend)) backend",
            "started \(HTML.escape(date(r.startedAt)))", "took <b>\(HTML.duration(r.seconds))</b>",
        ]
        if let exitCode { facts.append("exit <b>\(exitCode)</b>: \(HTML.escape(exitMeaning(exitCode)))") }
        out += "<p class=\"facts\">\(facts.joined(separator: " · "))</p>"
        switch r.ledger.runPhase {
        case .failed(let f, _):
            out += "<p class=\"alert\"><b>The run failed:</b> \(HTML.escape(f.message))"
            out += (f.cause.map { " — \(HTML.escape($0.description))" } ?? "") + "</p>"
        case .interrupted(let why):
            out += "<p class=\"alert\"><b>Interrupted:</b> \(HTML.escape(why))</p>"
        case .running:
            break
        }
        return out + "</header>\n"
    }

    static func counts(_ r: RunReport) -> String {
        let c = r.counts
        let t = r.tasks
        let whole = Double(max(1, c.urls, c.recorded))
        var out = "<section class=\"cards\">"
        func card(_ label: String, _ value: String, _ detail: String = "", _ tone: String = "") {
            out += "<div class=\"card \(tone)\"><span>\(label)</span><b>\(value)</b><small>\(detail)</small></div>"
        }
        card("URLs", HTML.count(c.urls))
        card("ok", HTML.count(c.ok), percent(c.ok, whole), "ok")
        card("failed", HTML.count(c.failed), percent(c.failed, whole) + " · ok: false", c.failed > 0 ? "failures" : "")
        card(
            "without a result", HTML.count(c.incomplete), percent(c.incomplete, whole) + " · incomplete",
            c.incomplete > 0 ? "infrastructure" : "")
        card("pages/s", HTML.fixed(r.pagesPerSecond))
        var detail = "\(HTML.count(t.retriedTasks)) retr\(t.retriedTasks == 1 ? "y" : "ies")"
        if t.infrastructureFailures > 0 {
            detail += " · \(HTML.count(t.infrastructureFailures)) infrastructure failures"
        }
        card("tasks", HTML.count(t.tasksStarted), detail)
        let cost = r.cost
        let crawled = c.ok + c.failed
        var money = crawled > 0 ? "$\(usd(cost.usd / Double(crawled) * 1000)) / 1000 pages" : ""
        if r.backend != "fargate" { money = "on Fargate" + (money.isEmpty ? "" : " · " + money) }
        card(cost.upperBound ? "cost, at most" : "cost", "$" + usd(cost.usd), money)
        out += "</section>\n<div class=\"split\" title=\"ok · failed · without a result\">"
        for (n, tone) in [(c.ok, "ok"), (c.failed, "failures"), (c.incomplete, "infrastructure")] where n > 0 {
            out += "<i class=\"\(tone)\" style=\"width:\(HTML.fixed(Double(n) / whole * 100))%\"></i>"
        }
        out += "</div><p class=\"note\">Cost: \(HTML.escape(r.costBasis(upperBound: cost.upperBound))).</p>\n"
        return out
    }

    /// The run's own problems, then the attempts' infrastructure problems grouped by their words.
    static func problems(_ r: RunReport, timeline: ReportTimeline) -> String {
        var groups: [String: (count: Int, examples: [String], hint: String?)] = [:]
        for bar in timeline.bars where bar.outcome == .infrastructure || bar.outcome == .failedToStart {
            let a = bar.attempt
            let key = a.end?.infrastructureProblem ?? a.end?.reason ?? "unknown"
            var g = groups[key] ?? (0, [], nil)
            g.count += 1
            if g.examples.count < 6 { g.examples.append("\(bar.batch) a\(a.attempt)") }
            g.hint = g.hint ?? a.end?.hint
            groups[key] = g
        }
        guard !groups.isEmpty || !r.problems.isEmpty else { return "" }
        var out = "<section><h2>Infrastructure problems</h2>"
        if !groups.isEmpty {
            let sorted = groups.sorted { ($0.value.count, $1.key) > ($1.value.count, $0.key) }
            out += "<table><tr><th>problem</th><th class=\"n\">attempts</th><th>e.g.</th></tr>"
            for (problem, g) in sorted.prefix(12) {
                out += "<tr><td>\(HTML.escape(problem))"
                if let hint = g.hint { out += "<div class=\"hint\">hint: \(HTML.escape(hint))</div>" }
                out += "</td><td class=\"n\">\(HTML.count(g.count))</td>"
                out += "<td class=\"ids\">\(HTML.escape(g.examples.joined(separator: ", ")))</td></tr>"
            }
            out += "</table>"
            if sorted.count > 12 { out += "<p class=\"note\">… \(sorted.count - 12) more in report.json.</p>" }
        }
        for p in r.problems { out += "<p class=\"alert\">\(HTML.escape(p))</p>" }
        return out + "</section>\n"
    }

    /// Per host: the measured request rate against the limit, and the back-offs.
    static func hostSection(_ r: RunReport) -> String {
        guard let rates = r.hosts, !rates.hosts.isEmpty else { return "" }
        var out = "<section><h2>Hosts</h2><table><tr><th>host</th><th class=\"n\">URLs</th>"
        out += "<th class=\"n\">page loads</th><th class=\"n\">measured req/s</th><th class=\"n\">limit req/s</th>"
        out += "<th class=\"n\">back-offs</th></tr>"
        for h in rates.hosts.prefix(50) {
            let rate = h.rate.map { String(format: "%.2f", $0) } ?? "—"
            let over = h.rate.flatMap { rate in rates.limit.map { rate > $0 * 1.05 } } ?? false
            out += "<tr><td>\(HTML.escape(h.name))</td><td class=\"n\">\(HTML.count(h.urls))</td>"
            out += "<td class=\"n\">\(HTML.count(h.loads))</td><td class=\"n\">\(over ? "<b>\(rate)</b>" : rate)</td>"
            out += "<td class=\"n\">\(rates.limit.map { String(format: "%g", $0) } ?? "none")</td>"
            out += "<td class=\"n\">\(HTML.count(h.backoffs))</td></tr>"
        }
        out += "</table>"
        if rates.hosts.count > 50 {
            out += "<p>… and \(rates.hosts.count - 50) more hosts (report.json has them all)</p>"
        }
        return out + "</section>\n"
    }

    static func errors(_ r: RunReport) -> String {
        guard !r.errors.isEmpty || !r.unmatchedFields.isEmpty else { return "" }
        var out = "<section><h2>Error kinds</h2><table><tr><th>kind</th><th class=\"n\">URLs</th>"
        out += "<th>example</th><th>its message</th></tr>"
        for e in r.errors {
            out += "<tr><td><code>\(HTML.escape(e.kind))</code></td><td class=\"n\">\(HTML.count(e.count))</td>"
            out += "<td class=\"url\">\(HTML.link(e.example))</td>"
            out += "<td>\(HTML.escape(String((r.errorMessages[e.kind] ?? "").prefix(300))))</td></tr>"
        }
        out += "</table>"
        for field in r.unmatchedFields { out += "<p class=\"alert\">\(HTML.escape(field)): check its selector</p>" }
        return out + "</section>\n"
    }

    static func percent(_ n: Int, _ whole: Double) -> String { HTML.fixed(Double(n) / whole * 100) + "%" }

    static func usd(_ x: Double) -> String {
        let cents = Int((x * 10_000).rounded())
        let fraction = String(cents % 10_000)
        return "\(cents / 10_000)." + String(repeating: "0", count: 4 - fraction.count) + fraction
    }

    /// 2026-11-21T10:37:00.123Z → 2026-11-21 10:37:00 UTC.
    static func date(_ stamp: String) -> String {
        stamp.count >= 19 ? String(stamp.prefix(19).map { $0 == "T" ? " " : $0 }) + " UTC" : stamp
    }

    static let style: String = {
        var css = """
            :root{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2530;\
            -webkit-print-color-adjust:exact;print-color-adjust:exact}
            body{max-width:1080px;margin:0 auto;padding:20px 24px}
            h1{font-size:22px;margin:0 0 4px}h1 small{font-size:15px;font-weight:400;color:#4a5260;margin-left:6px}
            h2{font-size:15px;margin:22px 0 8px}
            .facts,.note,footer{color:#5b6472;margin:4px 0}.note{font-size:12px}
            footer{margin-top:24px;font-size:12px;border-top:1px solid #e3e6eb;padding-top:8px}
            .badge{font-size:12px;vertical-align:3px;padding:2px 8px;border-radius:10px;color:#fff;text-transform:uppercase}
            .badge.good{background:#2f9e5b}.badge.warn{background:#d08a17}.badge.bad{background:#d9443b}
            .alert{background:#fdf0ef;border-left:4px solid #d9443b;padding:6px 10px;margin:8px 0}
            .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(120px,1fr));gap:8px;margin-top:14px}
            .card{border:1px solid #e3e6eb;border-radius:8px;padding:8px 10px;break-inside:avoid}
            .card span,.card small{display:block;color:#5b6472;font-size:12px}.card b{font-size:22px;display:block}
            .card.ok b{color:#23824a}.card.failures b{color:#b87a12}.card.infrastructure b{color:#c0362e}
            .split{display:flex;height:8px;border-radius:4px;overflow:hidden;background:#eef0f3;margin:10px 0 2px}
            table{border-collapse:collapse;width:100%}th{font-weight:600;color:#5b6472;font-size:12px}
            td,th{text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid #eef0f3}
            .n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.url,.ids{word-break:break-all}
            .hint{color:#5b6472;font-size:12px}a{color:#1f5fbf}
            .legend span{margin-right:14px;white-space:nowrap;font-size:12px}.legend .none{opacity:.45}
            .sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
            .sw.retry{background:#fff;outline:1.5px solid #1f2530;outline-offset:-2px}
            .tl{display:block;margin:6px 0;font-size:11px}.tl text{fill:#5b6472}.tl .in{fill:#fff;font-size:9px}
            .axis line{stroke:#e6e8ec;stroke-width:1}.lbl{text-anchor:end;font-variant-numeric:tabular-nums}
            .tl .retry{stroke:#1f2530;stroke-width:1}.tl .share{pointer-events:none}
            @media print{body{padding:0}section{break-inside:avoid}}

            """
        for o in AttemptOutcome.allCases {
            css += ".tl .\(o.rawValue){fill:\(o.color)}.sw.\(o.rawValue),.split .\(o.rawValue){background:\(o.color)}"
        }
        return css
    }()
}
