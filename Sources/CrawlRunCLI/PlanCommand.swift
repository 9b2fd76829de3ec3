import CrawlKit
import Foundation
import JSONKit

/// `crawlrun plan JOB [--backend B] [--json]`: the first kind of dry run. Nothing is launched.
struct PlanCommand {
    static let help = """
        usage: crawlrun plan JOB [--backend local|docker|fargate] [--json]

        Validates the job file, normalises and de-duplicates its URLs, splits them into batches
        and renders the ECS task definition. Prints a summary with the estimated duration and
        Fargate cost, or with --json one document: job, backend, summary, estimate,
        taskDefinition, and batches (each with id, urls and its RunTask overrides).
        """

    var jobPath = ""
    var backend = Backend.local
    var json = false
    var showHelp = false

    init(arguments: [String]) throws {
        var it = arguments.makeIterator()
        while let a = it.next() {
            switch a {
            case "--help", "-h": showHelp = true
            case "--json": json = true
            case "--backend":
                guard let v = it.next() else { throw UsageError("--backend needs a value: local, docker or fargate") }
                guard let b = Backend(rawValue: v) else {
                    throw UsageError("unknown backend \"\(v)\": use local, docker or fargate")
                }
                backend = b
            default:
                if a.hasPrefix("-") { throw UsageError("unknown option \(a)") }
                guard jobPath.isEmpty else { throw UsageError("one job file at a time (got \(jobPath) and \(a))") }
                jobPath = a
            }
        }
        if !showHelp && jobPath.isEmpty { throw UsageError("plan needs a job file: crawlrun plan JOB") }
    }

    func run() throws -> ExitCode {
        if showHelp {
            print(Self.help)
            return .ok
        }
        let job = try Job.load(path: jobPath, backend: backend)
        let planner = Planner(job: job)
        let summary = try planner.check()
        let estimate = Estimate(job: job, summary: summary)
        if json {
            writeJSON(job: job, planner: planner, summary: summary, estimate: estimate)
        } else {
            print(text(job: job, summary: summary, estimate: estimate))
        }
        return .ok
    }

    /// Where a batch lives for this backend; `{run}` is filled in at run time.
    func batchLocation(_ job: Job, _ id: String) -> (batch: String, out: String) {
        switch backend {
        case .fargate:
            let root = "s3://\(job.fargate.bucket ?? "BUCKET")/\(job.fargate.prefix)\(job.name)/{run}"
            return ("\(root)/batches/\(id).json", "\(root)/results/\(id).jsonl")
        case .docker:
            return ("/crawlrun/batches/\(id).json", "/crawlrun/results/\(id).jsonl")
        case .local:
            return ("runs/{run}/batches/\(id).json", "runs/{run}/results/\(id).jsonl")
        }
    }

    func writeJSON(job: Job, planner: Planner, summary: PlanSummary, estimate: Estimate) {
        var out = OutputBuffer()
        var head = JSONWriter()
        head.value([
            "job": .string(job.name), "backend": .string(backend.rawValue),
            "summary": [
                "inputURLs": .number(Double(summary.inputURLs)), "distinctURLs": .number(Double(summary.distinctURLs)),
                "duplicatesDropped": .number(Double(summary.duplicates)),
                "batches": .number(Double(summary.batchCount)),
            ],
            "estimate": estimate.json,
            "taskDefinition": TaskDefinition.render(job),
        ])
        // Splice the batches in as a streamed array before the closing brace.
        var bytes = head.bytes
        bytes.removeLast()
        out.write(bytes)
        out.write(",\"batches\":[")
        var current = -1
        var first = true
        func close(_ index: Int) {
            let id = Planner.batchID(index, of: summary.batchCount)
            let where_ = batchLocation(job, id)
            let overrides = TaskDefinition.overrides(batchLocation: where_.batch, outLocation: where_.out)
            // Worst case: a 36-character run id in place of {run}.
            let length = overrides.encoded().count - "{run}".count * 2 + 36 * 2
            var w = JSONWriter()
            w.value(["overrides": overrides, "overridesCharacters": .number(Double(length))])
            var tail = w.bytes
            tail.removeFirst()
            out.write("],")
            out.write(tail)
        }
        planner.assign(summary: summary) { index, url in
            if index != current {
                if current >= 0 { close(current) }
                out.write(first ? "" : ",")
                first = false
                current = index
                out.write("{\"id\":\"\(Planner.batchID(index, of: summary.batchCount))\",\"urls\":[")
                var w = JSONWriter()
                w.value(.string(url))
                out.write(w.bytes)
            } else {
                var w = JSONWriter()
                w.value(.string(url))
                out.write(",")
                out.write(w.bytes)
            }
        }
        if current >= 0 { close(current) }
        out.write("]}\n")
        out.flush()
    }

