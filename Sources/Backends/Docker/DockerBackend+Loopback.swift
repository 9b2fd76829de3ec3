import Coordinator
import CrawlKit
import LoopbackRelay

/// The way to the host's loopback on each engine (`HostLoopback`), and on Docker Engine the run's
/// own network and relays:
///
/// - the network `crawlrun-<run>-loopback`, an **internal** bridge (Docker drops whatever would be
///   forwarded beyond it: a task on it reaches this machine and nothing else), labelled with the
///   run; its gateway is the host's address on it and the browser's alias for 127.0.0.1;
/// - one relay container per loopback port the run's URLs name (`crawlrun-<run>-relay-<port>`, the
///   crawler image's `crawler relay`, on the host's network namespace): it listens on the gateway
///   address and that port only, takes connections from the network's subnet only (the run's
///   sidecars; anything else is refused and logged) and forwards each to 127.0.0.1 on that port.
///
/// Both carry the run's labels, so they live as long as the run's tasks (through a crawlrun that
/// was killed, until `resume` or `stop`) and go with them: `shutdown` removes the run's containers,
/// relays included, then its networks.
extension DockerBackend {
    struct LoopbackState: Sendable {
        /// The run network's making, shared by every launch (two creates at once would make two
        /// networks of one name: the engine checks names only loosely).
        var network: Task<NetworkInfo, any Error>?
        /// Each port's relay start, shared by the launches that need it (the first makes it, the
        /// others await it); a failed one is forgotten so that a later launch tries again.
        var relays: [UInt16: Task<Void, any Error>] = [:]
    }

    static func networkName(run: String) -> String { taskID(token: run) + "-loopback" }
    static func relayName(run: String, port: UInt16) -> String { taskID(token: run) + "-relay-\(port)" }

    /// The alias for this engine; on Docker Engine the run's network, made the first time.
    func hostLoopback() async throws(RunFailure) -> HostLoopback {
        let (client, p) = try context()
        switch p.engineKind {
        case .podman: return .podman
        case .dockerDesktop: return .desktop
        case .dockerEngine:
            let network = try await runNetwork(client, p.run)
            guard let gateway = network.gateway else {
                throw RunFailure("the run's network \(network.name) has no gateway address on the Docker engine")
            }
            // By id: a name could be ambiguous on the engine.
            return HostLoopback(alias: gateway, network: network.id)
        }
    }

    private func runNetwork(_ client: DockerClient, _ run: RunContext) async throws(RunFailure) -> NetworkInfo {
        let name = Self.networkName(run: run.id)
        let making = loopbackState.withLock { state in
            if let making = state.network { return making }
            let labels = [DockerLabels.run: run.id, DockerLabels.job: run.job.name]
            let task = Task {
                do {
                    return try await client.createNetwork(name, labels: labels, internal: true)
                } catch let error as DockerError where error.code == .conflict {
                    return try await client.inspectNetwork(name)  // made by an earlier crawlrun of the run
                }
            }
            state.network = task
            return task
        }
        do {
            return try await making.value
        } catch {
            loopbackState.withLock { $0.network = nil }
            throw RunFailure("cannot make the run's network \(name) on the Docker engine", cause: "\(error)")
        }
    }

    /// Starts a relay for each of `ports` that has none yet and waits until it listens.
    func ensureRelays(_ ports: [UInt16], run: RunContext, crawlerImage: String) async throws(RunFailure) {
        let (client, p) = try context()
        guard p.engineKind == .dockerEngine else { return }
        let network = try await runNetwork(client, run)
        guard let gateway = network.gateway.flatMap(IPv4.parse), let subnet = IPv4Range(network.subnet) else {
            throw RunFailure("the run's network \(network.name) has no IPv4 gateway and subnet (\(network.subnet))")
        }
        for port in ports {
            let start = loopbackState.withLock { state in
                if let running = state.relays[port] { return running }
                let spec = relaySpec(port: port, run: run, image: crawlerImage, gateway: gateway, subnet: subnet)
                let task = Task { try await self.startRelay(spec, client: client) }
                state.relays[port] = task
                return task
            }
            do {
                try await start.value
            } catch {
                loopbackState.withLock { $0.relays[port] = nil }
                if let failure = error as? RunFailure { throw failure }
                throw RunFailure("cannot start the relay to 127.0.0.1:\(port) on the Docker engine", cause: "\(error)")
            }
        }
    }

    private func relaySpec(
        port: UInt16, run: RunContext, image: String, gateway: UInt32, subnet: IPv4Range
    ) -> ContainerSpec {
        var spec = ContainerSpec(image: image)
        spec.name = Self.relayName(run: run.id, port: port)
        spec.command = ["relay"] + RelaySettings(listen: gateway, allowed: subnet, ports: [port]).arguments
        spec.labels = [
            DockerLabels.run: run.id, DockerLabels.job: run.job.name, DockerLabels.container: Self.relayContainer,
        ]
        // Root for ports below 1024, with no capability but binding them.
        spec.user = "0:0"
        spec.host.capDrop = ["ALL"]
        spec.host.capAdd = ["NET_BIND_SERVICE"]
        spec.host.networkMode = .host
        spec.host.initProcess = true
        spec.host.memoryBytes = HostSettings.memoryBytes(mebibytes: 64)
        return spec
    }

    /// Creates and starts the relay (or starts the one an earlier crawlrun of the run made) and
    /// waits until it listens.
    private func startRelay(_ spec: ContainerSpec, client: DockerClient) async throws {
        let id: String
        do {
            id = try await client.createContainer(spec)
        } catch let error as DockerError where error.code == .conflict {
            id = spec.name ?? ""
        }
        try await client.startContainer(id)
        try await awaitListening(id, client: client)
    }

    /// The label value of a relay container (beside `webdriver` and `crawler`).
    static let relayContainer = "relay"

    /// Waits for the relay's "relay: …" line (it has bound its port); one that exits first fails
    /// the launch with what it said.
    private func awaitListening(_ id: String, client: DockerClient) async throws {
        let giveUp = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < giveUp {
            var lines: [String] = []
            for try await line in client.logs(id, follow: false, timestamps: false) { lines.append(line.text) }
            if lines.contains(where: { $0.hasPrefix("relay: ") && !$0.contains("refused") }) { return }
            let info = try await client.inspectContainer(id)
            if !info.state.running {
                throw RunFailure(
                    "the relay to the host's loopback exited (\(info.state.exitCode))",
                    cause: lines.joined(separator: "\n"))
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RunFailure("the relay to the host's loopback did not start listening within 15 s")
    }
}

/// Which engine answers, for what differs between them (health checks, waits, the host's loopback).
enum EngineKind: Sendable, Equatable {
    case podman, dockerEngine, dockerDesktop
}
