import Coordinator
import CrawlKit
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One docker task: its two containers, and the supervisor that applies the task definition's
/// rules to them as ECS does — the crawler starts once the sidecar is HEALTHY; both containers
/// are essential, so when either exits the other is stopped; a stop sends SIGTERM and SIGKILL
/// after the container's stopTimeout, the crawler (the dependent) before the sidecar. The
/// supervisor follows both containers' logs into the run directory as they are written, and
/// removes the containers once they have stopped and their logs are drained: a task is reported
/// stopped only then, so a stopped task has left nothing behind on the engine.
final class DockerTask: SupervisedTask {
    let id: String
    let stopRequest = OnceValue<String>()
    let client: DockerClient
    /// podman's service: its health checks and its cheap wait are CrawlRun's to call.
    let isPodman: Bool
    let logDirectory: String
    private let onChange: @Sendable () -> Void
    private struct State {
        /// When the crawler container started (seconds since 1970).
        var crawlerStartedAt: Double?
        var end: TaskEnd?
    }
    private let state = Mutex(State())
    private let done = OnceValue<TaskEnd>()
    let launchedAt = Timestamp.epochSeconds()

    init(
        id: String, client: DockerClient, isPodman: Bool, logDirectory: String,
        onChange: @escaping @Sendable () -> Void
    ) {
        self.id = id
        self.client = client
        self.isPodman = isPodman
        self.logDirectory = logDirectory
        self.onChange = onChange
    }

    var phase: TaskPhase {
        state.withLock { s in s.end.map { .stopped($0) } ?? (s.crawlerStartedAt != nil ? .running : .starting) }
    }

    /// The task's end, once its containers are gone; nil if the waiting task is cancelled.
    func ended() async -> TaskEnd? { await done.wait() }

    /// How the supervisor takes the task on.
    enum Start: Sendable {
        /// A new task whose sidecar was created and started by `launch`.
        case fresh(DockerTaskSpec, sidecar: String)
        /// A task found running (after a restart of crawlrun, or a launch tried twice): watched
        /// from its crawler's run on.
        case adopt(sidecar: String, crawler: String, stopTimeout: Int)
        /// A task found with its crawler gone (or never started): its end is known; what is left
        /// is stopped, its logs are copied and its containers removed.
        case collect(TaskEnd, sidecar: String?, crawler: String?, stopTimeout: Int)
    }

    func begin(_ start: Start) {
        Task {
            var end: TaskEnd
            switch start {
            case .fresh(let spec, let sidecar):
                end = await runFresh(spec, sidecar: sidecar)
            case .adopt(let sidecar, let crawler, let stopTimeout):
                state.withLock { $0.crawlerStartedAt = launchedAt }
                let logs = TaskLogs(task: self, since: Self.lastWrite(in: logDirectory))
                defer { logs.close() }
                logs.note(
                    TaskDefinition.crawlerName, "task \(id): taken over by this crawlrun; its output goes on here")
                logs.follow(sidecar, as: TaskDefinition.sidecarName)
                logs.follow(crawler, as: TaskDefinition.crawlerName)
                end = await watch(
                    sidecar: sidecar, crawler: crawler, stopTimeouts: (sidecar: stopTimeout, crawler: stopTimeout),
                    logs: logs)
            case .collect(let known, let sidecar, let crawler, let stopTimeout):
                end = known
                let logs = TaskLogs(task: self, since: Self.lastWrite(in: logDirectory))
                defer { logs.close() }
                if let crawler {
                    logs.follow(crawler, as: TaskDefinition.crawlerName)
                    _ = await stop(crawler, timeout: stopTimeout)
                }
                if let sidecar {
                    logs.follow(sidecar, as: TaskDefinition.sidecarName)
                    _ = await stop(sidecar, timeout: stopTimeout)
                }
                await logs.drain()
                await removeContainers(logs: logs)
            }
            if end.timing == nil {
                end.timing = TaskTiming(
                    pullStartedAt: launchedAt, startedAt: state.withLock { $0.crawlerStartedAt },
                    stoppedAt: Timestamp.epochSeconds())
            }
            let final = end
            state.withLock { $0.end = final }
            done.set(final)
            onChange()
        }
    }

