import Coordinator
import CrawlKit
import DockerBackend
import FargateBackend
import Foundation
import JSONKit
import LocalBackend
import ProcessKit

/// Plans a job into a run directory and drives the scheduler, the display and the signals.
struct RunDriver {
    /// The backends `run` can drive today.
    static let runnable: Set<Backend> = [.local, .docker, .fargate]

    let job: Job
    let jobSource: [UInt8]
    let options: RunOptions
    /// The run's id when the caller chose it (`crawl` names its job after it), else a new one.
    var runID: String? = nil

    /// The one place a backend is chosen: its factory, which builds it (clients, guard process)
    /// only when `run`, `resume` or `stop` asks.
    static func factory(for backend: Backend) -> any BackendFactory {
        switch backend {
        case .fargate: return FargateBackend.Factory()
        case .docker: return DockerBackend.Factory()
        case .local: return LocalBackend.Factory(guardCommand: guardCommand)
        }
    }

    /// The guard process that stops the run's processes if crawlrun dies (CLI's `__guard`).
    static var guardCommand: [String] { [executablePath, "__guard"] }

    func makeBackend(display: Display) -> any TaskBackend {
        Self.factory(for: options.backend).make(job: job, notes: { display.note($0) })
    }

    /// This executable (for the guard process).
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    func run() async throws -> ExitCode {
        var setup = try RunSetup(
            job: job, factory: Self.factory(for: options.backend), maxTasks: options.maxTasks,
            runsDirectory: options.runsDirectory)
        let summary = setup.summary
        let id = runID ?? RunStore.newID()
        let display = Display(quiet: options.quiet || options.json)
        if let warning = summary.privateNetworkWarning { display.note("warning: " + warning) }
        let backend = setup.makeBackend(notes: { display.note($0) })
        guard await preflight(backend) else { return .infrastructure }
        var lock: RunLock?
        var remote: RemoteRun?
        let store: RunStore
        if let runs = RemoteRun.s3Runs(options.runsLocation, region: job.fargate.region) {
            guard
                let (lease, previous) = try await RemoteRun.lease(
                    runs, job: job.name, run: id, wait: options.wait, display: display)
            else { return .busy }
            // An expired lease taken over: its run goes on if it did not finish.
            if let previous, let state = try? await runs.state(run: previous.run), state.status != .finished {
                display.note(
                    "job \(job.name): the lease of \(RemoteRun.describe(previous)) expired; resuming run \(previous.run)"
                )
                return try await ResumeCommand.resumeOnS3(
                    runs: runs, lease: lease, state: state, options: options, display: display)
            }
            try await lease.retarget(run: id)
            let run = RemoteRun(runs: runs, lease: lease, scratch: try RemoteRun.scratchDirectory(), run: id)
            remote = run
            store = try RunStore(runsDirectory: run.scratch, id: id, mirror: run.mirror())
        } else {
            guard let held = try await self.lock(run: id, display: display) else { return .busy }
            lock = held
            store = try RunStore(runsDirectory: options.runsDirectory, id: id)
            RunHistory.pointLatest(at: store.layout)
        }
        try store.writeAtomically(RunLayout.job, jobSource)
        // The URL list travels with the run: `resume` (from any directory, on any machine) needs
        // no file outside the run directory.
        if let list = job.urlsFile {
            do {
                try FileManager.default.copyItem(atPath: list, toPath: store.layout.urlListPath)
                store.added(RunLayout.urlList)
            } catch {
                throw RunFailure(
                    "the URL list \(list) could not be copied into the run directory: \(error.localizedDescription)")
            }
        }
        // robots.txt and per-host limits, once for the run, before any batch file (README, "Politeness").
        let polite = await PolitenessSetup.prepare(
            job: job, planner: setup.planner, summary: summary, maxTasks: setup.maxTasks, note: display.note)
        setup.job.crawl = polite.crawl
        let job = setup.job
        if PolitenessSetup.isNeeded(job) { try store.writeAtomically(PolitenessSetup.fileName, polite.saved) }
        // plan.json is `crawlrun plan --json`'s document; each batch file is written as it closes.
        let batches = try store.writeStreaming(RunLayout.plan) { write in
            try setup.writePlan(to: write) { index, id, urls in
                try store.writeBatch(BatchFile(batch: id, urls: urls, crawl: polite.crawl(forBatch: index)), attempt: 1)
            }
        }
        let context = RunContext(id: store.id, layout: store.layout, job: job, taskDefinition: setup.taskDefinition)
        let maxTasks = setup.maxTasks
        var ledger = BatchLedger(run: store.id, batches: batches, options: setup.ledgerOptions)
        ledger.hostSlots = polite.slots
        let code = await drive(
            context: context, backend: backend, store: store, ledger: ledger, display: display,
            merger: ResultMerger(urls: summary.distinctURLs), resuming: false, remote: remote,
            headline:
                "run \(store.id): \(summary.distinctURLs) URLs"
                + (summary.duplicates > 0 ? " (\(summary.duplicates) duplicates dropped)" : "")
                + " in \(batches.count) batch\(batches.count == 1 ? "" : "es"), "
                + "at most \(maxTasks) task\(maxTasks == 1 ? "" : "s") at once on the \(backend.name) backend")
        if let keep = options.keep, remote == nil {
            let deleted = RunHistory.prune(options.runsDirectory, job: job.name, keep: keep, current: store.id)
            if !deleted.isEmpty {
                display.note(
                    "--keep \(keep): deleted \(deleted.count) older run\(deleted.count == 1 ? "" : "s") of \(job.name)")
            }
        }
        withExtendedLifetime(lock) {}
        return code
    }

