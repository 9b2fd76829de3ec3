import Foundation
import JSONKit
import Synchronization

/// Progress on standard error: one live line on a terminal (redrawn every second), a plain line
/// every 10 s otherwise. Colour only on a terminal, and never with NO_COLOR (https://no-color.org).
final class Display: Sendable {
    let quiet: Bool
    let tty: Bool
    let color: Bool
    private let lineOpen = Mutex(false)

    init(quiet: Bool) {
        self.quiet = quiet
        tty = isatty(2) == 1
        let noColor = ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        color = tty && !noColor && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    var interval: Duration { tty ? .seconds(1) : .seconds(10) }

    func start(_ text: String) { note(text) }

    /// A line of its own (the live line is cleared first and redrawn on the next tick).
    func note(_ text: String) {
        guard !quiet else { return }
        let clear = lineOpen.withLock { open in
            defer { open = false }
            return open
        }
        StandardError.write((clear ? "\r\u{1B}[2K" : "") + "crawlrun: " + text + "\n")
    }

    func taskEnded(_ t: TaskReport, retries: Int) {
        guard let problem = t.infrastructureProblem else { return }
        var text = "batch \(t.batch) attempt \(t.attempt): \(problem)"
        if t.missing > 0 {
            text +=
                t.attempt <= retries
                ? "; its \(t.missing) URL\(t.missing == 1 ? "" : "s") without a record go to attempt \(t.attempt + 1)"
                : "; giving up on \(t.missing) URL\(t.missing == 1 ? "" : "s") (task.retries is \(retries))"
        }
        note(paint(text, "33"))
    }

    func progress(_ c: RunCounts, live: Int, elapsed: Duration) {
        guard !quiet else { return }
        let seconds = elapsed.seconds
        let done = c.recorded + live
        let rate = seconds > 0 ? Double(done) / seconds : 0
        var text =
            "\(Int(seconds)) s · tasks \(c.running) running, \(c.batchesDone)/\(c.batches) batches done · pages "
            + paint("\(c.ok) ok", "32") + ", "
            + (c.failed + c.incomplete > 0 ? paint("\(c.failed + c.incomplete) failed", "31") : "0 failed")
            + (live > 0 ? ", \(live) in running tasks" : "") + " of \(c.urls)"
            + String(format: " · %.1f pages/s", rate)
        if rate > 0, done < c.urls { text += " · ETA \(Summary.duration(Double(c.urls - done) / rate))" }
        if tty {
            lineOpen.withLock { $0 = true }
            StandardError.write("\r\u{1B}[2K" + text)
        } else {
            StandardError.write("crawlrun: " + text + "\n")
        }
    }

    func finishLine() {
        let open = lineOpen.withLock { open in
            defer { open = false }
            return open
        }
        if open { StandardError.write("\r\u{1B}[2K") }
    }

    func paint(_ text: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}

/// The closing summary: what a person needs in five seconds.
enum Summary {
    static func text(
        report: (
            json: JSONValue, counts: RunCounts, errors: [(kind: String, count: Int, example: String)], seconds: Double
        ),
        store: RunStore, status: RunStatus, code: ExitCode, color: Bool
    ) -> String {
        let c = report.counts
        func paint(_ s: String, _ k: String) -> String { color ? "\u{1B}[\(k)m\(s)\u{1B}[0m" : s }
        let mark: String
        switch code {
        case .ok: mark = paint("✓", "32")
        case .someFailed: mark = paint("!", "33")
        default: mark = paint("✗", "31")
        }
        let verb = status == .interrupted ? "was interrupted after" : "finished in"
        var parts = ["\(c.ok) ok"]
        if c.failed > 0 { parts.append("\(c.failed) failed") }
        if c.incomplete > 0 { parts.append("\(c.incomplete) without a result") }
        var lines = [
            "\(mark) run \(store.id) \(verb) \(duration(report.seconds)): \(c.urls) URL\(c.urls == 1 ? "" : "s") — "
                + parts.joined(separator: ", ")
        ]
        for (i, e) in report.errors.prefix(3).enumerated() {
            lines.append("  \(i == 0 ? "errors: " : "        ")\(e.kind) ×\(e.count)  e.g. \(e.example)")
        }
        if report.errors.count > 3 {
            lines.append("          … \(report.errors.count - 3) more kinds in report.json")
        }
        var tasks = "  tasks:  \(c.tasksStarted) for \(c.batches) batch\(c.batches == 1 ? "" : "es")"
        if c.retriedTasks > 0 {
            tasks += ", \(c.retriedTasks) retr\(c.retriedTasks == 1 ? "y" : "ies") (\(c.retriedURLs) URLs)"
        }
        if c.infrastructureFailures > 0 {
            tasks += ", \(c.infrastructureFailures) infrastructure failure\(c.infrastructureFailures == 1 ? "" : "s")"
        }
        lines.append(tasks)
        let rate = report.seconds > 0 ? Double(c.ok + c.failed) / report.seconds : 0
        lines.append(String(format: "  rate:   %.1f pages/s", rate))
        lines.append("  results: \(store.resultsPath)")
        lines.append("  logs:    \(store.logsPath)/")
        lines.append("  report:  \(store.reportPath)")
        return lines.joined(separator: "\n")
    }

    static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1f s", s) }
        let total = Int(s.rounded())
        return total >= 3600 ? "\(total / 3600) h \(total % 3600 / 60) min" : "\(total / 60) min \(total % 60) s"
    }
}
