import JSONKit

/// What `createContainer` sends: the subset of the create body a task needs.
/// https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Container/operation/ContainerCreate
public struct ContainerSpec: Sendable {
    public var image: String
    /// The container's name (`?name=`); the engine makes one up when nil.
    public var name: String?
    /// `Cmd`: the image's CMD when nil.
    public var command: [String]?
    /// `Entrypoint`: the image's ENTRYPOINT when nil.
    public var entrypoint: [String]?
    public var environment: [String: String] = [:]
    public var labels: [String: String] = [:]
    /// `user`, `uid` or `uid:gid`: the image's USER when nil.
    public var user: String?
    /// Seconds between SIGTERM and SIGKILL when the container is stopped without a `t`.
    public var stopTimeout: Int?
    public var healthCheck: HealthCheck?
    public var host = HostSettings()

    public init(image: String) { self.image = image }

    /// The body; `Tty` false so that logs come as Docker's multiplexed frames (stdout and stderr
    /// apart), which `LogDemuxer` reads.
    func body() throws -> JSONValue {
        var config: [String: JSONValue] = [
            "Image": .string(image), "Tty": false, "AttachStdout": true, "AttachStderr": true,
            "Env": .array(environment.sorted { $0.key < $1.key }.map { .string("\($0.key)=\($0.value)") }),
            "Labels": .object(labels.mapValues { .string($0) }),
        ]
        if let command { config["Cmd"] = .array(command.map { .string($0) }) }
        if let entrypoint { config["Entrypoint"] = .array(entrypoint.map { .string($0) }) }
        if let user { config["User"] = .string(user) }
        if let stopTimeout { config["StopTimeout"] = .number(Double(stopTimeout)) }
        if let healthCheck { config["Healthcheck"] = healthCheck.json }
        config["HostConfig"] = try host.json()
        return .object(config)
    }
}

/// `HostConfig`: init process, network, limits, bind mounts.
public struct HostSettings: Sendable {
    /// `Init`: an init process as PID 1 that forwards signals and reaps orphans. Without it
    /// chromedriver as PID 1 ignores SIGTERM and leaves zombie browsers (DOCKER-NOTES).
    public var initProcess = false
    public var networkMode: NetworkMode?
    /// `NanoCpus`: CPU quota in units of 10⁻⁹ CPUs.
    public var nanoCPUs: Int64?
    /// `Memory`, a hard limit in bytes; swap is held to the same figure (no swap), as on Fargate.
    public var memoryBytes: Int64?
    public var binds: [Bind] = []
    /// `ExtraHosts`: `name:address` lines added to the container's /etc/hosts; Docker resolves
    /// the address `host-gateway` to the host's bridge address.
    public var extraHosts: [String] = []
    /// `CapDrop` and `CapAdd`: the Linux capabilities taken from and given to the container.
    public var capDrop: [String] = []
    public var capAdd: [String] = []

    public init() {}

    /// ECS CPU units (1024 per vCPU) as `NanoCpus`.
    public static func nanoCPUs(ecsCPUUnits units: Int) -> Int64 { Int64(units) * 1_000_000_000 / 1024 }
    /// MiB (ECS task memory) as bytes.
    public static func memoryBytes(mebibytes: Int) -> Int64 { Int64(mebibytes) * 1024 * 1024 }

    func json() throws -> JSONValue {
        var host: [String: JSONValue] = ["Init": .bool(initProcess)]
        if let networkMode { host["NetworkMode"] = .string(networkMode.rawValue) }
        if let nanoCPUs { host["NanoCpus"] = .number(Double(nanoCPUs)) }
        if let memoryBytes {
            host["Memory"] = .number(Double(memoryBytes))
            host["MemorySwap"] = .number(Double(memoryBytes))
        }
        if !binds.isEmpty { host["Binds"] = .array(try binds.map { .string(try $0.spec()) }) }
        if !extraHosts.isEmpty { host["ExtraHosts"] = .array(extraHosts.map { .string($0) }) }
        if !capDrop.isEmpty { host["CapDrop"] = .array(capDrop.map { .string($0) }) }
        if !capAdd.isEmpty { host["CapAdd"] = .array(capAdd.map { .string($0) }) }
        return .object(host)
    }
}

/// A host directory or file mounted into the container (`Binds`: `source:target[:ro]`).
public struct Bind: Sendable, Equatable {
    public var source: String
    public var target: String
    public var readOnly: Bool

    public init(source: String, target: String, readOnly: Bool = false) {
        self.source = source
        self.target = target
        self.readOnly = readOnly
    }

    /// A relative source would name a volume instead of a directory, and a `:` would split the
    /// spec in the wrong place: both are refused before anything is sent.
    func spec() throws -> String {
        for (what, path) in [("source", source), ("target", target)] where !path.hasPrefix("/") || path.contains(":") {
            throw DockerError(
                code: .badRequest, operation: "create container",
                message: "bind mount \(what) \"\(path)\" must be an absolute path without \":\"")
        }
        return "\(source):\(target)" + (readOnly ? ":ro" : "")
    }
}

/// `HostConfig.NetworkMode`. A task never uses the host network: it must not share the machine's
/// localhost (every chromedriver would fight for one 4444, and pages meant for loopback would be
/// reachable from everything). Only the loopback relay (`crawler relay`, Docker Engine) is put
/// there, to listen on the run network's gateway and dial 127.0.0.1.
public enum NetworkMode: Sendable, Equatable {
    /// Loopback only.
    case none
    /// Join another container's network namespace: its localhost is this container's.
    case container(String)
    /// podman's user-mode network; with `allowHostLoopback` the host's 127.0.0.1 is reachable
    /// inside as 10.0.2.2 (and nothing else of the host's loopback is).
    case slirp4netns(allowHostLoopback: Bool)
    /// A network by name (`bridge`, a user-defined network).
    case named(String)
    /// The host's network namespace: the loopback relay only.
    case host

    public var rawValue: String {
        switch self {
        case .none: return "none"
        case .container(let id): return "container:" + id
        case .slirp4netns(let loopback): return loopback ? "slirp4netns:allow_host_loopback=true" : "slirp4netns"
        case .named(let name): return name
        case .host: return "host"
        }
    }
}

/// `Healthcheck`, as ECS's container health check: durations go to the engine in nanoseconds.
public struct HealthCheck: Sendable, Equatable {
    /// `["CMD-SHELL", "…"]` or `["CMD", "arg", …]`, as in a task definition.
    public var test: [String]
    public var interval: Duration
    public var timeout: Duration
    public var retries: Int
    public var startPeriod: Duration

    public init(test: [String], interval: Duration, timeout: Duration, retries: Int, startPeriod: Duration) {
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.startPeriod = startPeriod
    }

    var json: JSONValue {
        func ns(_ d: Duration) -> JSONValue {
            let (s, atto) = d.components
            return .number(Double(s) * 1e9 + Double(atto / 1_000_000_000))
        }
        return [
            "Test": .array(test.map { .string($0) }), "Interval": ns(interval), "Timeout": ns(timeout),
            "Retries": .number(Double(retries)), "StartPeriod": ns(startPeriod),
        ]
    }
}
