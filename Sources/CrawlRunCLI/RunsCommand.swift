import Coordinator
import CrawlKit
import Foundation
import JSONKit

/// `crawlrun runs`: the runs in a runs directory, newest first.
struct RunsCommand: Command {
    static let name = "runs"
    static let arguments = ArgumentSpec(flags: ["--json"], options: ["--runs-dir"])
    static let help = """
        usage: crawlrun runs [--runs-dir DIR] [--json]

        Lists the runs in DIR (default: runs), newest first: run id, job, backend, status, URLs
        (ok / failed / without a result), when it first started and, for a resumed run, when it
        was last resumed. A run whose crawlrun died shows as
        "stopped unexpectedly": `crawlrun resume DIR/<run-id>` goes on with it. DIR/latest points
        at the newest run.
        """

    let runsDirectory: String
    let json: Bool

    init(_ parsed: ParsedArguments) throws(UsageError) {
        runsDirectory = parsed.value("--runs-dir") ?? "runs"
        json = parsed.flag("--json")
    }

    func run() async throws -> ExitCode {
        let entries = RunHistory.list(runsDirectory)
        let now = Timestamp.epochSeconds()
        if json {
            let rows: [JSONValue] = entries.map { e in
                guard let s = e.state else {
                    return ["run": .string(e.layout.id), "problem": .string(e.problem ?? "")]
                }
                return [
                    "run": .string(s.run), "job": .string(s.job), "backend": .string(s.backend),
                    "status": .string(Self.status(s)), "startedAt": .string(s.startedAt),
                    "resumedAt": s.resumedAt.map { .string($0) } ?? .null,
                    "counts": RunReport.json(s.counts), "directory": .string(e.layout.directory),
                ]
            }
            StandardOutput.write(JSONValue.array(rows).encoded() + [10])
            return .ok
        }
        guard !entries.isEmpty else {
            StandardOutput.print("no runs in \(runsDirectory)")
            return .ok
        }
        var lines = [["RUN", "JOB", "BACKEND", "STATUS", "URLS", "OK", "FAILED", "NO RESULT", "STARTED"]]
        for e in entries {
            guard let s = e.state else {
                lines.append([e.layout.id, "?", "?", "unreadable", "", "", "", "", ""])
                continue
            }
            let c = s.counts
            lines.append([
                s.run, s.job, s.backend, Self.status(s), String(c.urls), String(c.ok), String(c.failed),
                String(c.incomplete),
                Self.age(s.startedAt, now: now) + (s.resumedAt.map { ", resumed " + Self.age($0, now: now) } ?? ""),
            ])
        }
        let widths = lines[0].indices.map { i in lines.map { $0[i].count }.max() ?? 0 }
        for row in lines {
            StandardOutput.print(
                row.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        return .ok
    }

    /// The state's status, with a run whose crawlrun died told from a live one.
    static func status(_ s: RunState) -> String {
        guard s.status == .running else { return s.status.rawValue }
        return s.owner.map(RunOwnerCheck.isAlive) == true ? "running" : "stopped unexpectedly"
    }

    /// "3 min ago" from an ISO 8601 UTC timestamp.
    static func age(_ stamp: String, now: Double) -> String {
        let numbers = stamp.split(whereSeparator: { !$0.isNumber }).prefix(6).compactMap { Int32($0) }
        guard numbers.count == 6 else { return stamp }
        var parts = tm()
        parts.tm_year = numbers[0] - 1900
        parts.tm_mon = numbers[1] - 1
        parts.tm_mday = numbers[2]
        parts.tm_hour = numbers[3]
        parts.tm_min = numbers[4]
        parts.tm_sec = numbers[5]
        let seconds = Int(now) - timegm(&parts)
        switch seconds {
        case ..<60: return "\(max(0, seconds)) s ago"
        case ..<3600: return "\(seconds / 60) min ago"
        case ..<86400: return "\(seconds / 3600) h ago"
        default: return "\(seconds / 86400) d ago"
        }
    }
}
