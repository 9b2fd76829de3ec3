import Coordinator
import CrawlKit
import Foundation
import JSONKit
import ProcessKit
import S3Runs

/// `crawlrun resume RUN_DIR`: goes on with a run that stopped before its end (Ctrl-C, `crawlrun
/// stop`, a crawlrun killed or a machine rebooted), on the backend it started on.
struct ResumeCommand: Command {
    static let name = "resume"
    static let arguments = ArgumentSpec(
        flags: ["--quiet", "--json", "--wait"], aliases: ["-q": "--quiet"], positionals: 1...1,
        positionalName: "a run directory")
    static let help = """
        usage: crawlrun resume RUN_DIR|s3://BUCKET/PREFIX/RUN-ID [--wait] [--quiet] [--json]

        Goes on with a run from its state.json, as if it had never stopped: the results already
        merged are kept; tasks the backend still knows are adopted (running) or collected
        (stopped: their results and logs are read), never launched twice — a launch that was
        under way is made again with its own idempotency token; the URLs still without a record
        are crawled. A run stopped by Ctrl-C or `crawlrun stop` drops the "run interrupted"
        records it wrote and crawls those URLs. A run that already finished says so (exit 0).

        Exit codes as for `crawlrun run`; 75 when the run (or another run of its job) is live.
        """

    let directory: String
    let options: RunOptions

    init(_ parsed: ParsedArguments) throws(UsageError) {
        directory = parsed.positionals[0]
        var options = try RunOptions(parsed)
        options.json = parsed.flag("--json")
        self.options = options
    }

    func run() async throws -> ExitCode {
        if let (runs, id) = try RemoteRun.s3Run(directory) {
            guard let state = try await runs.state(run: id) else {
                throw UsageError("\(directory) is not a run: there is no \(RunLayout.state) under it")
            }
            if state.status == .finished { return Self.finished(state, results: directory + "/" + RunLayout.results) }
            let display = Display(quiet: options.quiet || options.json)
            guard
                let (lease, _) = try await RemoteRun.lease(
                    runs, job: state.job, run: state.run, wait: options.wait, display: display)
            else { return .busy }
            return try await Self.resumeOnS3(runs: runs, lease: lease, state: state, options: options, display: display)
        }
        let (layout, state) = try RunLayout.loadForCommand(directory)
        if state.status == .finished { return Self.finished(state, results: layout.resultsPath) }
        if let owner = state.owner, RunOwnerCheck.isAlive(owner) {
            StandardError.write(
                "crawlrun: run \(state.run) is still running (crawlrun pid \(owner.pid)); "
                    + "stop it first: crawlrun stop \(directory)\n")
            return .busy
        }
        var options = self.options
        options.runsDirectory = layout.runsDirectory
        return try await Self.goOn(
            layout: layout, state: state, options: options, display: Display(quiet: options.quiet || options.json),
            remote: nil)
    }

    static func finished(_ state: RunState, results: String) -> ExitCode {
        let c = state.counts
        StandardOutput.print(
            "run \(state.run) already finished: \(c.urls) URLs — \(c.ok) ok, \(c.failed) failed"
                + (c.incomplete > 0 ? ", \(c.incomplete) without a result" : "") + " (\(results))")
        return .ok
    }

    /// A run on S3, its job's lease held: its files come down into a working directory, the run
    /// goes on there and its copy on S3 is kept up to date. The lease now names this run.
    static func resumeOnS3(
        runs: S3Runs, lease: S3JobLease, state: RunState, options: RunOptions, display: Display
    ) async throws -> ExitCode {
        let scratch: String
        do {
            try await lease.retarget(run: state.run)
            scratch = try RemoteRun.scratchDirectory()
        } catch {
            await lease.release()
            throw error
        }
        let remote = RemoteRun(runs: runs, lease: lease, scratch: scratch, run: state.run)
        do {
            await runs.clearStopRequest(run: state.run)
            try await runs.download(run: state.run, into: remote.layout)
            // The state as downloaded: newer than the one read to decide, if its owner wrote since.
            let state = (try? RunStore.loadState(remote.layout)) ?? state
            var options = options
            options.runsDirectory = scratch
            return try await goOn(
                layout: remote.layout, state: state, options: options, display: display, remote: remote)
        } catch {
            await remote.end()
            throw error
        }
    }

