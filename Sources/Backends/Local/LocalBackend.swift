import Coordinator
import CrawlKit
import Foundation
import ProcessKit
import Synchronization

/// The embedded default backend: a task is two local processes, the sidecar (chromedriver, or a
/// Selenium server command) and the `crawler` binary, each in its own process group. ECS
/// semantics are kept so a local run rehearses a Fargate one: the crawler starts only once the
/// sidecar is healthy (`dependsOn: HEALTHY`); both containers are essential, so when either
/// exits the task stops; stopping sends SIGTERM, then SIGKILL after the stop timeout, dependents
/// first. The only difference: processes share this machine's localhost, so each task gets its
/// own free port instead of 4444, passed to the crawler in `WEBDRIVER_URL`.
public final class LocalBackend: TaskBackend {
    public let name = "local"
    let crawlerPath: String
    let settings: LocalSettings
    let stopTimeout: Duration
    /// The guard that stops every process group of the run if crawlrun dies (nil: none).
    let lifeline: Lifeline?
    private let registryBox = Mutex<LocalTaskRegistry?>(nil)
    var registry: LocalTaskRegistry? { registryBox.withLock { $0 } }
    private let tasks = SupervisedTasks<LocalTask>()
    private let counter = Atomic<Int>(0)

    public init(crawlerPath: String, settings: LocalSettings, stopTimeout: Duration, lifeline: Lifeline? = nil) {
        self.crawlerPath = crawlerPath
        self.settings = settings
        self.stopTimeout = stopTimeout
        self.lifeline = lifeline
    }

    /// The processes' state is known at once: a slow poll only guards against a missed change.
    public var pollIntervals: PollIntervals { PollIntervals(fast: .milliseconds(500), steady: .seconds(1)) }

    /// The `crawler` binary beside the running executable, unless `CRAWLRUN_CRAWLER` names one.
    public static func defaultCrawlerPath() -> String {
        if let path = ProcessInfo.processInfo.environment["CRAWLRUN_CRAWLER"] { return path }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let sibling = Paths.directory(of: exe) + "/crawler"
            if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        }
        return "crawler"
    }

    public func prepare(run: RunContext) async throws(RunFailure) {
        let registry = LocalTaskRegistry(layout: run.layout)
        registryBox.withLock { $0 = registry }
        // Task ids stay unique across a resume of the run: count on from the tasks recorded.
        counter.store(registry.entries().count, ordering: .relaxed)
        guard crawlerPath.contains("/") || Self.inPath(crawlerPath) else {
            throw RunFailure(
                "the crawler binary was not found", cause: "build it (swift build) or set CRAWLRUN_CRAWLER")
        }
        let sidecar = sidecarCommand(port: 0)[0]
        guard sidecar.contains("/") ? FileManager.default.isExecutableFile(atPath: sidecar) : Self.inPath(sidecar)
        else {
            throw RunFailure(
                "the sidecar command \(sidecar) was not found",
                cause: "install chromium-driver (scripts/setup.sh does), or set local.chromedriver / CHROMEDRIVER")
        }
    }

    static func inPath(_ name: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    }

    /// The run directory's own files: the crawler reads and writes them directly.
    public func locations(run: RunContext, batch: String, attempt: Int) -> TaskLocations {
        TaskLocations(
            batch: run.layout.batchPath(batch, attempt: attempt),
            out: run.layout.attemptResultsPath(batch, attempt: attempt))
    }

    public func putBatch(_ bytes: [UInt8], at location: String) async throws(RunFailure) {
        // The run store already wrote the batch here.
        if FileManager.default.fileExists(atPath: location) { return }
        try RunStore.writeAtomically(path: location, bytes)
    }

    public func readResults(at location: String) async throws(RunFailure) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: location) else { return nil }
        return [UInt8](data)
    }

    public func recordsWritten(task: String, out: String) async -> Int? {
        guard let data = FileManager.default.contents(atPath: out) else { return 0 }
        return data.reduce(0) { $1 == 10 ? $0 + 1 : $0 }
    }

    /// The crawler appends and flushes each record as its page finishes, in the run directory.
    public var streamsResults: Bool { true }

    public func resultsSoFar(task: String, out: String, from offset: Int) async -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: out) else { return [] }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(offset))
            return [UInt8](try handle.readToEnd() ?? Data())
        } catch {
            return nil
        }
    }

    func sidecarCommand(port: UInt16) -> [String] {
        if let command = settings.seleniumCommand, !command.isEmpty {
            return command.map { $0.replacing("{port}", with: String(port)) }
        }
        let driver =
            settings.chromedriver ?? ProcessInfo.processInfo.environment["CHROMEDRIVER"] ?? "chromedriver"
        return [driver, "--port=\(port)"]
    }

    public func launch(_ launch: TaskLaunch) async throws(LaunchError) -> String {
        let id = "local-\(launch.batch)-a\(launch.attempt)-\(counter.add(1, ordering: .relaxed).newValue)"
        let task = LocalTask(id: id, launch: launch, backend: self, onChange: tasks.announce)
        tasks.insert(task, as: id)
        task.begin()
        return id
    }

    public func observe(_ ids: [String]) async -> [String: TaskPhase] { tasks.observe(ids) }

    public func changed() async { await tasks.changed() }

    public func stop(task id: String, reason: String) async throws(RunFailure) { tasks.stop(id, reason: reason) }

    /// After crawlrun died: every task recorded for the run whose processes are still alive and
    /// ours is stopped; every recorded task is reported stopped, so its results are read and its
    /// missing URLs retried.
    public func reattach(run: RunContext) async throws(RunFailure) -> [KnownTask] {
        let entries = LocalTaskRegistry(layout: run.layout).entries()
        let stopped = await LocalTaskRegistry.stop(entries, grace: stopTimeout)
        var seen = Set<String>()
        return entries.compactMap { e in
            guard seen.insert(e.task).inserted else { return nil }
            let reason =
                stopped.contains(e.task)
                ? "crawlrun was gone; the task's processes were stopped on resume"
                : "crawlrun was gone, and so were the task's processes"
            return KnownTask(
                task: e.task, batch: e.batch, attempt: e.attempt,
                phase: .stopped(TaskEnd(stopCode: .userInitiated, reason: reason)))
        }
    }

    /// Stops whatever still runs and waits for it (the run is over, or crawlrun is going away).
    public func shutdown() async { await tasks.shutdown(reason: "crawlrun is stopping") }
}
