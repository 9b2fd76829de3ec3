import Coordinator
import CrawlKit
import Foundation

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
        // The same plan `run` makes: plan --json prints what `run` keeps as plan.json.
        let setup = try RunSetup(job: job, factory: RunDriver.factory(for: backend))
        if json {
            try setup.writePlan(to: { _ = StandardOutput.write($0) })
        } else {
            StandardOutput.print(text(setup))
        }
        return .ok
    }

    func text(_ setup: RunSetup) -> String {
        let (job, summary, estimate) = (setup.job, setup.summary, setup.estimate)
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
            let hosts = HostTable(job: job, planner: setup.planner, summary: summary)
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
