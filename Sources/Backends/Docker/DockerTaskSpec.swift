import Coordinator
import CrawlKit
import JSONKit

/// One task of the plan as two containers: the task definition's sidecar and crawler, read from
/// the very JSON that Fargate registers, with the RunTask overrides' environment on top.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html
///
/// What a Fargate task has and containers do not is mapped here, and only here:
/// - **awsvpc's shared localhost**: the crawler joins the sidecar's network namespace
///   (`NetworkMode: container:<id>`, set when the crawler is created).
/// - **task-level cpu and memory** (Docker limits containers, not groups of them): each
///   container may use the task's whole CPU (the crawler idles at about 1 % of a core, so the
///   browser gets what Fargate would give it); memory is split so that the two limits add up to
///   the task's: the crawler gets `crawlerMemory` (about four times its peak, README "Benchmark"),
///   the sidecar the rest, so a browser that outgrows the task is killed as it would be on Fargate.
/// - **the health check** runs as the task definition says (`healthCheck.command` inside the
///   sidecar); CrawlRun drives it (podman runs none by itself) until healthy or
///   `startPeriod + retries × interval` (or `docker.healthTimeout`).
struct DockerTaskSpec: Sendable {
    var sidecar: ContainerSpec
    /// Without its network mode: the sidecar's id is known once it exists.
    var crawler: ContainerSpec
    var healthTimeout: Duration
    /// Each container's `stopTimeout` (seconds between SIGTERM and SIGKILL).
    var sidecarStopTimeout: Int
    var crawlerStopTimeout: Int

    /// The crawler's share of the task's memory limit, in MiB.
    static let crawlerMemory = 128
    /// Where the run directory's `batches/` and `results/` appear inside the crawler.
    static let mountPoint = "/crawlrun"

    struct Inputs: Sendable {
        var launch: TaskLaunch
        var task: String
        var job: String
        /// The run directory on this machine.
        var runDirectory: String
        /// Set when the batch needs the host's loopback (`HostLoopback`).
        var loopback: HostLoopback?
        var isPodman: Bool
        /// `uid:gid` the crawler runs as, so that what it writes into the run directory is the
        /// user's.
        var user: String
        var healthTimeout: Double?
    }

    init(_ input: Inputs) throws(RunFailure) {
        let definition = input.launch.taskDefinition
        func container(_ name: String) throws(RunFailure) -> JSONValue {
            guard
                let found = definition["containerDefinitions"]?.arrayValue?.first(where: {
                    $0["name"]?.stringValue == name
                }),
                found["image"]?.stringValue != nil
            else { throw RunFailure("the task definition has no container \"\(name)\" with an image") }
            return found
        }
        let sidecarName = TaskDefinition.sidecarName
        let crawlerName = TaskDefinition.crawlerName
        let sidecarDef = try container(sidecarName)
        let crawlerDef = try container(crawlerName)
        let cpu = Int(definition["cpu"]?.stringValue ?? "") ?? definition["cpu"]?.intValue ?? 1024
        let memory = Int(definition["memory"]?.stringValue ?? "") ?? definition["memory"]?.intValue ?? 2048

        func base(_ def: JSONValue, _ name: String) -> ContainerSpec {
            var spec = ContainerSpec(image: def["image"]?.stringValue ?? "")
            spec.name = input.task + "-" + name
            spec.environment = TaskDefinition.environment(
                of: name, in: definition, overrides: input.launch.overrides)
            spec.labels = DockerLabels.of(
                run: input.launch.run, job: input.job, task: input.task, batch: input.launch.batch,
                attempt: input.launch.attempt, container: name)
            spec.stopTimeout = def["stopTimeout"]?.intValue
            spec.host.initProcess = def["linuxParameters"]?["initProcessEnabled"]?.boolValue ?? false
            spec.host.nanoCPUs = HostSettings.nanoCPUs(ecsCPUUnits: cpu)
            return spec
        }

        sidecar = base(sidecarDef, sidecarName)
        sidecar.host.memoryBytes = HostSettings.memoryBytes(mebibytes: max(64, memory - Self.crawlerMemory))
        if let loopback = input.loopback {
            if input.isPodman {
                sidecar.host.networkMode = .slirp4netns(allowHostLoopback: true)
            } else if let network = loopback.network {
                sidecar.host.networkMode = .named(network)  // Docker Engine: the run's network and relays
            } else {
                sidecar.host.extraHosts = ["\(loopback.alias):host-gateway"]  // Docker Desktop
            }
        }
        let check = sidecarDef["healthCheck"]
        var interval = 30
        var retries = 3
        var startPeriod = 0
        if let check, let command = check["command"]?.arrayValue?.compactMap(\.stringValue), !command.isEmpty {
            // ECS's defaults: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html
            interval = check["interval"]?.intValue ?? 30
            retries = check["retries"]?.intValue ?? 3
            startPeriod = check["startPeriod"]?.intValue ?? 0
            sidecar.healthCheck = HealthCheck(
                test: command, interval: .seconds(interval), timeout: .seconds(check["timeout"]?.intValue ?? 5),
                retries: retries, startPeriod: .seconds(startPeriod))
        }
        healthTimeout = .milliseconds(Int64((input.healthTimeout ?? Double(startPeriod + retries * interval)) * 1000))
        sidecarStopTimeout = sidecar.stopTimeout ?? 30
        if sidecar.healthCheck == nil {
            throw RunFailure(
                "the task definition's \(sidecarName) container has no healthCheck",
                cause: "the crawler starts once the sidecar is HEALTHY (dependsOn)")
        }

        crawler = base(crawlerDef, crawlerName)
        crawler.host.memoryBytes = HostSettings.memoryBytes(mebibytes: Self.crawlerMemory)
        crawler.user = input.user
        crawler.host.binds = [
            Bind(
                source: input.runDirectory + "/" + RunLayout.batches, target: Self.mountPoint + "/" + RunLayout.batches,
                readOnly: true),
            Bind(
                source: input.runDirectory + "/" + RunLayout.attemptResults,
                target: Self.mountPoint + "/" + RunLayout.attemptResults),
        ]
        crawlerStopTimeout = crawler.stopTimeout ?? 30
    }
}

/// The labels every container of a run carries: `resume`, `stop` and the clean-up find a run's
/// containers by them (`GET /containers/json?filters={"label": …}`).
public enum DockerLabels {
    public static let run = "org.crawlrun.run"
    public static let job = "org.crawlrun.job"
    public static let task = "org.crawlrun.task"
    public static let batch = "org.crawlrun.batch"
    public static let attempt = "org.crawlrun.attempt"
    /// The task definition's container name: `webdriver` or `crawler`.
    public static let container = "org.crawlrun.container"

    static func of(
        run: String, job: String, task: String, batch: String, attempt: Int, container: String
    ) -> [String: String] {
        [
            Self.run: run, Self.job: job, Self.task: task, Self.batch: batch, Self.attempt: String(attempt),
            Self.container: container,
        ]
    }

    /// The filter for one run's containers.
    public static func run(_ id: String) -> String { "\(run)=\(id)" }
    static func task(_ id: String) -> String { "\(task)=\(id)" }
}