    /// Goes on with the run in `layout` (its lock or lease held by the caller when `remote`).
    static func goOn(
        layout: RunLayout, state: RunState, options: RunOptions, display: Display, remote: RemoteRun?
    ) async throws -> ExitCode {
        guard let backendName = Backend(rawValue: state.backend) else {
            throw RunFailure("state.json names an unknown backend \"\(state.backend)\"")
        }
        let source = try FileText.contents(of: layout.jobPath)
        var job = try Job.parse(Self.asRun(source, layout: layout), path: layout.jobPath, backend: backendName)
        // robots.txt was fetched once for the run: retries keep its verdicts and the hosts' pace.
        PolitenessSetup.restore(into: &job.crawl, from: layout.directory)
        var options = options
        options.backend = backendName
        let driver = RunDriver(job: job, jobSource: source, options: options)
        let backend = driver.makeBackend(display: display)
        guard await driver.preflight(backend) else {
            await remote?.end()
            return .infrastructure
        }
        var lock: RunLock?
        if remote == nil {
            guard let held = try await driver.lock(run: state.run, display: display) else { return .busy }
            lock = held
        }
        defer { withExtendedLifetime(lock) {} }

        // The placeholders an interrupt wrote for URLs not crawled go; those URLs are crawled now.
        let reopened = Set(
            state.ledger.batches.filter { $0.status == .interrupted || $0.status == .failed }.map(\.id))
        let dropped = try RunStore.filterResults(layout) { r in
            !(r.error?.kind == .incomplete && reopened.contains(r.batch))
        }
        var merger = ResultMerger(urls: state.counts.urls)
        let unfinished = Set(state.ledger.batches.filter { $0.status != .done && $0.status != .exhausted }.map(\.id))
        merger.load(
            FileManager.default.contents(atPath: layout.resultsPath).map { [UInt8]($0) } ?? [], unfinished: unfinished)
        let store = try RunStore(existing: layout, mirror: remote?.mirror())
        // results.jsonl on S3 becomes the one just downloaded and filtered, whole.
        try await store.mirror?.resultsRewritten()
        let plan = try RunSetup.planHead(at: layout.planPath)
        var context = RunContext(
            id: state.run, layout: layout, job: job,
            taskDefinition: plan["taskDefinition"] ?? TaskDefinition.render(job))
        context.tasks = state.ledger.batches.filter { !$0.status.isFinal }.compactMap { $0.attempts.last?.task }
        let left = state.counts.urls - merger.counts.recorded
        return await driver.drive(
            context: context, backend: backend, store: store, ledger: state.ledger, display: display, merger: merger,
            resuming: true, firstStartedAt: state.startedAt, remote: remote,
            headline:
                "resuming run \(state.run) (\(state.status.rawValue)): \(left) of \(state.counts.urls) URLs still without a record"
                + (dropped > 0 ? " (\(dropped) \"run interrupted\" records dropped)" : "")
                + ", on the \(backend.name) backend")
    }
}

extension ResumeCommand {
    /// The job as run: its `urlsFile` names the run directory's copy (`urls.txt`), since the
    /// job's own path was relative to where the job file was (or absolute on another machine).
    /// A run directory without the copy (made before there was one) keeps the job's path.
    static func asRun(_ source: [UInt8], layout: RunLayout) -> Data {
        guard FileManager.default.fileExists(atPath: layout.urlListPath),
            case .object(var document)? = try? JSONValue.decode(Data(source)), document["urlsFile"] != nil
        else { return Data(source) }
        document["urlsFile"] = .string(RunLayout.urlList)
        return JSONValue.object(document).encoded()
    }
}

/// Whether the crawlrun that owned a run is alive: same host, same pid, same start time.
enum RunOwnerCheck {
    static func isAlive(_ owner: RunOwner) -> Bool {
        owner.host == ProcessInfo.processInfo.hostName && owner.pid > 0
            && Lifeline.startTime(of: owner.pid).map { owner.start == 0 || $0 == owner.start } == true
    }
}
