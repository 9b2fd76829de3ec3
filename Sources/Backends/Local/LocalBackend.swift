import CrawlKit
import Foundation
import HTTP
import JSONKit
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
    private let tasks = Mutex<[String: LocalTask]>([:])
    private let counter = Atomic<Int>(0)

    public init(crawlerPath: String, settings: LocalSettings, stopTimeout: Duration) {
        self.crawlerPath = crawlerPath
        self.settings = settings
        self.stopTimeout = stopTimeout
    }

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

    public func locations(run: RunContext, batch: String, attempt: Int) -> TaskLocations {
        let suffix = attempt > 1 ? ".a\(attempt)" : ""
        return TaskLocations(
            batch: run.directory + "/batches/\(batch)\(suffix).json",
            out: run.directory + "/results/\(batch)\(suffix).jsonl")
    }

    public func putBatch(_ bytes: [UInt8], at location: String) async throws(RunFailure) {
        // The run store already wrote the batch here.
        if FileManager.default.fileExists(atPath: location) { return }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: location))
        } catch {
            throw RunFailure("cannot write \(location)", cause: "\(error)")
        }
    }

    public func readResults(at location: String) async throws(RunFailure) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: location) else { return nil }
        return [UInt8](data)
    }

    public func recordsWritten(task: String, out: String) async -> Int? {
        guard let data = FileManager.default.contents(atPath: out) else { return 0 }
        return data.reduce(0) { $1 == 10 ? $0 + 1 : $0 }
    }

    public func collectLogs(task: String, into directory: String) async {
        // Written live, line by line, into the run's logs/ while the task runs.
    }

    func sidecarCommand(port: UInt16) -> [String] {
        if let command = settings.seleniumCommand, !command.isEmpty {
            return command.map { $0.replacing("{port}", with: String(port)) }
        }
        let driver =
            settings.chromedriver ?? ProcessInfo.processInfo.environment["CHROMEDRIVER"] ?? "chromedriver"
        return [driver, "--port=\(port)"]
    }

    public func start(_ launch: TaskLaunch) async throws(RunFailure) -> String {
        let id = "local-\(launch.batch)-a\(launch.attempt)-\(counter.add(1, ordering: .relaxed).newValue)"
        let task = LocalTask(id: id, launch: launch, backend: self)
        tasks.withLock { $0[id] = task }
        task.begin()
        return id
    }

    public func wait(task id: String) async -> TaskEnd {
        guard let task = tasks.withLock({ $0[id] }) else {
            return TaskEnd(stopCode: .unknown, reason: "no such task \(id)")
        }
        let end = await task.end.value
        tasks.withLock { _ = $0.removeValue(forKey: id) }
        return end
    }

    public func stop(task id: String, reason: String) async {
        tasks.withLock { $0[id] }?.stopRequest.set(reason)
    }
}

/// One local task: its two processes and the supervisor that applies ECS's rules to them.
final class LocalTask: Sendable {
    let id: String
    let launch: TaskLaunch
    let backend: LocalBackend
    let stopRequest = OnceValue<String>()
    private let endBox = Mutex<Task<TaskEnd, Never>?>(nil)

    init(id: String, launch: TaskLaunch, backend: LocalBackend) {
        self.id = id
        self.launch = launch
        self.backend = backend
    }

    var end: Task<TaskEnd, Never> {
        endBox.withLock { $0 } ?? Task { TaskEnd(stopCode: .unknown, reason: "not started") }
    }

    func begin() {
        let task = Task { await self.supervise() }
        endBox.withLock { $0 = task }
    }

    private enum Event: Sendable {
        case crawlerExited(ExitStatus)
        case sidecarExited(ExitStatus)
        case stopRequested(String)
    }