    /// Whether the backend has what it needs (credentials for Fargate); if not, says so in one
    /// line with the fix, before anything is created.
    func preflight(_ backend: any TaskBackend) async -> Bool {
        do throws(RunFailure) {
            try await backend.preflight()
            return true
        } catch {
            StandardError.write("crawlrun: \(error.message)" + (error.cause.map { "; \($0)" } ?? "") + "\n")
            return false
        }
    }

    /// The job's lock in the runs directory, or nil (after saying who holds it) when another
    /// crawlrun runs the job and `--wait` was not given.
    func lock(run id: String, display: Display) async throws -> RunLock? {
        let me = RunLock.Holder(
            run: id, job: job.name, pid: getpid(), host: ProcessInfo.processInfo.hostName, startedAt: Timestamp.now())
        do throws(RunLock.Failure) {
            return try await RunLock.acquire(
                runsDirectory: options.runsDirectory, job: job.name, as: me, wait: false)
        } catch .held(let holder) {
            let who =
                holder.map { "run \($0.run) (crawlrun pid \($0.pid) on \($0.host), started \($0.startedAt))" }
                ?? "another crawlrun"
            guard options.wait else {
                StandardError.write(
                    "crawlrun: job \(job.name) is already running: \(who); not starting another "
                        + "(exit 75; --wait queues behind it)\n")
                return nil
            }
            display.note("job \(job.name) is already running: \(who); waiting for it to end (--wait)")
            do throws(RunLock.Failure) {
                return try await RunLock.acquire(
                    runsDirectory: options.runsDirectory, job: job.name, as: me, wait: true)
            } catch .io(let failure) {
                throw failure
            } catch {
                return nil
            }
        } catch .io(let failure) {
            throw failure
        }
    }

    /// This process, for state.json: `stop` signals it; `runs` and `resume` check it is alive.
    static func owner() -> RunOwner {
        RunOwner(pid: getpid(), start: Lifeline.startTime(of: getpid()) ?? 0, host: ProcessInfo.processInfo.hostName)
    }