    func text(job: Job, summary: PlanSummary, estimate: Estimate) -> String {
        let f = job.fargate
        var lines = [
            "Plan for \(job.name) (\(backend.rawValue) backend) — nothing launched",
            "  URLs:       \(summary.inputURLs) in, \(summary.distinctURLs) distinct, \(summary.duplicates) duplicates dropped",
            "  batches:    \(summary.batchCount) of \(summary.smallestBatch == summary.largestBatch ? "\(summary.largestBatch)" : "\(summary.smallestBatch)–\(summary.largestBatch)") URLs\(job.groupByHost ? " (grouped by host)" : "")",
            "  tasks:      \(summary.batchCount), at most \(estimate.concurrency) at once; \(job.crawl.sessions) session(s) per task",
            "  task:       \(job.task.cpu) cpu / \(job.task.memory) MiB \(job.task.architecture); sidecar \(job.task.sidecarImage)",
            "  estimate:   \(Estimate.duration(estimate.seconds)) wall clock, \(String(format: estimate.cost < 0.01 ? "$%.4f" : "$%.2f", estimate.cost)) on Fargate (us-east-1 on-demand prices)",
            "              assumes \(Estimate.show(job.task.secondsPerPage)) s per page and \(Estimate.show(job.task.startupSeconds)) s task start-up (task.secondsPerPage, task.startupSeconds)",
        ]
        if backend == .fargate {
            lines.append(
                "  fargate:    cluster \(f.cluster) in \(f.region ?? "?"), \(f.subnets.count) subnet(s), results s3://\(f.bucket ?? "?")/\(f.prefix)"
            )
        }
        lines.append("Use --json for the batches and the task definition.")
        return lines.joined(separator: "\n")
    }
}

/// Duration and cost from the job's assumptions and the us-east-1 Fargate prices (ECS-NOTES.md).
struct Estimate {
    var seconds: Double
    var cost: Double
    var concurrency: Int
    var json: JSONValue {
        [
            "seconds": .number(seconds.rounded()), "costUSD": .number((cost * 100).rounded() / 100),
            "concurrency": .number(Double(concurrency)),
        ]
    }

    init(job: Job, summary: PlanSummary) {
        let t = job.task
        concurrency = max(1, min(job.fargate.maxConcurrentTasks, summary.batchCount))
        let perTask = t.startupSeconds + Double(summary.largestBatch) * t.secondsPerPage / Double(job.crawl.sessions)
        let waves = summary.batchCount == 0 ? 0 : (summary.batchCount + concurrency - 1) / concurrency
        seconds = Double(waves) * perTask
        let billed = max(60, perTask)  // one-minute minimum per task
        cost = Double(summary.batchCount) * billed * Self.pricePerSecond(t)
    }

    /// On-demand Fargate price of one task-second in us-east-1 (ECS-NOTES.md).
    static func pricePerSecond(_ t: TaskSettings) -> Double {
        let arm = t.architecture == "ARM64"
        let vcpuHour = arm ? 0.03238 : 0.04048
        let gbHour = arm ? 0.00356 : 0.004445
        return (Double(t.cpu) / 1024 * vcpuHour + Double(t.memory) / 1024 * gbHour) / 3600
    }

    static func duration(_ s: Double) -> String {
        let total = Int(s.rounded())
        return total >= 3600
            ? "\(total / 3600) h \(total % 3600 / 60) min"
            : total >= 60 ? "\(total / 60) min \(total % 60) s" : "\(total) s"
    }
    static func show(_ x: Double) -> String { x.rounded() == x ? String(Int(x)) : String(x) }
}
