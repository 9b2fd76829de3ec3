import Coordinator
import CrawlKit
import Foundation

/// `crawlrun run JOB …`: plans the job, runs a task per batch on a backend, retries what is
/// missing, and writes the run directory.
struct RunCommand: Command {
    static let name = "run"
    static let arguments = RunOptions.arguments.merging(
        ArgumentSpec(flags: ["--json", "--events"], positionals: 1...1, positionalName: "a job file"))
    static let help = """
        usage: crawlrun run JOB|s3://BUCKET/KEY.json [--backend local|docker|fargate] [--max-tasks N] [--runs-dir DIR] [--wait]
                                [--keep N]
                                [--quiet] [--json]

        Runs the job: one task per batch, at most N at once; URLs left without a record (a task
        killed, a sidecar that died) go back into a new attempt, up to task.retries times.
        Writes DIR/<run-id>/: job.json, plan.json, state.json, results.jsonl (one record per
        distinct input URL), logs/<batch>/<container>.log and report.json.

        options:
          --backend B        where tasks run: local (processes on this machine, the default), docker
                             (containers on DOCKER_HOST) or fargate (ECS Fargate tasks, the job's
                             fargate section); overrides the job's "backend"
          --max-tasks N      tasks at once (default: fargate.maxConcurrentTasks on fargate,
                             docker.maxTasks on docker, local.maxTasks; else one per core, at most
                             one per GiB of memory)
          --runs-dir DIR     where run directories go (default: runs); s3://BUCKET/PREFIX keeps
                             them on S3 (README, "Runs on S3")
          --wait             when this job is already running, wait for that run to end instead of
                             exiting 75 at once
          --keep N           after the run, keep the job's N newest run directories, delete the rest
          --quiet            no progress, only the closing summary
          --json             print report.json instead of the summary
          --events           at the end, put a "Crawl Run Finished" event on EventBridge's default
                             bus (what the scheduled coordinator task does)

        Progress goes to standard error: a live line on a terminal, a plain line every 10 s
        otherwise; NO_COLOR turns colour off. Ctrl-C (or SIGTERM, or a closed terminal) stops
        every task, keeps what finished and exits 130; `crawlrun resume DIR` goes on from there.
        One run per job at a time in a runs directory (a lock in DIR/locks/; a crawlrun that died
        holds nothing); DIR/latest points at the newest run.

        Exit codes: 0 every URL ok · 1 some URLs failed · 2 the run could not finish (URLs left
        without a result, or a backend failure) · 64 usage · 65 invalid job · 75 the job is
        already running · 130 interrupted.
        """

    let jobPath: String
    var options: RunOptions

    init(_ parsed: ParsedArguments) throws(UsageError) {
        jobPath = parsed.positionals[0]
        options = try RunOptions(parsed)
        options.json = parsed.flag("--json")
        options.events = parsed.flag("--events")
    }

    func run() async throws -> ExitCode {
        let jobPath = try await JobDownload.localPath(self.jobPath)
        let job = try Job.load(path: jobPath, backend: options.requestedBackend)
        guard RunDriver.runnable.contains(job.backend) else {
            throw JobError(
                file: jobPath,
                problems: [
                    JobProblem(
                        "backend", "the \(job.backend.rawValue) backend cannot run jobs yet; use --backend local")
                ])
        }
        var options = self.options
        options.backend = job.backend
        let source = FileManager.default.contents(atPath: jobPath).map { [UInt8]($0) } ?? []
        return try await RunDriver(job: job, jobSource: source, options: options).run()
    }
}

/// Options shared by `run` and `crawl`.
struct RunOptions {
    static let arguments = ArgumentSpec(
        flags: ["--quiet", "--wait"], options: ["--backend", "--max-tasks", "--runs-dir", "--keep"],
        aliases: ["-q": "--quiet"])

    var backend = Backend.local
    /// `--backend` as given; nil: the job's own `backend`, else local.
    var requestedBackend: Backend?
    var maxTasks: Int?
    var runsDirectory = "runs"
    /// `--runs-dir` parsed: a folder, or `s3://BUCKET/PREFIX`.
    var runsLocation = RunsLocation.disk("runs")
    var quiet = false
    var json = false
    /// `--events`: the run's end put on EventBridge (FinishedEvent).
    var events = false
    /// Queue behind a live run of the same job instead of exiting 75.
    var wait = false
    /// Run directories of the job to keep (the newest), the others deleted after the run.
    var keep: Int?
    /// `crawl`: results stream to standard output; the summary goes to standard error.
    var resultsToStdout = false

    init(_ parsed: ParsedArguments) throws(UsageError) {
        if let b = try parsed.choice("--backend", Backend.self, names: Backend.allCases.map(\.rawValue)) {
            guard RunDriver.runnable.contains(b) else {
                throw UsageError(
                    "the \(b.rawValue) backend cannot run jobs yet; use --backend local or fargate (plan works with every backend)"
                )
            }
            backend = b
            requestedBackend = b
        }
        maxTasks = try parsed.int("--max-tasks", in: 1...1000)
        runsDirectory = parsed.value("--runs-dir") ?? runsDirectory
        do throws(RunsLocation.Problem) {
            runsLocation = try RunsLocation.parse(runsDirectory)
        } catch {
            throw UsageError(error.message)
        }
        quiet = parsed.flag("--quiet")
        wait = parsed.flag("--wait")
        keep = try parsed.int("--keep", in: 1...100_000)
    }
}
