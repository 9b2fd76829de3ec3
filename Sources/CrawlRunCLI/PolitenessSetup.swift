import Coordinator
import CrawlKit
import HTTP

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a run knows of its hosts before the first task (README, "Politeness"): robots.txt per
/// origin (fetched here, once), each host's pace per task, and the ledger's host slots.
struct PolitenessSetup: Sendable {
    /// The job's crawl options with `robots` and `hostIntervals` filled in (all hosts).
    var crawl: CrawlOptions
    var slots: HostSlots?
    /// Per batch index, its hosts (to give each batch file only its own hosts).
    var batchHosts: [[String]]

    /// Nothing to do: the job neither obeys robots.txt nor limits hosts.
    static func isNeeded(_ job: Job) -> Bool { job.crawl.robotsTxt == .obey || !job.politeness.isEmpty }

    static func prepare(
        job: Job, planner: Planner, summary: PlanSummary, maxTasks: Int, http: (any HTTPTransport)? = nil,
        note: (String) -> Void
    ) async -> PolitenessSetup {
        var crawl = job.crawl
        guard isNeeded(job) else { return PolitenessSetup(crawl: crawl, slots: nil, batchHosts: []) }
        let plan = HostPlan(planner: planner, summary: summary)
        var crawlDelay: [String: Double] = [:]
        if job.crawl.robotsTxt == .obey {
            let fetcher = RobotsFetcher(
                http: http ?? CurlHTTPClient(connectTimeout: .seconds(5), timeout: RobotsFetcher.timeout),
                userAgent: job.crawl.userAgent ?? job.crawl.defaultUserAgent,
                productToken: job.crawl.robotsProductToken)
            let fetched = await fetcher.fetchAll(plan.origins)
            var robots: [String: RobotsRules] = [:]
            for origin in plan.origins {
                guard let f = fetched[origin.key] else { continue }
                robots[origin.key] = f.rules
                if let note = f.note { noteOnce(note) }
                if let d = f.rules.crawlDelay { crawlDelay[origin.host] = max(crawlDelay[origin.host] ?? 0, d) }
            }
            crawl.robots = robots
            func noteOnce(_ text: String) { note("robots.txt: " + text) }
        }
        var intervals: [String: Double] = [:]
        for host in plan.hosts.values {
            let holders = job.politeness.holders(batchesWithHost: host.batches, maxTasks: maxTasks)
            if let seconds = job.politeness.interval(holders: holders, crawlDelay: crawlDelay[host.name]) {
                intervals[host.name] = seconds
            }
        }
        crawl.hostIntervals = intervals.isEmpty ? nil : intervals
        var slots: HostSlots?
        if let limit = job.politeness.maxTasksPerHost {
            var hosts: [String: [String]] = [:]
            for (i, list) in plan.batchHosts.enumerated() {
                hosts[Planner.batchID(i, of: summary.batchCount)] = list
            }
            slots = HostSlots(limit: limit, hosts: hosts)
        }
        return PolitenessSetup(crawl: crawl, slots: slots, batchHosts: plan.batchHosts)
    }

    /// In the run directory: what `resume` needs to give retries the same verdicts and pace.
    static let fileName = "politeness.json"

    struct Saved: Codable {
        var hostIntervals: [String: Double]?
        var robots: [String: RobotsRules]?
    }

    var saved: [UInt8] {
        (try? JSONEncoder().encode(Saved(hostIntervals: crawl.hostIntervals, robots: crawl.robots))).map { [UInt8]($0) }
            ?? Array("{}".utf8)
    }

    /// Puts a run's saved verdicts and pace back into `crawl` (nothing when the run has none).
    static func restore(into crawl: inout CrawlOptions, from runDirectory: String) {
        guard let bytes = try? FileText.contents(of: runDirectory + "/" + fileName),
            let saved = try? JSONDecoder().decode(Saved.self, from: Data(bytes))
        else { return }
        crawl.hostIntervals = saved.hostIntervals
        crawl.robots = saved.robots
    }

    /// The crawl options for batch `index`: only its own hosts' robots.txt and intervals.
    func crawl(forBatch index: Int) -> CrawlOptions {
        guard index < batchHosts.count else { return crawl }
        let hosts = Set(batchHosts[index])
        var c = crawl
        c.hostIntervals = c.hostIntervals?.filter { hosts.contains($0.key) }
        c.robots = c.robots?.filter { RobotsOrigin(url: $0.key + "/").map { hosts.contains($0.host) } ?? true }
        return c
    }
}
