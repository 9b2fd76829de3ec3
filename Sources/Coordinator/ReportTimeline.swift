import CrawlKit

/// The timeline of report.html, as inline SVG: one bar per task attempt from its launch to its
/// end, on a time axis from the run's start, coloured by outcome, each with a `<title>` (the
/// browser's tooltip) naming its batch, attempt, task, seconds, stop code and reason. No script:
/// the page must read the same opened from disk and printed.
///
/// Two layouts, chosen by size:
/// - up to `rowLimit` batches, a labelled row per batch: a retry follows, on the same row, the
///   attempt it retries and says "a2", "a3";
/// - more, the attempts packed into lanes (`lanes(minimumSeconds:)`), so the chart is about as
///   tall as the run was wide (≈ the tasks at once) and a 20,000-batch run still fits a screen;
///   retries are outlined.
///
/// Size cap: a bar with its tooltip is ~230 bytes, so a 20,000-batch run drawn bar by bar would
/// be ~5 MB. Up to `maxBars` (8,000) attempts, ~1.8 MB, every attempt is its own bar. Past that,
/// attempts with a problem are still drawn one by one (up to 4,000 of them), while those that did
/// their job (ok, or crawl failures only) and follow each other in a lane become one `run`
/// rectangle: coloured by the outcome most of them had, a band showing the other's share, its
/// tooltip saying how many of each and which batches. A busy slot reads as one stripe, as it does
/// at that scale anyway. Runs break at gaps over 4 px unless that would make more than `maxBars`
/// pieces; then they span the gaps. So a page holds at most ~2 × `maxBars` + one per lane
/// rectangles: a 20,000-batch run is a few hundred KB, and no run much more than 3 MB (rendered
/// in ~0.2 s in release). report.json keeps every attempt.
struct ReportTimeline {
    static let rowLimit = 60
    static let maxBars = 8_000
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
                let start = a.launch?.at ?? a.end?.at ?? 0
                bars.append(
                    Bar(
                        batch: b.id, attempt: a, of: ended.count, outcome: AttemptOutcome(a), start: start,
                        end: max(start, a.end?.at ?? start)))
            }
        }
        self.bars = bars
        let first = bars.lazy.map(\.start).min()
        origin = min(Timestamp.epochSeconds(of: report.startedAt) ?? first ?? 0, first ?? .infinity)
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
            let height = rowHeight >= 6 ? rowHeight - 2 : rowHeight >= 4 ? rowHeight - 1 : rowHeight
            let oneByOne = individual()
            var parts = pieces(packed, oneByOne: oneByOne, maxGap: 4 / scale)
            if parts.count > Self.maxBars + packed.count {
                parts = pieces(packed, oneByOne: oneByOne, maxGap: .infinity)
            }
            var merged = (bars: 0, attempts: 0)
            for (lane, members) in parts {
                let y = top + Double(lane) * rowHeight + 1
                if members.count == 1 {
                    let bar = bars[members[0]]
                    draw(bar, x: gutter + (bar.start - origin) * scale, y: y, height: height, scale: scale, into: &body)
                } else {
                    merge(members, y: y, height: height, gutter: gutter, scale: scale, into: &body)
                    merged.bars += 1
                    merged.attempts += members.count
                }
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
        if bars.isEmpty { caption = "No task was launched." }
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
        tip += "\n\(HTML.fixed(bar.end - bar.start)) s · \(a.end?.records ?? 0) records"
        if let failed = a.end?.failed, failed > 0 { tip += " (\(failed) failed)" }
        if let missing = a.end?.missing, missing > 0 { tip += ", \(missing) without a record" }
        tip += "\n\(a.end?.stopCode.rawValue ?? "no stop code"): \(HTML.truncate(a.end?.reason ?? "", 160))"
        if bar.outcome != .ok && bar.outcome != .failures, let end = a.end {
            // The problem's words often repeat the reason: shown once.
            if let p = end.infrastructureProblem, p != end.reason { tip += "\n" + HTML.truncate(p, 160) }
            if let hint = end.hint { tip += "\nhint: " + HTML.truncate(hint, 160) }
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

    /// What a lane is drawn as: its attempts one by one, or, for those not drawn one by one, runs
    /// of neighbours that may merge (`AttemptOutcome.mergesWith`) with less than `maxGap` seconds
    /// between them. With no gap limit a lane has at most one run more than it has attempts drawn
    /// one by one, which bounds the page.
    func pieces(_ lanes: [[Int]], oneByOne: [Bool], maxGap: Double) -> [(lane: Int, members: [Int])] {
        var out: [(lane: Int, members: [Int])] = []
        for (lane, members) in lanes.enumerated() {
            var run: [Int] = []
            for i in members {
                if let last = run.last,
                    oneByOne[i] || !bars[last].outcome.mergesWith(bars[i].outcome)
                        || bars[i].start - bars[last].end > maxGap
                {
                    out.append((lane, run))
                    run = []
                }
                if oneByOne[i] { out.append((lane, [i])) } else { run.append(i) }
            }
            if !run.isEmpty { out.append((lane, run)) }
        }
        return out
    }

    /// Which attempts are drawn one by one: all up to `maxBars`; past that, those with a problem,
    /// at most `maxBars / 2` of them in launch order (the merged runs between them then number at
    /// most as many again, plus one a lane).
    func individual() -> [Bool] {
        guard bars.count > Self.maxBars else { return Array(repeating: true, count: bars.count) }
        var chosen = Array(repeating: false, count: bars.count)
        var left = Self.maxBars / 2
        for i in bars.indices where left > 0 && !bars[i].outcome.didItsJob {
            chosen[i] = true
            left -= 1
        }
        return chosen
    }

    /// Interval partitioning: attempts in launch order, each into the lane that came free last
    /// (best fit: a slot's next task follows on the line of the one it replaced, so a lane reads
    /// as a task slot and merged runs stay whole), else a new lane — as few lanes as attempts ever
    /// overlapped. `minimumSeconds` is the thinnest bar drawn, so bars of a lane never overlap on
    /// screen either. Lane ends are kept sorted: a binary search per attempt.
    func lanes(minimumSeconds: Double) -> [[Int]] {
        let order = bars.indices.sorted { (bars[$0].start, $0) < (bars[$1].start, $1) }
        var lanes: [[Int]] = []
        var ends: [(end: Double, lane: Int)] = []
        /// The first index of `ends` whose end is past `t`.
        func after(_ t: Double) -> Int {
            var (low, high) = (0, ends.count)
            while low < high {
                let mid = (low + high) / 2
                if ends[mid].end <= t { low = mid + 1 } else { high = mid }
            }
            return low
        }
        for i in order {
            let end = max(bars[i].end, bars[i].start + minimumSeconds)
            let k = after(bars[i].start)
            let lane: Int
            if k > 0 {
                lane = ends.remove(at: k - 1).lane
            } else {
                lane = lanes.count
                lanes.append([])
            }
            lanes[lane].append(i)
            ends.insert((end, lane), at: after(end))
        }
        return lanes
    }
}
