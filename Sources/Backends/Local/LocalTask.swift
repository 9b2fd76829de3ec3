import Coordinator
import CrawlKit
import Foundation
import HTTP
import JSONKit
import ProcessKit
import Synchronization

/// One local task: its two processes and the supervisor that applies ECS's rules to them.
final class LocalTask: SupervisedTask {
    let id: String
    let launch: TaskLaunch
    let backend: LocalBackend
    let stopRequest = OnceValue<String>()
    private let onChange: @Sendable () -> Void
    private struct State {
        var supervisor: Task<Void, Never>?
        var crawlerStarted = false
        /// Process groups started (each process leads its own).
        var groups: [pid_t] = []
        var end: TaskEnd?
    }
    private let state = Mutex(State())
    private let done = OnceValue<TaskEnd>()
    private let launchedAt = Timestamp.epochSeconds()

    init(id: String, launch: TaskLaunch, backend: LocalBackend, onChange: @escaping @Sendable () -> Void) {
        self.id = id
        self.launch = launch
        self.backend = backend
        self.onChange = onChange
    }

    /// Starts the supervisor. It ends when the task has stopped; `stopRequest` (or the backend's
    /// shutdown) makes it stop the processes, so nothing it started outlives it.
    func begin() {
        let supervisor = Task {
            var end = await self.supervise()
            // Every way out of `supervise` has stopped both groups.
            for group in state.withLock({ $0.groups }) { backend.lifeline?.release(group: group) }
            end.timing = TaskTiming(
                pullStartedAt: launchedAt, startedAt: state.withLock { $0.crawlerStarted } ? launchedAt : nil,
                stoppedAt: Timestamp.epochSeconds())
            let final = end
            state.withLock { $0.end = final }
            done.set(final)
            onChange()
        }
        state.withLock { $0.supervisor = supervisor }
    }

    /// A process group to stop if crawlrun dies, and to find again on `resume`.
    private func spawned(_ process: ChildProcess) {
        state.withLock { $0.groups.append(process.pid) }
        backend.lifeline?.watch(group: process.pid)
        backend.registry?.record(task: id, batch: launch.batch, attempt: launch.attempt, group: process.pid)
    }

    var phase: TaskPhase {
        state.withLock { s in s.end.map { .stopped($0) } ?? (s.crawlerStarted ? .running : .starting) }
    }

    func ended() async -> TaskEnd? { await done.wait() }

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

        let sidecar: ChildProcess
        let port: UInt16
        let health: Health
        switch await startSidecar(log: sidecarLog) {
        case .success(let started): (sidecar, port, health) = started
        case .failure(let failure): return failedToStart(failure.reason)
        }
        switch health {
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
        spawned(crawler)
        crawlerLog.note("task \(id): started \(backend.crawlerPath) (pid \(crawler.pid))")
        state.withLock { $0.crawlerStarted = true }
        onChange()

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
        // A browser that would not start a session says why in the crawler's last error line:
        // the console shows it at once (the run ends; another task would fail the same way).
        let refused = crawlerStatus.code == CrawlerExitCode.sessionNotCreated.rawValue
        return TaskEnd(
            stopCode: end.0, reason: end.1,
            containers: [
                ContainerExit(name: sidecarName, exitCode: sidecarStatus.code),
                ContainerExit(name: crawlerName, exitCode: crawlerStatus.code),
            ], hint: refused ? crawlerLog.lastError : nil)
    }

    private struct SidecarNotStarted: Error {
        let reason: String
    }

    /// Starts the sidecar on a free loopback port and waits for its `/status` (dependsOn
    /// HEALTHY: the crawler starts once it says ready). A port found free can be taken before
    /// the sidecar binds it (another task's browser picks its DevTools port the same way; seen
    /// in CI): a sidecar that exits at once is started again on another port rather than
    /// failing the task.
    private func startSidecar(
        log: ContainerLog
    ) async -> Result<(ChildProcess, UInt16, Health), SidecarNotStarted> {
        let sidecarName = TaskDefinition.sidecarName
        let environment = ProcessInfo.processInfo.environment.merging(
            TaskDefinition.environment(of: sidecarName, in: launch.taskDefinition, overrides: launch.overrides)
        ) { $1 }
        var starts = 0
        while true {
            starts += 1
            let port: UInt16
            do {
                port = try freeLoopbackPort()
            } catch {
                return .failure(SidecarNotStarted(reason: "no free loopback port: \(error)"))
            }
            let command = backend.sidecarCommand(port: port)
            let sidecar: ChildProcess
            do {
                sidecar = try ChildProcess(
                    command[0], arguments: Array(command.dropFirst()), environment: environment,
                    stdout: .lines(log.write), stderr: .lines(log.write), name: sidecarName)
            } catch {
                return .failure(SidecarNotStarted(reason: "cannot start \(command[0]): \(error)"))
            }
            spawned(sidecar)
            log.note("task \(id): started \(command.joined(separator: " ")) (pid \(sidecar.pid))")
            let since = ContinuousClock.now
            let health = await waitHealthy(sidecar, port: port)
            guard case .exited(let status) = health, starts < Self.sidecarStarts,
                ContinuousClock.now - since < Self.quickExit
            else { return .success((sidecar, port, health)) }
            await sidecar.outputDrained()
            log.note("task \(id): \(sidecarName) exited at once (\(status)); starting it again on another port")
        }
    }

    /// Starts of a sidecar that exits at once (within `quickExit`) before the task fails to start.
    static let sidecarStarts = 3
    static let quickExit: Duration = .seconds(2)

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
