import Coordinator
import CrawlKit
import Foundation
import JSONKit
import ProcessKit

/// `crawlrun resume RUN_DIR`: goes on with a run that stopped before its end (Ctrl-C, `crawlrun
/// stop`, a crawlrun killed or a machine rebooted), on the backend it started on.
struct ResumeCommand: Command {
    static let name = "resume"
    static let arguments = ArgumentSpec(
        flags: ["--quiet", "--json", "--wait"], aliases: ["-q": "--quiet"], positionals: 1...1,
        positionalName: "a run directory")
    static let help = """
        usage: crawlrun resume RUN_DIR [--wait] [--quiet] [--json]

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
        let (layout, state) = try RunLayout.loadForCommand(directory)
        if state.status == .finished {
            let c = state.counts
            StandardOutput.print(
                "run \(state.run) already finished: \(c.urls) URLs — \(c.ok) ok, \(c.failed) failed"
                    + (c.incomplete > 0 ? ", \(c.incomplete) without a result" : "") + " (\(layout.resultsPath))")
            return .ok
        }
        if let owner = state.owner, RunOwnerCheck.isAlive(owner) {
            StandardError.write(
                "crawlrun: run \(state.run) is still running (crawlrun pid \(owner.pid)); "
                    + "stop it first: crawlrun stop \(directory)\n")
            return .busy
        }
        guard let backendName = Backend(rawValue: state.backend) else {
            throw RunFailure("state.json names an unknown backend \"\(state.backend)\"")
        }
        let source = try FileText.contents(of: layout.jobPath)
        var job = try Job.parse(Self.asRun(source, layout: layout), path: layout.jobPath, backend: backendName)
        // robots.txt was fetched once for the run: retries keep its verdicts and the hosts' pace.
        PolitenessSetup.restore(into: &job.crawl, from: layout.directory)
        var options = self.options
        options.runsDirectory = layout.runsDirectory
        options.backend = backendName
        let driver = RunDriver(job: job, jobSource: source, options: options)
        let display = Display(quiet: options.quiet || options.json)
        let backend = driver.makeBackend(display: display)
        guard await driver.preflight(backend) else { return .infrastructure }
        guard let lock = try await driver.lock(run: state.run, display: display) else { return .busy }
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
        let store = try RunStore(existing: layout)
        let plan = try JSONValue.decode(Data(try FileText.contents(of: layout.planPath)))
        var context = RunContext(
            id: state.run, layout: layout, job: job,
            taskDefinition: plan["taskDefinition"] ?? TaskDefinition.render(job))
        context.tasks = state.ledger.batches.filter { !$0.status.isFinal }.compactMap { $0.attempts.last?.task }
        let left = state.counts.urls - merger.counts.recorded
        return await driver.drive(
            context: context, backend: backend, store: store, ledger: state.ledger, display: display, merger: merger,
            resuming: true, firstStartedAt: state.startedAt,
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