    private func supervise() async -> TaskEnd {
        let sidecarName = TaskDefinition.sidecarName
        let crawlerName = TaskDefinition.crawlerName
        let grace = backend.stopTimeout
        try? FileManager.default.createDirectory(atPath: launch.logDirectory, withIntermediateDirectories: true)
        let sidecarLog = ContainerLog(path: launch.logDirectory + "/\(sidecarName).log")
        let crawlerLog = ContainerLog(path: launch.logDirectory + "/\(crawlerName).log")
        defer {
            sidecarLog.close()
            crawlerLog.close()
        }
        func failedToStart(_ reason: String, sidecar: ExitStatus? = nil) -> TaskEnd {
            sidecarLog.note(reason)
            return TaskEnd(
                stopCode: .taskFailedToStart, reason: reason,
                containers: [ContainerExit(name: sidecarName, exitCode: sidecar?.code, reason: reason)])
        }

        let port: UInt16
        do {
            port = try freeLoopbackPort()
        } catch {
            return failedToStart("no free loopback port: \(error)")
        }
        let command = backend.sidecarCommand(port: port)
        let environment = ProcessInfo.processInfo.environment.merging(
            TaskDefinition.environment(of: sidecarName, in: launch.taskDefinition, overrides: launch.overrides)
        ) { $1 }
        let sidecar: ChildProcess
        do {
            sidecar = try ChildProcess(
                command[0], arguments: Array(command.dropFirst()), environment: environment,
                stdout: .lines(sidecarLog.write), stderr: .lines(sidecarLog.write), name: sidecarName)
        } catch {
            return failedToStart("cannot start \(command[0]): \(error)")
        }
        sidecarLog.note("task \(id): started \(command.joined(separator: " ")) (pid \(sidecar.pid))")

        // dependsOn HEALTHY: the crawler starts once the sidecar's /status says ready.
        switch await waitHealthy(sidecar, port: port) {
        case .healthy:
            sidecarLog.note("task \(id): \(sidecarName) is healthy")
        case .exited(let status):
            await sidecar.terminate(grace: grace)
            return failedToStart("\(sidecarName) exited (\(status)) before it became healthy", sidecar: status)
        case .unhealthy:
            let status = await sidecar.terminate(grace: grace)
            return failedToStart(
                "\(sidecarName) did not become healthy within \(Int(backend.settings.healthTimeout)) s (local.healthTimeout)",
                sidecar: status)
        case .stopped(let reason):
            let status = await sidecar.terminate(grace: grace)
            await sidecar.outputDrained()
            return TaskEnd(
                stopCode: .userInitiated, reason: reason,
                containers: [ContainerExit(name: sidecarName, exitCode: status.code)])
        }

        var crawlerEnvironment = ProcessInfo.processInfo.environment.merging(
            TaskDefinition.environment(of: crawlerName, in: launch.taskDefinition, overrides: launch.overrides)
        ) { $1 }
        crawlerEnvironment["WEBDRIVER_URL"] = "http://127.0.0.1:\(port)"
        let crawler: ChildProcess
        do {
            crawler = try ChildProcess(
                backend.crawlerPath, environment: crawlerEnvironment, stdout: .lines(crawlerLog.write),
                stderr: .lines(crawlerLog.write), name: crawlerName)
        } catch {
            let status = await sidecar.terminate(grace: grace)
            return failedToStart("cannot start \(backend.crawlerPath): \(error)", sidecar: status)
        }
        crawlerLog.note("task \(id): started \(backend.crawlerPath) (pid \(crawler.pid))")

        let stopRequest = self.stopRequest
        let waits: [@Sendable () async -> Event?] = [
            { await crawler.waitUnlessCancelled().map { Event.crawlerExited($0) } },
            { await sidecar.waitUnlessCancelled().map { Event.sidecarExited($0) } },
            { await stopRequest.wait().map { Event.stopRequested($0) } },
        ]
        let event = await firstOf(waits)
        // Dependents stop first, as ECS does with dependsOn: the crawler, then the sidecar.
        let crawlerStatus: ExitStatus
        let sidecarStatus: ExitStatus
        let end: (StopCode, String)
        switch event {
        case .crawlerExited(let status)?:
            crawlerStatus = status
            sidecarStatus = await sidecar.terminate(grace: grace)
            end = (.essentialContainerExited, "Essential container in task exited (\(crawlerName): \(status))")
        case .sidecarExited(let status)?:
            crawlerLog.note("task \(id): \(sidecarName) exited (\(status)); stopping the task")
            sidecarStatus = status
            sidecar.signalGroup(SIGKILL)  // browsers it left behind
            crawlerStatus = await crawler.terminate(grace: grace)
            end = (.essentialContainerExited, "Essential container in task exited (\(sidecarName): \(status))")
        case .stopRequested(let reason)?:
            crawlerLog.note("task \(id): stopping: \(reason)")
            crawlerStatus = await crawler.terminate(grace: grace)
            sidecarStatus = await sidecar.terminate(grace: grace)
            end = (.userInitiated, reason)
        case nil:
            crawlerStatus = await crawler.terminate(grace: grace)
            sidecarStatus = await sidecar.terminate(grace: grace)
            end = (.unknown, "supervisor cancelled")
        }
        await crawler.outputDrained()
        await sidecar.outputDrained()
        return TaskEnd(
            stopCode: end.0, reason: end.1,
            containers: [
                ContainerExit(name: sidecarName, exitCode: sidecarStatus.code),
                ContainerExit(name: crawlerName, exitCode: crawlerStatus.code),
            ])
    }

