import Coordinator
import CrawlKit
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The docker backend: the plan's task definition run as containers through the Docker Engine
/// API (`DOCKER_HOST`, or the job's `docker.host`), so that a dry run rehearses the Fargate run
/// with the same images, environment, shared localhost and cpu and memory limits
/// (`DockerTaskSpec` says how a task maps onto containers, `DockerTask` runs one,
/// `HostLoopback` how pages on this machine are reached).
///
/// The crawler sees the run directory's `batches/` (read-only) and `results/` at `/crawlrun`;
/// the batch and results locations are those paths, as `crawlrun plan --backend docker` shows.
/// Every container carries labels naming its run, task, batch and attempt: `resume` and `stop`
/// find a run's containers by them, and `shutdown` removes whatever of the run is left.
public final class DockerBackend: TaskBackend {
    public let name = "docker"
    let settings: DockerSettings
    private let client: Result<DockerClient, RunFailure>
    struct Prepared: Sendable {
        var run: RunContext
        var isPodman: Bool { engineKind == .podman }
        var engineKind: EngineKind
        /// The run directory as an absolute path: the engine takes nothing else for a bind mount.
        var directory: String
    }
    private let prepared = Mutex<Prepared?>(nil)
    let loopbackState = Mutex(LoopbackState())
    let tasks = SupervisedTasks<DockerTask>()

    /// The engine at `settings.host`, else `DOCKER_HOST`, else `/var/run/docker.sock`. A
    /// `DOCKER_HOST` this client cannot use is reported by `prepare`.
    public init(settings: DockerSettings, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.settings = settings
        var environment = environment
        if let host = settings.host { environment["DOCKER_HOST"] = host }
        do {
            client = .success(try DockerClient.fromEnvironment(environment))
        } catch {
            client = .failure(RunFailure("the Docker Engine API cannot be used", cause: "\(error)"))
        }
    }

    /// Exits are known at once (each task waits on its containers): a slow poll only guards
    /// against a missed change.
    public var pollIntervals: PollIntervals { PollIntervals(fast: .milliseconds(500), steady: .seconds(1)) }

    /// Where a batch attempt's files are inside the crawler container (`crawlrun plan` shows these).
    public static func locations(batch: String, attempt: Int) -> TaskLocations {
        TaskLocations(
            batch: DockerTaskSpec.mountPoint + "/" + RunLayout.batchName(batch, attempt: attempt),
            out: DockerTaskSpec.mountPoint + "/" + RunLayout.resultsName(batch, attempt: attempt))
    }

