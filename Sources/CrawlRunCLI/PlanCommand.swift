import Coordinator
import CrawlKit
import DockerBackend
import FargateBackend
import Foundation
import JSONKit

/// `crawlrun plan JOB [--backend B] [--json]`: the first kind of dry run. Nothing is launched.
struct PlanCommand: Command {
    static let name = "plan"
    static let arguments = ArgumentSpec(
        flags: ["--json"], options: ["--backend"], positionals: 1...1, positionalName: "a job file")
    static let help = """
        usage: crawlrun plan JOB [--backend local|docker|fargate] [--json]

        Validates the job file, normalises and de-duplicates its URLs, splits them into batches
        and renders the ECS task definition. Prints a summary with the estimated duration and
        Fargate cost, or with --json one document: job, backend, summary, estimate,
        taskDefinition, and batches (each with id, urls and its RunTask overrides).
        """

    let jobPath: String
    /// `--backend`, else the job's own `backend`, else local.
    var backend: Backend
    let requestedBackend: Backend?
    let json: Bool

    init(_ parsed: ParsedArguments) throws(UsageError) {
        jobPath = parsed.positionals[0]
        requestedBackend = try parsed.choice("--backend", Backend.self, names: Backend.allCases.map(\.rawValue))
        backend = requestedBackend ?? .local
        json = parsed.flag("--json")
    }

    /// Where the estimate's seconds per page came from, when a calibration gave them.
    var calibrated: String?

    func run() async throws -> ExitCode {
        var job = try Job.load(path: jobPath, backend: requestedBackend)
        var plan = self
        plan.backend = job.backend
        // `crawlrun calibrate`'s figures for this task size, when the job has them.
        if let c = Calibration.load(forJob: jobPath), let row = c.apply(to: &job) {
            plan.calibrated =
                "\(Calibration.path(forJob: jobPath)) (\(c.backend) backend, \(c.measuredAt): \(String(format: "%.2f", row.pagesPerSecond)) pages/s at \(row.cpu) cpu)"
        }
        return try plan.show(job)
    }

    func show(_ job: Job) throws -> ExitCode {
        let planner = Planner(job: job)
        let summary = try planner.check()
        let estimate = Estimate(job: job, summary: summary)
        if json {
            writeJSON(job: job, planner: planner, summary: summary, estimate: estimate)
        } else {
            StandardOutput.print(text(job: job, summary: summary, estimate: estimate))
        }
        return .ok
    }

    /// Where a batch lives for this backend; `{run}` is filled in at run time.
    func batchLocation(_ job: Job, _ id: String) -> TaskLocations {
        switch backend {
        case .fargate:
            return FargateLayout.locations(job: job, run: "{run}", batch: id, attempt: 1)
        case .docker:
            return DockerBackend.locations(batch: id, attempt: 1)
        case .local:
            let layout = RunLayout(runsDirectory: "runs", id: "{run}")
            return TaskLocations(
                batch: layout.batchPath(id, attempt: 1), out: layout.attemptResultsPath(id, attempt: 1))
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
            "hosts": job.politeness.isEmpty ? .null : HostTable(job: job, planner: planner, summary: summary).json,
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
            "  tasks:      \(summary.batchCount), at most \(estimate.concurrency) at once",
            "  browsers:   \(job.concurrency.summary)",
            "  task:       \(job.task.cpu) cpu / \(job.task.memory) MiB \(job.task.architecture); sidecar \(job.task.sidecarImage)",
            "  estimate:   \(Estimate.duration(estimate.seconds)) wall clock, \(String(format: estimate.cost < 0.01 ? "$%.4f" : "$%.2f", estimate.cost)) on Fargate (us-east-1 on-demand prices)",
            "              assumes \(Estimate.show(job.task.secondsPerPage)) s per page and \(Estimate.show(job.task.startupSeconds)) s task start-up (task.secondsPerPage, task.startupSeconds)",
        ]
        if let calibrated { lines.append("              seconds per page from the calibration \(calibrated)") }
        if backend == .fargate {
            lines.append(
                "  fargate:    cluster \(f.cluster) in \(f.region ?? "?"), \(f.subnets.count) subnet(s), results s3://\(f.bucket ?? "?")/\(f.prefix)"
            )
        }
        if !job.politeness.isEmpty {
            let hosts = HostTable(job: job, planner: Planner(job: job), summary: summary)
            lines.append("  politeness: per host \(job.politeness.limitText) across all tasks")
            lines += hosts.lines
        }
        lines.append(
            "  robots.txt: "
                + (job.crawl.robotsTxt == .obey
                    ? "obeyed as \(job.crawl.robotsProductToken) (fetched once per host when the run starts)"
                    : "ignored (crawl.robotsTxt; set \"obey\" to consult it)"))
        if let warning = summary.privateNetworkWarning { lines.append("  warning:    " + warning) }
        lines.append("Use --json for the batches and the task definition.")
        return lines.joined(separator: "\n")
    }
}
