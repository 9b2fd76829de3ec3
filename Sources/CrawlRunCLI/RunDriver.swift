import AWS
import Coordinator
import CrawlKit
import FargateBackend
import Foundation
import JSONKit
import LocalBackend
import Synchronization

/// Plans a job into a run directory and drives the scheduler, the display and the signals.
struct RunDriver {
    /// The backends `run` can drive today.
    static let runnable: Set<Backend> = [.local, .fargate]

    let job: Job
    let jobSource: [UInt8]
    let options: RunOptions

    /// One task per core, and at most one per GiB: each task is a browser.
    static func defaultMaxTasks() -> Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let gib = Int(ProcessInfo.processInfo.physicalMemory >> 30)
        return max(1, min(cores, gib, 16))
    }

    func makeBackend(notes: @escaping @Sendable (String) -> Void) -> any TaskBackend {
        switch options.backend {
        case .fargate:
            let variables = ProcessInfo.processInfo.environment
            let region = job.fargate.region ?? AWSEnvironment(variables).region() ?? "us-east-1"
            return FargateBackend(job: job, aws: AWSServices(region: region, variables: variables), notes: notes)
        case .local, .docker:
            return LocalBackend(
                crawlerPath: LocalBackend.defaultCrawlerPath(), settings: job.local,
                stopTimeout: .seconds(job.task.stopTimeout))
        }
    }

    /// Tasks at once: `--max-tasks`, else the backend's own setting.
    var maxTasks: Int {
        options.maxTasks
            ?? (options.backend == .fargate
                ? job.fargate.maxConcurrentTasks : job.local.maxTasks ?? Self.defaultMaxTasks())
    }

    /// A task not running this long after its launch is stopped: Fargate's provisioning timeout.
    var startTimeout: Double { options.backend == .fargate ? job.fargate.provisioningTimeout : 900 }

    func run() async throws -> ExitCode {
        let planner = Planner(job: job)
        let summary = try planner.check()
        let store = try RunStore(runsDirectory: options.runsDirectory)
        let taskDefinition = TaskDefinition.render(job)
        let batches = try writeBatches(planner: planner, summary: summary, store: store)
        try store.writeAtomically(RunLayout.job, jobSource)
        try store.writeJSON(
            RunLayout.plan,
            [
                "job": .string(job.name), "backend": .string(options.backend.rawValue),
                "summary": [
                    "inputURLs": .number(Double(summary.inputURLs)),
                    "distinctURLs": .number(Double(summary.distinctURLs)),
                    "duplicatesDropped": .number(Double(summary.duplicates)),
                    "batches": .number(Double(summary.batchCount)),
                ],
                "batches": .array(batches.map { ["id": .string($0.id), "urls": .number(Double($0.urls))] }),
                "taskDefinition": taskDefinition,
            ])
        let context = RunContext(id: store.id, layout: store.layout, job: job, taskDefinition: taskDefinition)
        let notes = NoteBox()
        let backend = makeBackend { notes.note($0) }
        let maxTasks = self.maxTasks
        let ledger = BatchLedger(
            run: store.id, batches: batches,
            options: .init(
                maxTasks: maxTasks, retries: job.task.retries, maxRunSeconds: job.task.maxRunSeconds,
                startTimeout: startTimeout))
        return await drive(
            context: context, backend: backend, store: store, ledger: ledger, notes: notes,
            merger: ResultMerger(urls: summary.distinctURLs),
            headline:
                "run \(store.id): \(summary.distinctURLs) URLs"
                + (summary.duplicates > 0 ? " (\(summary.duplicates) duplicates dropped)" : "")
                + " in \(batches.count) batch\(batches.count == 1 ? "" : "es"), "
                + "at most \(maxTasks) task\(maxTasks == 1 ? "" : "s") at once on the \(backend.name) backend")
    }

    /// Runs the scheduler with progress, signals and the closing summary; the exit code.
    func drive(
        context: RunContext, backend: any TaskBackend, store: RunStore, ledger: BatchLedger,
        notes: NoteBox = NoteBox(), merger: ResultMerger, headline: String
    ) async -> ExitCode {
        let display = Display(quiet: options.quiet || options.json)
        notes.attach(display)
        let stdoutResults = options.resultsToStdout
        let retries = job.task.retries
        let scheduler = Scheduler(run: context, backend: backend, store: store, ledger: ledger, merger: merger) {
            event in
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
        let report = await scheduler.execute()
        ticker.cancel()
        signals.cancel()
        StandardOutput.onClosed(nil)
        display.finishLine()
        do {
            try store.writeJSON(RunLayout.report, report.json)
        } catch {
            display.note("report.json not written: \(error)")
        }
        let c = report.counts
        let code: ExitCode
        switch report.status {
        case .interrupted: code = .interrupted
        case .failed: code = .infrastructure
        default: code = c.incomplete > 0 ? .infrastructure : c.failed > 0 ? .someFailed : .ok
        }
        // A closed standard output ends the run quietly: nobody reads the summary.
        if StandardOutput.isClosed { return code }
        if options.json {
            StandardOutput.write(report.json.encoded() + [10])
        } else {
            let text = Summary.text(report: report, layout: store.layout, code: code, color: display.color)
            if stdoutResults {
                StandardError.write(text + "\n")
            } else {
                StandardOutput.print(text)
            }
        }
        return code
    }

    /// Streams the plan into batch files (`batches/<id>.json`): one batch in memory at a time.
    func writeBatches(planner: Planner, summary: PlanSummary, store: RunStore) throws -> [(id: String, urls: Int)] {
        var batches: [(id: String, urls: Int)] = []
        var current: [String] = []
        var index = -1
        func flush() throws {
            guard index >= 0 else { return }
            let id = Planner.batchID(index, of: summary.batchCount)
            try store.writeBatch(BatchFile(batch: id, urls: current, crawl: job.crawl), attempt: 1)
            batches.append((id, current.count))
            current.removeAll(keepingCapacity: true)
        }
        try planner.assign(summary: summary) { i, url in
            if i != index {
                try flush()
                index = i
            }
            current.append(url)
        }
        try flush()
        return batches
    }
}

/// Where a backend's notes go (a task definition reused, a task left running): the run's display,
/// once it is made.
final class NoteBox: Sendable {
    private let display = Mutex<Display?>(nil)
    func attach(_ display: Display) { self.display.withLock { $0 = display } }
    func note(_ text: String) { display.withLock { $0 }?.note(text) }
}