    /// Runs the scheduler with progress, signals and the closing summary; the exit code.
    func drive(
        context: RunContext, backend: any TaskBackend, store: RunStore, ledger: BatchLedger, display: Display,
        merger: ResultMerger, resuming: Bool, firstStartedAt: String? = nil, remote: RemoteRun? = nil,
        headline: String
    ) async -> ExitCode {
        let stdoutResults = options.resultsToStdout
        let retries = job.task.retries
        let scheduler = Scheduler(
            run: context, backend: backend, store: store, ledger: ledger, merger: merger, owner: Self.owner(),
            firstStartedAt: firstStartedAt
        ) { event in
            switch event {
            case .records(let lines): if stdoutResults { StandardOutput.write(lines) }
            case .taskEnded(let batch, let attempt, _):
                display.taskEnded(batch: batch, attempt: attempt, retries: retries, interrupted: false)
            case .note(let text): display.note(text)
            case .taskStarted: break
            }
        }
        display.start(headline)
        StandardOutput.ignoreSIGPIPE()
        StandardOutput.onClosed { scheduler.interrupt("standard output was closed") }
        let signals = SignalWatch { name in
            display.note("\(name): stopping every task (up to \(job.task.stopTimeout) s), keeping what finished")
            scheduler.interrupt(name)
        }
        let batches = ledger.batches.count
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: display.interval)
                if Task.isCancelled { break }
                let s = await scheduler.snapshot()
                display.progress(
                    s.counts, tasks: s.tasks, running: s.running, batches: batches, live: s.live, elapsed: s.elapsed)
            }
        }
        let watch = remote?.watch { why in
            display.note("\(why): stopping every task (up to \(job.task.stopTimeout) s), keeping what finished")
            scheduler.interrupt(why)
        }
        var report = await scheduler.execute(resuming: resuming)
        watch?.cancel()
        if PolitenessSetup.isNeeded(job) {
            let results = FileManager.default.contents(atPath: store.layout.resultsPath).map { [UInt8]($0) } ?? []
            report.hosts = HostRates(results: results, limit: job.politeness.requestsPerSecondPerHost)
        }
        ticker.cancel()
        signals.cancel()
        StandardOutput.onClosed(nil)
        display.finishLine()
        do {
            try store.writeJSON(RunLayout.report, CoordinatorUsage.adding(to: report.json, task: job.task))
        } catch {
            display.note("report.json not written: \(error)")
        }
        let c = report.counts
        var code: ExitCode
        switch report.status {
        case .interrupted: code = .interrupted
        case .failed: code = .infrastructure
        default: code = c.incomplete > 0 ? .infrastructure : c.failed > 0 ? .someFailed : .ok
        }
        // Records short of the URLs (results lost between two coordinators): never a success.
        let unrecorded = c.urls - c.ok - c.failed - c.incomplete
        if unrecorded > 0 {
            display.note("\(unrecorded) of \(c.urls) URLs have no record in \(RunLayout.results)")
            if code == .ok || code == .someFailed { code = .infrastructure }
        }
        do {
            try store.writeAtomically(RunLayout.reportPage, ReportPage.bytes(report, exitCode: code.rawValue))
        } catch {
            display.note("report.html not written: \(error)")
        }
        do {
            try await store.finishMirror()
        } catch {
            display.note("the run's copy on S3 is not complete: \(error)")
            if code == .ok || code == .someFailed { code = .infrastructure }
        }
        if options.events {
            let url = (remote?.displayLayout ?? store.layout).reportPath
            await FinishedEvent.put(
                report: report, exitCode: code, reportURL: url, region: job.fargate.region, display: display)
        }
        if let remote { await remote.end() }
        // A closed standard output ends the run quietly: nobody reads the summary.
        if StandardOutput.isClosed { return code }
        if options.json {
            StandardOutput.write(report.json.encoded() + [10])
        } else {
            let text = Summary.text(
                report: report, layout: remote?.displayLayout ?? store.layout, code: code, color: display.color)
            if stdoutResults {
                StandardError.write(text + "\n")
            } else {
                StandardOutput.print(text)
            }
        }
        return code
    }
}

extension RunLayout {
    /// The state of the run in `directory`, for the commands that take a run directory (`resume`,
    /// `stop`): a directory that holds no readable run is the caller's mistake (exit 64).
    static func loadForCommand(_ directory: String) throws(UsageError) -> (RunLayout, RunState) {
        let layout = RunLayout(directory: directory)
        do throws(RunFailure) {
            return (layout, try RunStore.loadState(layout))
        } catch {
            throw UsageError(error.description)
        }
    }
}
