import CrawlKit
import Foundation
import JSONKit

/// `crawlrun run JOB …`: plans the job, runs a task per batch on a backend, retries what is
/// missing, and writes the run directory.
struct RunCommand {
    static let help = """
        usage: crawlrun run JOB [--backend local] [--max-tasks N] [--runs-dir DIR] [--quiet] [--json]

        Runs the job: one task per batch, at most N at once; URLs left without a record (a task
        killed, a sidecar that died) go back into a new attempt, up to task.retries times.
        Writes DIR/<run-id>/: job.json, plan.json, state.json, results.jsonl (one record per
        distinct input URL), logs/<batch>/<container>.log and report.json.

        options:
          --backend local    where tasks run (local processes; docker and fargate come later)
          --max-tasks N      tasks at once (default: local.maxTasks, else one per core, at most
                             one per GiB of memory)
          --runs-dir DIR     where run directories go (default: runs)
          --quiet            no progress, only the closing summary
          --json             print report.json instead of the summary

        Progress goes to standard error: a live line on a terminal, a plain line every 10 s
        otherwise; NO_COLOR turns colour off. Ctrl-C stops every task, keeps what finished and
        exits 130.

        Exit codes: 0 every URL ok · 1 some URLs failed · 2 the run could not finish (URLs left
        without a result, or a backend failure) · 64 usage · 65 invalid job · 130 interrupted.
        """

    var jobPath = ""
    var runOptions = RunOptions()
    var showHelp = false

    init(arguments: [String]) throws(UsageError) {
        var it = arguments.makeIterator()
        while let a = it.next() {
            if try runOptions.parse(a, &it) { continue }
            switch a {
            case "--help", "-h": showHelp = true
            default:
                if a.hasPrefix("-") { throw UsageError("unknown option \(a)") }
                guard jobPath.isEmpty else { throw UsageError("one job file at a time (got \(jobPath) and \(a))") }
                jobPath = a
            }
        }
        if !showHelp && jobPath.isEmpty { throw UsageError("run needs a job file: crawlrun run JOB") }
    }

    func run() async throws -> ExitCode {
        if showHelp {
            print(Self.help)
            return .ok
        }
        let job = try Job.load(path: jobPath, backend: runOptions.backend)
        let source = FileManager.default.contents(atPath: jobPath).map { [UInt8]($0) } ?? []
        return try await RunDriver(job: job, jobSource: source, options: runOptions).run()
    }
}

/// Options shared by `run` and `crawl`.
struct RunOptions {
    var backend = Backend.local
    var maxTasks: Int?
    var runsDirectory = "runs"
    var quiet = false
    var json = false
    /// `crawl`: results stream to standard output; the summary goes to standard error.
    var resultsToStdout = false

    /// Consumes one option (and its value); false when `a` is not one of these.
    mutating func parse(_ a: String, _ it: inout IndexingIterator<[String]>) throws(UsageError) -> Bool {
        func value() throws(UsageError) -> String {
            guard let v = it.next() else { throw UsageError("\(a) needs a value") }
            return v
        }
        switch a {
        case "--backend":
            let v = try value()
            guard let b = Backend(rawValue: v) else {
                throw UsageError("unknown backend \"\(v)\": use local, docker or fargate")
            }
            guard b == .local else {
                throw UsageError(
                    "the \(v) backend cannot run jobs yet; use --backend local (plan works with every backend)")
            }
            backend = b
        case "--max-tasks":
            let v = try value()
            guard let n = Int(v), (1...256).contains(n) else {
                throw UsageError("--max-tasks takes a whole number from 1 to 256, not \"\(v)\"")
            }
            maxTasks = n
        case "--runs-dir": runsDirectory = try value()
        case "--quiet", "-q": quiet = true
        case "--json": json = true
        default: return false
        }
        return true
    }
}

/// Plans a job into a run directory and drives the scheduler, the display and the signals.
struct RunDriver {
    let job: Job
    let jobSource: [UInt8]
    let options: RunOptions

