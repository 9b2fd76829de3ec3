import Coordinator
import Foundation

/// The closing summary: what a person needs in five seconds.
enum Summary {
    static func text(report: RunReport, layout: RunLayout, code: ExitCode, color: Bool) -> String {
        let c = report.counts
        let t = report.tasks
        func paint(_ s: String, _ k: String) -> String { color ? "\u{1B}[\(k)m\(s)\u{1B}[0m" : s }
        let mark: String
        switch code {
        case .ok: mark = paint("✓", "32")
        case .someFailed: mark = paint("!", "33")
        default: mark = paint("✗", "31")
        }
        let verb: String
        switch report.status {
        case .interrupted: verb = "was interrupted after"
        case .failed: verb = "failed after"
        default: verb = "finished in"
        }
        var parts = ["\(c.ok) ok"]
        if c.failed > 0 { parts.append("\(c.failed) failed") }
        if c.incomplete > 0 { parts.append("\(c.incomplete) without a result") }
        var lines = [
            "\(mark) run \(layout.id) \(verb) \(duration(report.seconds)): \(c.urls) URL\(c.urls == 1 ? "" : "s") — "
                + parts.joined(separator: ", ")
        ]
        if let failure = report.ledger.failure { lines.append("  cause:  \(failure)") }
        for (i, e) in report.errors.prefix(3).enumerated() {
            lines.append("  \(i == 0 ? "errors: " : "        ")\(e.kind) ×\(e.count)  e.g. \(e.example)")
        }
        if report.errors.count > 3 {
            lines.append("          … \(report.errors.count - 3) more kinds in report.json")
        }
        let batches = report.ledger.batches.count
        var tasks = "  tasks:  \(t.tasksStarted) for \(batches) batch\(batches == 1 ? "" : "es")"
        if t.retriedTasks > 0 {
            tasks += ", \(t.retriedTasks) retr\(t.retriedTasks == 1 ? "y" : "ies") (\(t.retriedURLs) URLs)"
        }
        if t.infrastructureFailures > 0 {
            tasks += ", \(t.infrastructureFailures) infrastructure failure\(t.infrastructureFailures == 1 ? "" : "s")"
        }
        lines.append(tasks)
        lines.append(String(format: "  rate:   %.1f pages/s", report.pagesPerSecond))
        if report.backend == "fargate" {
            let cost = report.cost
            lines.append(
                String(format: "  cost:   $%.4f%@", cost.usd, cost.upperBound ? " at most (Spot priced on demand)" : "")
            )
        }
        for p in report.problems.prefix(3) { lines.append("  note:   \(p)") }
        lines.append("  results: \(layout.resultsPath)")
        lines.append("  logs:    \(layout.logsPath)/")
        lines.append("  report:  \(layout.reportPath)")
        lines.append("  page:    \(layout.reportPagePath)")
        return lines.joined(separator: "\n")
    }

    static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1f s", s) }
        let total = Int(s.rounded())
        return total >= 3600 ? "\(total / 3600) h \(total % 3600 / 60) min" : "\(total / 60) min \(total % 60) s"
    }
}
