import CrawlKit
import JSONKit

/// Duration and cost from the job's assumptions and the us-east-1 Fargate prices (ECS-NOTES.md).
public struct Estimate: Sendable {
    public var seconds: Double
    public var cost: Double
    public var concurrency: Int
    /// Sessions and tabs per task the estimate assumes (the job's, or chosen from the task's size).
    public var browsers: CrawlConcurrency
    public var json: JSONValue {
        [
            "seconds": .number(seconds.rounded()), "costUSD": .number((cost * 100).rounded() / 100),
            "concurrency": .number(Double(concurrency)),
            "sessionsPerTask": .number(Double(browsers.sessions)),
            "tabsPerSession": .number(Double(browsers.tabsPerSession)),
            "chosenFromTaskSize": .bool(browsers.sessionsFrom == .task || browsers.tabsFrom == .task),
        ]
    }

    public init(job: Job, summary: PlanSummary) {
        let t = job.task
        browsers = job.concurrency
        concurrency = max(1, min(job.fargate.maxConcurrentTasks, summary.batchCount))
        // Pages in flight divide the waiting; the task's vCPUs bound it from below (a page costs
        // about `cpuSecondsPerPage` of browser, driver and crawler CPU, README "Benchmark").
        let pages = Double(summary.largestBatch)
        let inFlight = Double(max(1, job.crawl.sessions * job.crawl.tabsPerSession))
        let cpuBound = pages * Self.cpuSecondsPerPage / (Double(t.cpu) / 1024)
        let perTask = t.startupSeconds + max(pages * t.secondsPerPage / inFlight, cpuBound)
        let waves = summary.batchCount == 0 ? 0 : (summary.batchCount + concurrency - 1) / concurrency
        seconds = Double(waves) * perTask
        let billed = FargatePrice.billed(perTask)
        cost = Double(summary.batchCount) * billed * FargatePrice.perSecond(t)
    }

    /// CPU-seconds one page costs the whole task, measured on the fixture site (a small page);
    /// real pages cost more, which `task.secondsPerPage` is there to say.
    public static let cpuSecondsPerPage = 0.12

    public static func duration(_ s: Double) -> String {
        let total = Int(s.rounded())
        return total >= 3600
            ? "\(total / 3600) h \(total % 3600 / 60) min"
            : total >= 60 ? "\(total / 60) min \(total % 60) s" : "\(total) s"
    }
    public static func show(_ x: Double) -> String { x.rounded() == x ? String(Int(x)) : String(x) }
}
