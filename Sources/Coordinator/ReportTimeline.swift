import CrawlKit

/// The timeline of report.html, as inline SVG: one bar per task attempt from its launch to its
/// end, on a time axis from the run's start, coloured by outcome, each with a `<title>` (the
/// browser's tooltip) naming its batch, attempt, task, seconds, stop code and reason. No script:
/// the page must read the same opened from disk and printed.
///
/// Two layouts, chosen by size:
/// - up to `rowLimit` batches, a labelled row per batch: a retry follows, on the same row, the
///   attempt it retries and says "a2", "a3";
/// - more, the attempts packed into lanes (interval partitioning: an attempt takes the lane free
///   the longest, else opens one), so the chart is about as tall as the run was wide (≈ the
///   tasks at once) and a 20,000-batch run still fits a screen; retries are outlined.
///
/// Size cap: a bar with its tooltip is ~230 bytes, so a 20,000-batch run drawn bar by bar would
/// be ~5 MB. Up to `maxBars` attempts (~2.3 MB) every attempt is its own bar. Past that, the
/// attempts that did their job (ok, or crawl failures only) are merged: those that follow each
/// other in a lane become one `run` rectangle, coloured by the outcome most of them had, whose
/// tooltip says how many of each and which batches — a busy slot reads as one stripe, as it does
/// at that scale anyway — while every attempt with a problem is still its own bar (up to
/// `maxBars` of them). A 20,000-batch run is then a few hundred KB, and no run, however bad, much
/// more than 3 MB; report.json keeps every attempt.
struct ReportTimeline {
    static let rowLimit = 60
    static let maxBars = 10_000
    static let width = 1000.0
    /// The thinnest bar drawn (an attempt that never started lasts no time).
    static let thinnest = 2.5

    struct Bar {
        var batch: String
        var attempt: BatchLedger.Attempt
        /// Attempts the batch had in all.
        var of: Int
        var outcome: AttemptOutcome
        var start: Double
        var end: Double
    }

    let report: RunReport
    let bars: [Bar]
    /// The run's start and its length (seconds since 1970, seconds): the time axis.
    let origin: Double
    let span: Double

    init(_ report: RunReport) {
        self.report = report
        var bars: [Bar] = []
        bars.reserveCapacity(report.ledger.batches.count)
        for b in report.ledger.batches {
            let ended = b.attempts.filter { $0.phase == .ended }
            for a in ended {
                let start = a.launchedAt ?? a.endedAt ?? 0
                bars.append(
                    Bar(
                        batch: b.id, attempt: a, of: ended.count, outcome: AttemptOutcome(a, ledger: report.ledger),
                        start: start, end: max(start, a.endedAt ?? start)))
            }
        }
        self.bars = bars
        let first = bars.lazy.map(\.start).min()
        origin = min(HTML.epochSeconds(report.startedAt) ?? first ?? 0, first ?? .infinity)
        span = max(1, report.seconds, (bars.lazy.map(\.end).max() ?? origin) - origin)
    }

    /// How many attempts had each outcome.
    var tally: [AttemptOutcome: Int] { bars.reduce(into: [:]) { $0[$1.outcome, default: 0] += 1 } }

    var byRows: Bool { report.ledger.batches.count <= Self.rowLimit }

