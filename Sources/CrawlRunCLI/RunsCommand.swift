import Coordinator
import CrawlKit
import Foundation
import JSONKit
import S3Runs

/// `crawlrun runs`: the runs in a runs directory, newest first.
struct RunsCommand: Command {
    static let name = "runs"
    static let arguments = ArgumentSpec(flags: ["--json"], options: ["--runs-dir"])
    static let help = """
        usage: crawlrun runs [--runs-dir DIR|s3://BUCKET/PREFIX] [--json]

        Lists the runs in DIR (default: runs), newest first: run id, job, backend, status, URLs
        (ok / failed / without a result), when it first started and, for a resumed run, when it
        was last resumed. A run whose crawlrun died shows as
        "stopped unexpectedly": `crawlrun resume DIR/<run-id>` goes on with it. DIR/latest points
        at the newest run.
        """

    let runsDirectory: String
    let json: Bool

    let location: RunsLocation

    init(_ parsed: ParsedArguments) throws(UsageError) {
        runsDirectory = parsed.value("--runs-dir") ?? "runs"
        json = parsed.flag("--json")
        do throws(RunsLocation.Problem) {
            location = try RunsLocation.parse(runsDirectory)
        } catch {
            throw UsageError(error.message)
        }
    }

    /// A run as listed: its state (when readable) and its status as `runs` tells it.
    struct Row {
        var layout: RunLayout
        var state: RunState?
        var problem: String?
        var status: String
    }

    /// The runs on disk, or on S3 (state.json of each; a "running" run is alive while its job's
    /// lease names it).
    func rows() async throws -> [Row] {
        guard let runs = RemoteRun.s3Runs(location, region: nil) else {
            return RunHistory.list(runsDirectory).map { e in
                Row(
                    layout: e.layout, state: e.state, problem: e.problem,
                    status: e.state.map(Self.status) ?? "unreadable")
            }
        }
        var leases: [String: JobLease] = [:]
        var rows: [Row] = []
        for id in try await runs.runIDs() {
            let layout = RunLayout(runsDirectory: runs.description, id: id)
            do throws(RunFailure) {
                guard let state = try await runs.state(run: id) else {
                    rows.append(Row(layout: layout, problem: "no \(RunLayout.state) yet", status: "unreadable"))
                    continue
                }
                var status = state.status.rawValue
                if state.status == .running {
                    if leases[state.job] == nil, let lease = try await runs.lease(job: state.job) {
                        leases[state.job] = lease
                    }
                    let live = leases[state.job].map { $0.run == id && $0.expiresAt > Timestamp.epochSeconds() } == true
                    status = live ? "running" : "stopped unexpectedly"
                }
                rows.append(Row(layout: layout, state: state, status: status))
            } catch {
                rows.append(Row(layout: layout, problem: error.description, status: "unreadable"))
            }
        }
        return rows
    }

    func run() async throws -> ExitCode {
        let entries = try await rows()
        let now = Timestamp.epochSeconds()
        if json {
            let rows: [JSONValue] = entries.map { e in
                guard let s = e.state else {
                    return ["run": .string(e.layout.id), "problem": .string(e.problem ?? "")]
                }
                return [
                    "run": .string(s.run), "job": .string(s.job), "backend": .string(s.backend),
                    "status": .string(e.status), "startedAt": .string(s.startedAt),
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
                s.run, s.job, s.backend, e.status, String(c.urls), String(c.ok), String(c.failed),
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
