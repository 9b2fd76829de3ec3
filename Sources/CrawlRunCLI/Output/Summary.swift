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
            // The first record's own words: `blocked ×2` alone does not say why.
            let message = report.errorMessages[e.kind].map { $0.isEmpty ? "" : ": " + firstLine($0) } ?? ""
            lines.append("  \(i == 0 ? "errors: " : "        ")\(e.kind) ×\(e.count)  e.g. \(e.example)\(message)")
        }
        for field in report.unmatchedFields {
            lines.append("  " + paint("warning: \(field): check its selector", "33"))
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
        if report.status == .interrupted {
            // The run's own directory, not `runs/latest`, which moves with the next run.
            lines.append("  resume: crawlrun resume \(layout.directory)")
        }
        lines.append("  results: \(layout.resultsPath)")
        lines.append("  logs:    \(layout.logsPath)/")
        lines.append("  report:  \(layout.reportPath)")
        lines.append("  page:    \(layout.reportPagePath)")
        return lines.joined(separator: "\n")
    }

    /// A message's first line, at most 200 characters: the summary stays a summary.
    static func firstLine(_ text: String) -> String {
        let line = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        return line.count > 200 ? String(line.prefix(199)) + "…" : line
    }

    static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1f s", s) }
        let total = Int(s.rounded())
        return total >= 3600 ? "\(total / 3600) h \(total % 3600 / 60) min" : "\(total / 60) min \(total % 60) s"
    }
}
