import CrawlKit
import JSONKit

/// `plan`'s view of the hosts under `politeness`: per host its URLs, batches, the limit, and the
/// time the limit alone implies, whatever the fleet size (README, "Politeness").
public struct HostTable: Sendable {
    public struct Row: Sendable, Equatable {
        public var host: String
        public var urls: Int
        public var batches: Int
        public var limit: String
        /// Seconds the limit alone takes for the host's URLs; nil: nothing limits it.
        public var seconds: Double?
    }

    public var rows: [Row]
    /// Hosts beyond the rows shown.
    public var more: Int

    public static let shown = 10

    public init(job: Job, planner: Planner, summary: PlanSummary) {
        let plan = HostPlan(planner: planner, summary: summary)
        let all = plan.largestFirst.map { h in
            Row(
                host: h.name, urls: h.urls, batches: h.batches, limit: job.politeness.limitText,
                seconds: job.politeness.hostSeconds(
                    urls: h.urls, secondsPerPage: job.task.secondsPerPage, pagesAtOnce: job.concurrency.pagesInFlight))
        }
        rows = Array(all.prefix(Self.shown))
        more = all.count - rows.count
    }

    public var lines: [String] {
        let hostWidth = max(4, rows.map(\.host.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        func left(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        var out = ["    " + pad("host", hostWidth) + "    URLs  batches  limit               the limit alone"]
        for r in rows {
            out.append(
                "    " + pad(r.host, hostWidth) + left(String(r.urls), 8) + left(String(r.batches), 9) + "  "
                    + pad(r.limit, 18) + "  " + (r.seconds.map { "≥ " + Estimate.duration($0) } ?? "—"))
        }
        if more > 0 { out.append("    … and \(more) more host\(more == 1 ? "" : "s")") }
        return out
    }

    public var json: JSONValue {
        .array(
            rows.map {
                [
                    "host": .string($0.host), "urls": .number(Double($0.urls)),
                    "batches": .number(Double($0.batches)), "limit": .string($0.limit),
                    "limitSeconds": $0.seconds.map { .number($0.rounded()) } ?? .null,
                ]
            })
    }
}
