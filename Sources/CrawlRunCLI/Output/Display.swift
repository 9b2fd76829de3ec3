import Coordinator
import CrawlKit
import Foundation
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

    func taskEnded(batch: String, attempt t: BatchLedger.Attempt, retries: Int, interrupted: Bool) {
        guard let end = t.end, let problem = end.infrastructureProblem else { return }
        var text = "batch \(batch) attempt \(t.attempt): \(problem)"
        let missing = end.missing
        if end.exitCodes[TaskDefinition.crawlerName] == CrawlerExitCode.sessionNotCreated.rawValue {
            text += "; not retried: every attempt would fail the same way"
        } else if missing > 0 && !interrupted {
            text +=
                t.attempt <= retries
                ? "; its \(missing) URL\(missing == 1 ? "" : "s") without a record go to attempt \(t.attempt + 1)"
                : "; giving up on \(missing) URL\(missing == 1 ? "" : "s") (task.retries is \(retries))"
        }
        if let hint = end.hint { text += "\n    hint: \(hint)" }
        note(paint(text, "33"))
    }

    func progress(
        _ c: RecordCounts, tasks: BatchLedger.Counts, running: Int, batches: Int, live: Int, elapsed: Double
    ) {
        guard !quiet else { return }
        let seconds = elapsed
        let done = c.recorded + live
        let rate = seconds > 0 ? Double(done) / seconds : 0
        var text =
            "\(Int(seconds)) s · tasks \(running) running, \(tasks.batchesDone)/\(batches) batches done · pages "
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