    /// The SVG, and a sentence on how it is drawn.
    func render() -> (svg: String, caption: String) {
        let gutter = byRows ? 64.0 : 8.0
        let scale = (Self.width - gutter - 12) / span
        let top = 24.0
        var body = ""
        body.reserveCapacity(bars.count * 220 + 4096)
        var caption: String
        var rows: Int
        var rowHeight: Double
        if byRows {
            rows = report.ledger.batches.count
            rowHeight = 18
            var row: [String: Int] = [:]
            for (i, b) in report.ledger.batches.enumerated() {
                row[b.id] = i
                let y = top + Double(i) * rowHeight + 13
                body +=
                    "<text class=\"lbl\" x=\"\(HTML.fixed(gutter - 6))\" y=\"\(HTML.fixed(y))\">\(HTML.escape(b.id))</text>"
            }
            for bar in bars {
                let y = top + Double(row[bar.batch] ?? 0) * rowHeight + 3
                draw(bar, x: gutter + (bar.start - origin) * scale, y: y, height: 12, scale: scale, into: &body)
            }
            caption =
                "One row per batch, from its launch to its stop; a retry (a2, a3 …) follows the attempt it retries."
        } else {
            let packed = lanes(minimumSeconds: Self.thinnest / scale)
            rows = packed.count
            rowHeight = max(2, min(12, (600 / Double(max(1, rows))).rounded(.down)))
            let height = rowHeight >= 6 ? rowHeight - 2 : max(1, rowHeight - 1)
            let oneByOne = individual()
            var merged = (bars: 0, attempts: 0)
            for (lane, members) in packed.enumerated() {
                let y = top + Double(lane) * rowHeight + 1
                var pending: [Int] = []
                func flush() {
                    guard !pending.isEmpty else { return }
                    merge(pending, y: y, height: height, gutter: gutter, scale: scale, into: &body)
                    merged.bars += 1
                    merged.attempts += pending.count
                    pending.removeAll(keepingCapacity: true)
                }
                for i in members {
                    if oneByOne[i] {
                        flush()
                        draw(
                            bars[i], x: gutter + (bars[i].start - origin) * scale, y: y, height: height, scale: scale,
                            into: &body)
                    } else {
                        if let last = pending.last,
                            !bars[last].outcome.mergesWith(bars[i].outcome)
                                || (bars[i].start - bars[last].end) * scale > 1.5
                        {
                            flush()
                        }
                        pending.append(i)
                    }
                }
                flush()
            }
            caption =
                "\(bars.count) attempts packed into \(rows) lanes: a lane is a task slot, its bars never overlap; "
                + "outlined bars are retries."
            if merged.attempts > 0 {
                caption +=
                    " To keep this file small, \(merged.attempts) attempts are drawn as \(merged.bars) merged bars "
                    + "(hover one for its batches); report.json lists every attempt."
            }
        }
        let height = top + Double(rows) * rowHeight + 6
        var svg =
            "<svg class=\"tl\" viewBox=\"0 0 \(HTML.fixed(Self.width)) \(HTML.fixed(height))\" width=\"100%\" "
            + "role=\"img\" aria-label=\"Timeline of \(bars.count) task attempts\">"
        svg += axis(gutter: gutter, scale: scale, top: top, bottom: height - 4)
        svg += body
        svg += "</svg>"
        return (svg, caption)
    }

    /// Vertical grid lines at a round step (1 s … 1 day), at most ~10 of them, labelled from 0.
    func axis(gutter: Double, scale: Double, top: Double, bottom: Double) -> String {
        let steps: [Double] = [
            1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
        ]
        let step = steps.first { span / $0 <= 10 } ?? (span / 10).rounded(.up)
        var out = "<g class=\"axis\">"
        var t = 0.0
        while t <= span + 0.001 {
            let x = HTML.fixed(gutter + t * scale)
            out += "<line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(HTML.fixed(top - 6))\" y2=\"\(HTML.fixed(bottom))\"/>"
            let anchor = t == 0 ? "start" : (span - t) * scale < 30 ? "end" : "middle"
            out +=
                "<text x=\"\(x)\" y=\"\(HTML.fixed(top - 10))\" text-anchor=\"\(anchor)\">\(HTML.duration(t, whole: true))</text>"
            t += step
        }
        return out + "</g>"
    }

    /// One attempt: its rectangle and tooltip (and in rows, "a2" inside a retry wide enough).
    func draw(_ bar: Bar, x: Double, y: Double, height: Double, scale: Double, into out: inout String) {
        let a = bar.attempt
        let width = max(Self.thinnest, (bar.end - bar.start) * scale)
        out += "<rect class=\"bar \(bar.outcome.rawValue)\(a.attempt > 1 ? " retry" : "")\" x=\"\(HTML.fixed(x))\" "
        out += "y=\"\(HTML.fixed(y))\" width=\"\(HTML.fixed(width))\" height=\"\(HTML.fixed(height))\"><title>"
        var tip = "batch \(bar.batch) · attempt \(a.attempt) of \(bar.of)"
        // An ECS task ARN is long; its last part is the task id the console shows.
        if let task = a.task {
            tip += "\ntask " + (task.hasPrefix("arn:") ? String(task.split(separator: "/").last ?? "") : task)
        }
        tip += "\n\(HTML.fixed(bar.end - bar.start)) s · \(a.records ?? 0) records"
        if let failed = a.failed, failed > 0 { tip += " (\(failed) failed)" }
        if let missing = a.missing, missing > 0 { tip += ", \(missing) without a record" }
        tip += "\n\(a.stopCode ?? "no stop code"): \(HTML.truncate(a.reason ?? "", 160))"
        if bar.outcome != .ok && bar.outcome != .failures {
            if let p = a.infrastructureProblem, p != a.reason { tip += "\n" + HTML.truncate(p, 160) }
            if let hint = a.hint { tip += "\nhint: " + HTML.truncate(hint, 160) }
        }
        out += HTML.escape(tip) + "</title></rect>"
        if byRows, a.attempt > 1, width >= 20 {
            out +=
                "<text class=\"in\" x=\"\(HTML.fixed(x + 3))\" y=\"\(HTML.fixed(y + height - 3))\">a\(a.attempt)</text>"
        }
    }