    private enum Health: Sendable {
        case healthy, unhealthy
        case exited(ExitStatus)
        case stopped(String)
    }

    /// Polls `/status` every 50 ms (WebDriver §8.3: `ready` says a new session can be made).
    private func waitHealthy(_ sidecar: ChildProcess, port: UInt16) async -> Health {
        let http = CurlHTTPClient(connectTimeout: .milliseconds(500), timeout: .seconds(2))
        let deadline = ContinuousClock.now + .milliseconds(Int64(backend.settings.healthTimeout * 1000))
        let base = backend.settings.seleniumCommand == nil ? "" : "/wd/hub"
        while ContinuousClock.now < deadline {
            if let reason = stopRequest.value { return .stopped(reason) }
            if let status = sidecar.exitStatus { return .exited(status) }
            for path in Set(["/status", base + "/status"]) {
                if let r = try? await http.send(HTTPRequest(url: "http://127.0.0.1:\(port)\(path)")), r.status == 200,
                    let json = try? JSONValue.decode(r.body), json["value"]?["ready"]?.boolValue == true
                {
                    return .healthy
                }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return .unhealthy
    }
}

/// A container's log file: each line with the time it was captured, like `docker logs -t`
/// (lines that already begin with a timestamp, as the crawler's do, are kept as they are).
final class ContainerLog: Sendable {
    private let path: String
    /// Opened on the first line: a container that never started has no log file.
    private let fd = Mutex<Int32?>(nil)

    init(path: String) { self.path = path }

    func write(_ line: String) {
        let stamped = Self.hasTimestamp(line) ? line + "\n" : Timestamp.now() + " " + line + "\n"
        fd.withLock { stored in
            if stored == nil { stored = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) }
            guard let fd = stored, fd >= 0 else { return }
            writeAll(fd, Array(stamped.utf8))
        }
    }

    /// A line from crawlrun itself about this container.
    func note(_ message: String) { write(Timestamp.now() + " crawlrun: " + message) }

    func close() {
        fd.withLock { fd in
            if let open = fd, open >= 0 { _ = Foundation.close(open) }
            fd = -1
        }
    }

    static func hasTimestamp(_ line: String) -> Bool {
        let u = Array(line.utf8.prefix(11))
        return u.count == 11 && u[4] == UInt8(ascii: "-") && u[7] == UInt8(ascii: "-") && u[10] == UInt8(ascii: "T")
    }
}

extension TaskDefinition {
    /// A container's environment: the task definition's, then the RunTask overrides'.
    static func environment(of container: String, in definition: JSONValue, overrides: JSONValue) -> [String: String] {
        var env: [String: String] = [:]
        func add(_ list: JSONValue?) {
            for item in list?.arrayValue ?? [] {
                if let name = item["name"]?.stringValue, let value = item["value"]?.stringValue { env[name] = value }
            }
        }
        let named = { (list: JSONValue?) in list?.arrayValue?.first { $0["name"]?.stringValue == container } }
        add(named(definition["containerDefinitions"])?["environment"])
        add(named(overrides["containerOverrides"])?["environment"])
        return env
    }
}
