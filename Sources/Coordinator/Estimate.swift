import CrawlKit
import JSONKit

/// Duration and cost from the job's assumptions and the us-east-1 Fargate prices (ECS-NOTES.md).
public struct Estimate: Sendable {
    public var seconds: Double
    public var cost: Double
    public var concurrency: Int
    public var json: JSONValue {
        [
            "seconds": .number(seconds.rounded()), "costUSD": .number((cost * 100).rounded() / 100),
            "concurrency": .number(Double(concurrency)),
        ]
    }

    public init(job: Job, summary: PlanSummary) {
        let t = job.task
        concurrency = max(1, min(job.fargate.maxConcurrentTasks, summary.batchCount))
        let perTask = t.startupSeconds + Double(summary.largestBatch) * t.secondsPerPage / Double(job.crawl.sessions)
        let waves = summary.batchCount == 0 ? 0 : (summary.batchCount + concurrency - 1) / concurrency
        seconds = Double(waves) * perTask
        let billed = FargatePrice.billed(perTask)
        cost = Double(summary.batchCount) * billed * FargatePrice.perSecond(t)
    }

    public static func duration(_ s: Double) -> String {
        let total = Int(s.rounded())
        return total >= 3600
            ? "\(total / 3600) h \(total % 3600 / 60) min"
            : total >= 60 ? "\(total / 60) min \(total % 60) s" : "\(total) s"
    }
    public static func show(_ x: Double) -> String { x.rounded() == x ? String(Int(x)) : String(x) }
}