    /// Attempts that follow each other in a lane, drawn as one rectangle in the colour most of
    /// them had; when ok and crawl-failure attempts mix, a band along its bottom, as high as their
    /// share, shows the other one (so a run of mostly-ok tasks is not painted all amber).
    func merge(_ members: [Int], y: Double, height: Double, gutter: Double, scale: Double, into out: inout String) {
        guard let first = members.first, let last = members.last else { return }
        var tally: [AttemptOutcome: Int] = [:]
        for i in members { tally[bars[i].outcome, default: 0] += 1 }
        var most = AttemptOutcome.ok
        for o in AttemptOutcome.allCases where tally[o] ?? 0 > tally[most] ?? 0 { most = o }
        let x = HTML.fixed(gutter + (bars[first].start - origin) * scale)
        let width = HTML.fixed(max(Self.thinnest, (bars[last].end - bars[first].start) * scale))
        var tip =
            "\(members.count) attempts in a row, batch \(bars[first].batch) (attempt \(bars[first].attempt.attempt)) "
            + "to batch \(bars[last].batch) (attempt \(bars[last].attempt.attempt)), "
            + HTML.duration(bars[last].end - bars[first].start)
        for o in AttemptOutcome.allCases { if let n = tally[o] { tip += "\n\(n) \(o.label)" } }
        out += "<rect class=\"run \(most.rawValue)\" x=\"\(x)\" y=\"\(HTML.fixed(y))\" width=\"\(width)\" "
        out += "height=\"\(HTML.fixed(height))\"><title>\(HTML.escape(tip))</title></rect>"
        for (o, n) in tally where o != most {
            let band = max(1, height * Double(n) / Double(members.count))
            out += "<rect class=\"share \(o.rawValue)\" x=\"\(x)\" y=\"\(HTML.fixed(y + height - band))\" "
            out += "width=\"\(width)\" height=\"\(HTML.fixed(band))\"/>"
        }
    }

    /// Which attempts are drawn one by one: all, or past `maxBars` those with a problem (at most
    /// `maxBars`, in launch order).
    func individual() -> [Bool] {
        guard bars.count > Self.maxBars else { return Array(repeating: true, count: bars.count) }
        var chosen = Array(repeating: false, count: bars.count)
        var left = Self.maxBars
        for i in bars.indices where left > 0 && !bars[i].outcome.didItsJob {
            chosen[i] = true
            left -= 1
        }
        return chosen
    }

    /// Interval partitioning: attempts in launch order, each into the lane that has been free the
    /// longest (a min-heap of lane ends), else a new lane. `minimumSeconds` is the width of the
    /// thinnest bar drawn, so bars of a lane do not overlap on screen either.
    func lanes(minimumSeconds: Double) -> [[Int]] {
        let order = bars.indices.sorted { (bars[$0].start, $0) < (bars[$1].start, $1) }
        var lanes: [[Int]] = []
        var free = LaneHeap()
        for i in order {
            let end = max(bars[i].end, bars[i].start + minimumSeconds)
            if let top = free.top, top.end <= bars[i].start {
                free.replaceTop((end, top.lane))
                lanes[top.lane].append(i)
            } else {
                free.push((end, lanes.count))
                lanes.append([i])
            }
        }
        return lanes
    }
}

/// A binary min-heap of (end, lane), ordered by end then lane.
struct LaneHeap {
    private var items: [(end: Double, lane: Int)] = []
    var top: (end: Double, lane: Int)? { items.first }

    mutating func push(_ item: (end: Double, lane: Int)) {
        items.append(item)
        var i = items.count - 1
        while i > 0, less(i, (i - 1) / 2) {
            items.swapAt(i, (i - 1) / 2)
            i = (i - 1) / 2
        }
    }

    mutating func replaceTop(_ item: (end: Double, lane: Int)) {
        items[0] = item
        var i = 0
        while true {
            var smallest = i
            if 2 * i + 1 < items.count && less(2 * i + 1, smallest) { smallest = 2 * i + 1 }
            if 2 * i + 2 < items.count && less(2 * i + 2, smallest) { smallest = 2 * i + 2 }
            if smallest == i { return }
            items.swapAt(i, smallest)
            i = smallest
        }
    }

    private func less(_ a: Int, _ b: Int) -> Bool { (items[a].end, items[a].lane) < (items[b].end, items[b].lane) }
}