    /// The task id for a launch's idempotency token: the engine refuses a second container of the
    /// same name, so a launch tried twice finds the first one's containers.
    static func taskID(token: String) -> String {
        "crawlrun-" + String(token.map { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) ? $0 : "-" })
    }

    /// Checks the engine and the task's images, once per run.
    public func prepare(run: RunContext) async throws(RunFailure) {
        let client = try self.client.get()
        let engineKind: EngineKind
        do {
            try await client.ping()
            let version = try await client.version()
            engineKind = version.isPodman ? .podman : version.isDesktop ? .dockerDesktop : .dockerEngine
        } catch {
            throw RunFailure("no Docker Engine API answers at \(client.endpoint)", cause: "\(error)")
        }
        try await DockerImages.ensure(run.taskDefinition, client: client)
        var directory = run.layout.directory
        if !directory.hasPrefix("/") { directory = FileManager.default.currentDirectoryPath + "/" + directory }
        let ready = Prepared(run: run, engineKind: engineKind, directory: directory)
        prepared.withLock { $0 = ready }
    }

    func engine() throws(RunFailure) -> DockerClient { try client.get() }

    /// Whether the prepared engine is podman's service.
    var isPodman: Bool { prepared.withLock { $0?.isPodman ?? false } }

    func context() throws(RunFailure) -> (DockerClient, Prepared) {
        let client = try engine()
        guard let p = prepared.withLock({ $0 }) else { throw RunFailure("the docker backend was not prepared") }
        return (client, p)
    }

    public func locations(run: RunContext, batch: String, attempt: Int) -> TaskLocations {
        Self.locations(batch: batch, attempt: attempt)
    }

    /// The file on this machine behind a location inside the container.
    func hostPath(_ location: String) throws(RunFailure) -> String {
        let (_, p) = try context()
        guard location.hasPrefix(DockerTaskSpec.mountPoint + "/") else {
            throw RunFailure("\(location) is not under \(DockerTaskSpec.mountPoint)")
        }
        return p.directory + location.dropFirst(DockerTaskSpec.mountPoint.count)
    }

    /// Writes the batch where the crawler's mount shows it; a batch with URLs on this machine's
    /// loopback gets the browser's resolver rules for the host-loopback alias (`HostLoopback`).
    public func putBatch(_ bytes: [UInt8], at location: String) async throws(RunFailure) {
        let path = try hostPath(location)
        var out = bytes
        if let batch = try? JSONDecoder().decode(BatchFile.self, from: Data(bytes)), HostLoopback.isNeeded(by: batch) {
            let mapped = try await hostLoopback().applied(to: batch)
            do {
                out = [UInt8](try JSONEncoder().encode(mapped))
            } catch {
                throw RunFailure("cannot encode batch \(batch.batch)", cause: "\(error)")
            }
        }
        if FileManager.default.contents(atPath: path).map({ [UInt8]($0) == out }) == true { return }
        try RunStore.writeAtomically(path: path, out)
    }

    public func readResults(at location: String) async throws(RunFailure) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: try hostPath(location)) else { return nil }
        return [UInt8](data)
    }

    public func recordsWritten(task: String, out: String) async -> Int? {
        guard let path = try? hostPath(out) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { return 0 }
        return data.reduce(0) { $1 == 10 ? $0 + 1 : $0 }
    }

    public func launch(_ launch: TaskLaunch) async throws(LaunchError) -> String {
        let client: DockerClient
        let p: Prepared
        do {
            (client, p) = try context()
        } catch {
            throw .fatal(error)
        }
        let id = Self.taskID(token: launch.token)
        if tasks[id] != nil { return id }
        let spec: DockerTaskSpec
        do throws(RunFailure) {
            let batchPath = try hostPath(launch.locations.batch)
            guard let data = FileManager.default.contents(atPath: batchPath),
                let batch = try? JSONDecoder().decode(BatchFile.self, from: data)
            else { throw RunFailure("cannot read the batch file \(batchPath)") }
            let loopback = HostLoopback.isNeeded(by: batch) ? try await hostLoopback() : nil
            spec = try DockerTaskSpec(
                .init(
                    launch: launch, task: id, job: p.run.job.name, runDirectory: p.directory,
                    loopback: loopback,
                    isPodman: p.isPodman, user: "\(getuid()):\(getgid())", healthTimeout: settings.healthTimeout))
            if loopback != nil {
                try await ensureRelays(HostLoopback.ports(of: batch), run: p.run, crawlerImage: spec.crawler.image)
            }
        } catch {
            throw .fatal(error)
        }
        let sidecar: String
        do {
            sidecar = try await client.createContainer(spec.sidecar)
        } catch let error as DockerError where error.code == .conflict {
            // This launch was made before (same token): take over what it started.
            let found = await adoptExisting(
                id, client: client, isPodman: p.isPodman, stopTimeout: spec.crawlerStopTimeout,
                logDirectory: launch.logDirectory)
            guard found else { throw .retryLater("\(error)") }
            return id
        } catch {
            throw Self.launchError(error, image: spec.sidecar.image)
        }
        do {
            try await client.startContainer(sidecar)
        } catch {
            try? await client.removeContainer(sidecar)
            throw Self.launchError(error, image: spec.sidecar.image)
        }
        let task = DockerTask(
            id: id, client: client, isPodman: p.isPodman, logDirectory: launch.logDirectory, onChange: tasks.announce)
        tasks.insert(task, as: id)
        task.begin(.fresh(spec, sidecar: sidecar))
        return id
    }

    /// Transient engine trouble is tried again with the same token; an image the engine does not
    /// have ends the run with the way to build it; anything else spends an attempt.
    static func launchError(_ error: any Error, image: String) -> LaunchError {
        guard let error = error as? DockerError else { return .failedToStart("\(error)") }
        switch error.code {
        case .unreachable, .timeout, .server:
            return .retryLater("\(error)")
        case .notFound where error.message.lowercased().contains("image"):
            return .fatal(
                RunFailure(
                    "the \(TaskDefinition.sidecarName) image \(image) is not on the Docker engine (\(error.message))",
                    cause: DockerImages.howToGet(image, container: TaskDefinition.sidecarName)))
        default:
            return .failedToStart("\(error)")
        }
    }

    public func observe(_ ids: [String]) async -> [String: TaskPhase] { tasks.observe(ids) }

    public func changed() async { await tasks.changed() }

    public func stop(task id: String, reason: String) async throws(RunFailure) { tasks.stop(id, reason: reason) }

    /// A task found stopped on `reattach` is collected in the background: its logs are whole
    /// and its containers gone once this returns.
    public func collectLogs(task id: String, into directory: String) async throws(RunFailure) {
        guard let task = tasks[id] else { return }
        _ = await task.ended()
        tasks.remove(id)
    }

    /// Stops whatever still runs, waits for it, and removes any container of the run still on
    /// the engine (a launch cut short, a task found stopped and never collected, the loopback
    /// relays), then the run's network.
    public func shutdown() async {
        await tasks.shutdown(reason: "crawlrun is stopping")
        guard let (client, p) = try? context() else { return }
        _ = try? await client.removeContainers(labels: [DockerLabels.run(p.run.id)])
        _ = try? await client.removeNetworks(labels: [DockerLabels.run(p.run.id)])
        loopbackState.withLock { $0 = LoopbackState() }
    }
}
