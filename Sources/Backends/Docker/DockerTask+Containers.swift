import Coordinator
import CrawlKit
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How a container ended: its exit code (128 + the signal when killed), nil when the engine
/// could not say.
struct Exit: Sendable, CustomStringConvertible {
    var code: Int32?
    var reason: String?
    var description: String { DockerTask.describe(code) + (reason.map { ", \($0)" } ?? "") }
}

extension DockerTask {
    /// How long the engine may be unreachable before a container's exit is given up on.
    static let engineGrace = Duration.seconds(60)

    /// Waits for the container to stop (podman: its own cheap wait; Docker: `POST
    /// /containers/{id}/wait`); nil only when cancelled.
    /// A container that is gone has no exit code; an engine that does not answer is asked again
    /// each second, up to `engineGrace`.
    func waitExit(_ container: String) async -> Exit? {
        let giveUp = ContinuousClock.now + Self.engineGrace
        while !Task.isCancelled {
            do {
                if isPodman, let code = try await client.waitContainerPolling(container, every: .milliseconds(250)) {
                    return Exit(code: Int32(clamping: code))
                }
                return Exit(code: Int32(clamping: try await client.waitContainer(container)))
            } catch is CancellationError {
                return nil
            } catch let error as DockerError where error.code == .notFound {
                return Exit(code: nil, reason: "the container is gone")
            } catch {
                if ContinuousClock.now >= giveUp { return Exit(code: nil, reason: "\(error)") }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return nil
    }

    /// Stops the container (SIGTERM, SIGKILL after `timeout` seconds) and returns how it ended.
    func stopExit(_ container: String, timeout: Int) async -> Exit {
        do {
            try await client.stopContainer(container, timeout: timeout)
        } catch let error as DockerError where error.code == .notFound {
            return Exit(code: nil, reason: "the container is gone")
        } catch {
            // A stop that failed: make sure, then read what the engine says.
            try? await client.killContainer(container)
        }
        return await waitExit(container) ?? Exit(code: nil)
    }

    func stop(_ container: String, timeout: Int) async -> Int32? { await stopExit(container, timeout: timeout).code }

    /// ECS's words for a container the kernel killed for memory. Docker sets `OOMKilled`; podman
    /// 4.3 on cgroup v1 never does, and there an exit of 137 that nobody asked for is the sign.
    func oomReason(_ container: String, _ exit: Exit) async -> String? {
        if exit.reason != nil { return exit.reason }
        guard exit.code == 137, let info = try? await client.inspectContainer(container), info.state.oomKilled else {
            return nil
        }
        return "OutOfMemoryError: Container killed due to memory usage"
    }

    enum Health: Sendable {
        case healthy
        /// The deadline passed; the last check's answer.
        case unhealthy(String?)
        case exited(Int32?)
        case stopped(String)
    }

    /// Runs the sidecar's health check until it passes, the sidecar exits, a stop is asked for,
    /// or `spec.healthTimeout` passes. podman's service runs no checks by itself (no systemd):
    /// CrawlRun runs them (`runHealthCheck`), first after 100 ms and then at doubling intervals
    /// up to the task definition's, so a sidecar ready in 0.3 s costs three checks; Docker runs
    /// them on its own schedule and the state says how they went.
    func waitHealthy(_ sidecar: String, spec: DockerTaskSpec) async -> Health {
        let deadline = ContinuousClock.now + spec.healthTimeout
        let interval = spec.sidecar.healthCheck?.interval ?? .seconds(5)
        var pause = Duration.milliseconds(100)
        var last: String?
        while true {
            if let reason = stopRequest.value { return .stopped(reason) }
            do {
                let info = try await client.inspectContainer(sidecar)
                if !info.state.running { return .exited(Int32(clamping: info.state.exitCode)) }
                let status =
                    isPodman
                    ? try await client.runHealthCheck(sidecar) : info.state.health.flatMap(HealthStatus.init(rawValue:))
                if status == .healthy { return .healthy }
                last = status?.rawValue ?? "no health status"
            } catch let error as DockerError where error.code == .notFound {
                return .exited(nil)
            } catch {
                last = "\(error)"
            }
            let now = ContinuousClock.now
            if now >= deadline { return .unhealthy(last) }
            let nap = min(pause, deadline - now)
            let stopRequest = self.stopRequest
            _ = await firstOf([
                { @Sendable in (try? await Task.sleep(for: nap)).map { true } },
                { @Sendable in await stopRequest.wait().map { _ in true } },
            ])
            pause = min(pause * 2, interval)
        }
    }
}

/// A task's two log files (`logs/<batch>/<container>.log`) and the transfers that fill them:
/// each container's output is followed from the engine as it is written (stdout and stderr,
/// demultiplexed). A follow ends when its container stops.
final class TaskLogs: Sendable {
    private let files: [String: ContainerLog]
    private let since: Date?
    private let client: DockerClient
    private let followers = Mutex<[Task<Void, Never>]>([])

    /// `since`: copy only lines from then on (a task taken over after a restart).
    init(task: DockerTask, since: Date?) {
        client = task.client
        self.since = since
        let directory = task.logDirectory
        files = Dictionary(
            uniqueKeysWithValues: [TaskDefinition.sidecarName, TaskDefinition.crawlerName].map {
                ($0, ContainerLog(path: directory + "/\($0).log"))
            })
    }

    func note(_ container: String, _ message: String) { files[container]?.note(message) }

    func follow(_ id: String, as container: String) {
        guard let log = files[container] else { return }
        let client = self.client
        let since = self.since
        let follower = Task {
            do {
                for try await line in client.logs(id, follow: true, timestamps: true, since: since) {
                    // A line copied after the fact carries the engine's time, not the copy's.
                    if since != nil, let time = line.timestamp, !ContainerLog.hasTimestamp(line.text) {
                        log.write(Timestamp.format(epochSeconds: time.timeIntervalSince1970) + " " + line.text)
                    } else {
                        log.write(line.text)
                    }
                }
            } catch is CancellationError {
            } catch {
                log.note("the container's log could not be read to the end: \(error)")
            }
        }
        followers.withLock { $0.append(follower) }
    }

    /// Waits for every follow to end (its container has stopped); one still going after
    /// `limit` is cut off.
    func drain(limit: Duration = .seconds(10)) async {
        let all = followers.withLock { $0 }
        let cutOff = Task {
            try? await Task.sleep(for: limit)
            for f in all { f.cancel() }
        }
        for f in all { await f.value }
        cutOff.cancel()
    }

    func close() {
        for f in followers.withLock({ $0 }) { f.cancel() }
        for log in files.values { log.close() }
    }
}