    /// One task per core, and at most one per GiB: each task is a browser.
    static func defaultMaxTasks() -> Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let gib = Int(ProcessInfo.processInfo.physicalMemory >> 30)
        return max(1, min(cores, gib, 16))
    }

    func run() async throws -> ExitCode {
        let planner = Planner(job: job)
        let summary = try planner.check()
        let store = try RunStore(runsDirectory: options.runsDirectory)
        let taskDefinition = TaskDefinition.render(job)
        let batches = try writeBatches(planner: planner, summary: summary, store: store)
        try store.writeAtomically("job.json", jobSource)
        try store.writeJSON(
            "plan.json",
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
        let context = RunContext(id: store.id, directory: store.directory, job: job, taskDefinition: taskDefinition)
        let backend = LocalBackend(
            crawlerPath: LocalBackend.defaultCrawlerPath(), settings: job.local,
            stopTimeout: .seconds(job.task.stopTimeout))
        let maxTasks = options.maxTasks ?? job.local.maxTasks ?? Self.defaultMaxTasks()
        let display = Display(quiet: options.quiet || options.json)
        let stdoutResults = options.resultsToStdout
        let scheduler = Scheduler(
            run: context, backend: backend, store: store,
            options: .init(maxTasks: maxTasks, retries: job.task.retries, maxRunSeconds: job.task.maxRunSeconds)
        ) { event in
            switch event {
            case .records(let lines): if stdoutResults { StandardOutput.write(lines) }
            case .taskEnded(let t): display.taskEnded(t, retries: job.task.retries)
            case .taskStarted: break
            }
        }
        display.start(
            "run \(store.id): \(summary.distinctURLs) URLs"
                + (summary.duplicates > 0 ? " (\(summary.duplicates) duplicates dropped)" : "")
                + " in \(batches.count) batch\(batches.count == 1 ? "" : "es"), "
                + "at most \(maxTasks) task\(maxTasks == 1 ? "" : "s") at once on the \(backend.name) backend")
        let signals = SignalWatch { name in
            display.note("\(name): stopping every task (up to \(job.task.stopTimeout) s), keeping what finished")
            scheduler.interrupt(name)
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: display.interval)
                if Task.isCancelled { break }
                let s = await scheduler.snapshot()
                display.progress(s.counts, live: s.live, elapsed: s.elapsed)
            }
        }
        let status: RunStatus
        do {
            status = try await scheduler.execute(batches)
        } catch {
            ticker.cancel()
            signals.cancel()
            display.finishLine()
            throw error
        }
        ticker.cancel()
        signals.cancel()
        display.finishLine()
        let report = await scheduler.report()
        try store.writeJSON("report.json", report.json)
        let code: ExitCode =
            status == .interrupted
            ? .interrupted
            : report.counts.incomplete > 0 ? .infrastructure : report.counts.failed > 0 ? .someFailed : .ok
        if options.json {
            StandardOutput.write(report.json.encoded() + [10])
        } else {
            let text = Summary.text(
                report: report, store: store, status: status, code: code, color: display.color)
            if stdoutResults {
                StandardError.write(text + "\n")
            } else {
                StandardOutput.write(Array((text + "\n").utf8))
            }
        }
        return code
    }

    /// Streams the plan into batch files (`batches/<id>.json`): one batch in memory at a time.
    func writeBatches(planner: Planner, summary: PlanSummary, store: RunStore) throws -> [PlannedBatch] {
        var batches: [PlannedBatch] = []
        var current: [String] = []
        var index = -1
        let encoder = JSONEncoder()
        func flush() throws {
            guard index >= 0 else { return }
            let id = Planner.batchID(index, of: summary.batchCount)
            let data = try encoder.encode(BatchFile(batch: id, urls: current, crawl: job.crawl))
            try store.writeAtomically("batches/\(id).json", [UInt8](data))
            batches.append(PlannedBatch(id: id, urls: current.count))
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

enum StandardOutput {
    static func write(_ bytes: [UInt8]) { writeAll(1, bytes) }
}

enum StandardError {
    static func write(_ text: String) { writeAll(2, Array(text.utf8)) }
}

/// Writes every byte (short writes and EINTR retried); false on an error, errno says which.
@discardableResult
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress.map { $0 + off }, $0.count - off) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return false }
        off += n
    }
    return true
}

/// SIGINT and SIGTERM while a run is on: the handler is called once per signal.
final class SignalWatch {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable (String) -> Void) {
        var sources: [any DispatchSourceSignal] = []
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { handler(name) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    func cancel() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