    private func runFresh(_ spec: DockerTaskSpec, sidecar: String) async -> TaskEnd {
        let sidecarName = TaskDefinition.sidecarName
        let logs = TaskLogs(task: self, since: nil)
        defer { logs.close() }
        logs.follow(sidecar, as: sidecarName)
        logs.note(
            sidecarName,
            "task \(id): started container \(spec.sidecar.name ?? "") (\(sidecar.prefix(12))) from \(spec.sidecar.image)"
        )
        func failedToStart(
            _ reason: String, sidecar code: Int32?, hint: String? = nil, retryable: Bool = true
        ) async -> TaskEnd {
            logs.note(sidecarName, reason)
            await logs.drain()
            await removeContainers(logs: logs)
            return TaskEnd(
                stopCode: .taskFailedToStart, reason: reason,
                containers: [ContainerExit(name: sidecarName, exitCode: code, reason: reason)], hint: hint,
                retryable: retryable)
        }

        // dependsOn HEALTHY: the crawler starts once the sidecar's health check passes.
        switch await waitHealthy(sidecar, spec: spec) {
        case .healthy:
            logs.note(sidecarName, "task \(id): \(sidecarName) is healthy")
        case .exited(let code):
            return await failedToStart(
                "\(sidecarName) exited (\(Self.describe(code))) before it became healthy", sidecar: code)
        case .unhealthy(let last):
            let code = await stop(sidecar, timeout: spec.sidecarStopTimeout)
            let seconds = Int(spec.healthTimeout.seconds.rounded())
            return await failedToStart(
                "\(sidecarName) did not become healthy within \(seconds) s"
                    + (last.map { " (last check: \($0))" } ?? ""), sidecar: code,
                hint: "the task definition's health check runs `\(spec.sidecar.healthCheck?.test.last ?? "")` "
                    + "inside the sidecar image; docker.healthTimeout sets how long it may take")
        case .stopped(let reason):
            let code = await stop(sidecar, timeout: spec.sidecarStopTimeout)
            await logs.drain()
            await removeContainers(logs: logs)
            return TaskEnd(
                stopCode: .userInitiated, reason: reason, containers: [ContainerExit(name: sidecarName, exitCode: code)]
            )
        }

        var crawlerSpec = spec.crawler
        crawlerSpec.host.networkMode = .container(sidecar)
        let crawler: String
        do {
            crawler = try await client.createContainer(crawlerSpec)
            try await client.startContainer(crawler)
        } catch {
            let code = await stop(sidecar, timeout: spec.sidecarStopTimeout)
            // A container the engine refuses (a missing image, a spec it rejects) would be refused
            // on every attempt: the run ends with the reason.
            let refused =
                (error as? DockerError).map { [.notFound, .badRequest, .pullFailed].contains($0.code) } ?? false
            return await failedToStart(
                "cannot start the \(TaskDefinition.crawlerName) container: \(error)", sidecar: code,
                hint: DockerImages.hint(for: error, image: crawlerSpec.image, container: TaskDefinition.crawlerName),
                retryable: !refused)
        }
        logs.follow(crawler, as: TaskDefinition.crawlerName)
        logs.note(
            TaskDefinition.crawlerName,
            "task \(id): started container \(crawlerSpec.name ?? "") (\(crawler.prefix(12))) from \(crawlerSpec.image)")
        state.withLock { $0.crawlerStartedAt = Timestamp.epochSeconds() }
        onChange()
        return await watch(
            sidecar: sidecar, crawler: crawler,
            stopTimeouts: (sidecar: spec.sidecarStopTimeout, crawler: spec.crawlerStopTimeout), logs: logs)
    }

    private enum Event: Sendable {
        case crawlerExited(Exit)
        case sidecarExited(Exit)
        case stopRequested(String)
    }

    /// From the crawler's start to the task's end: the first container to exit (or a stop
    /// request) stops the task, dependents first.
    private func watch(
        sidecar: String, crawler: String, stopTimeouts: (sidecar: Int, crawler: Int), logs: TaskLogs
    ) async -> TaskEnd {
        let sidecarName = TaskDefinition.sidecarName
        let crawlerName = TaskDefinition.crawlerName
        let stopRequest = self.stopRequest
        let waits: [@Sendable () async -> Event?] = [
            { await self.waitExit(crawler).map { Event.crawlerExited($0) } },
            { await self.waitExit(sidecar).map { Event.sidecarExited($0) } },
            { await stopRequest.wait().map { Event.stopRequested($0) } },
        ]
        let event = await firstOf(waits)
        var crawlerExit: Exit
        var sidecarExit: Exit
        let end: (StopCode, String)
        switch event {
        case .crawlerExited(let exit)?:
            crawlerExit = exit
            sidecarExit = await stopExit(sidecar, timeout: stopTimeouts.sidecar)
            end = (.essentialContainerExited, "Essential container in task exited (\(crawlerName): \(exit))")
        case .sidecarExited(let exit)?:
            logs.note(crawlerName, "task \(id): \(sidecarName) exited (\(exit)); stopping the task")
            sidecarExit = exit
            crawlerExit = await stopExit(crawler, timeout: stopTimeouts.crawler)
            end = (.essentialContainerExited, "Essential container in task exited (\(sidecarName): \(exit))")
        case .stopRequested(let reason)?:
            logs.note(crawlerName, "task \(id): stopping: \(reason)")
            crawlerExit = await stopExit(crawler, timeout: stopTimeouts.crawler)
            sidecarExit = await stopExit(sidecar, timeout: stopTimeouts.sidecar)
            end = (.userInitiated, reason)
        case nil:
            crawlerExit = await stopExit(crawler, timeout: stopTimeouts.crawler)
            sidecarExit = await stopExit(sidecar, timeout: stopTimeouts.sidecar)
            end = (.unknown, "supervisor cancelled")
        }
        crawlerExit.reason = await oomReason(crawler, crawlerExit)
        sidecarExit.reason = await oomReason(sidecar, sidecarExit)
        await logs.drain()
        await removeContainers(logs: logs)
        return TaskEnd(
            stopCode: end.0, reason: end.1,
            containers: [
                ContainerExit(name: sidecarName, exitCode: sidecarExit.code, reason: sidecarExit.reason),
                ContainerExit(name: crawlerName, exitCode: crawlerExit.code, reason: crawlerExit.reason),
            ])
    }

    /// Removes the task's containers (by its label, in the order shared namespaces need).
    func removeContainers(logs: TaskLogs) async {
        do {
            try await client.removeContainers(labels: [DockerLabels.task(id)])
        } catch {
            logs.note(TaskDefinition.sidecarName, "task \(id): containers not removed: \(error)")
        }
    }

    /// The newest write into the batch's logs: lines from then on are copied when a task is
    /// taken over after a restart (the engine's resolution is a second: a line or two of that
    /// second may appear twice).
    static func lastWrite(in directory: String) -> Date? {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.compactMap {
            (try? FileManager.default.attributesOfItem(atPath: directory + "/" + $0))?[.modificationDate] as? Date
        }.max()
    }

    static func describe(_ code: Int32?) -> String { code.map { "exit code \($0)" } ?? "no exit code" }
}
