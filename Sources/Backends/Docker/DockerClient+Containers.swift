import JSONKit

/// Containers: create, start, wait, signal, stop, remove, list, inspect.
/// https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Container
extension DockerClient {
    /// `POST /containers/create`; returns the new container's id. A spec with a relative or
    /// `:`-holding bind path is refused before anything is sent.
    public func createContainer(_ spec: ContainerSpec) async throws -> String {
        let operation = "create container from \(spec.image)"
        let body: JSONValue
        do {
            body = try spec.body()
        } catch var error as DockerError {
            error.operation = operation
            throw error
        }
        let query = spec.name.map { [("name", $0)] } ?? []
        let v = try await json(operation, request("POST", "/containers/create", query: query, body: body))
        guard let id = v["Id"]?.stringValue else {
            throw DockerError(code: .invalidResponse, operation: operation, message: "no Id in the answer")
        }
        return id
    }

    /// `POST /containers/{id}/start`; a container already running (304) is not an error.
    public func startContainer(_ id: String) async throws {
        _ = try await call("start container \(id)", request("POST", "/containers/\(id)/start"), expect: [204, 304])
    }

    /// `POST /containers/{id}/wait`: blocks until the container is not running and returns its
    /// exit code. Call it after `startContainer` (a created container is "not running" already).
    /// The transfer runs on a dedicated thread, never the cooperative pool; cancelling the task
    /// abandons the wait (the container runs on). `timeout` bounds the wait (`.timeout` error).
    public func waitContainer(_ id: String, timeout: Duration? = nil) async throws -> Int {
        let operation = "wait for container \(id)"
        let v = try await json(operation, request("POST", "/containers/\(id)/wait", timeout: timeout ?? Self.unbounded))
        if let message = v["Error"]?["Message"]?.stringValue, !message.isEmpty {
            throw DockerError(code: .server, operation: operation, message: message)
        }
        guard let code = v["StatusCode"]?.intValue else {
            throw DockerError(code: .invalidResponse, operation: operation, message: "no StatusCode in the answer")
        }
        return code
    }

    /// podman's own wait (`POST /v4.3.1/libpod/containers/{id}/wait?condition=…&interval=…`):
    /// the same answer as `waitContainer`, checked every `interval`. podman 4.3's Docker-API wait
    /// keeps one of its service's threads busy for as long as it waits (about 75 % of a core,
    /// measured), which on a small machine slows the very browsers being waited on; this one costs
    /// nothing measurable at 250 ms. Nil when the engine has no such endpoint (Docker, whose own
    /// `waitContainer` is cheap).
    public func waitContainerPolling(
        _ id: String, every interval: Duration, timeout: Duration? = nil
    ) async throws
        -> Int?
    {
        let operation = "wait for container \(id)"
        let milliseconds = interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
        let query = [("condition", "stopped"), ("condition", "exited"), ("interval", "\(milliseconds)ms")]
        let response = try await call(
            operation,
            request(
                "POST", "/v4.3.1/libpod/containers/\(id)/wait", query: query, versioned: false,
                timeout: timeout ?? Self.unbounded),
            expect: [200, 404])
        let v = try? JSONValue.decode(response.body)
        if response.status == 404 {
            // Docker: "page not found" for a route it does not have.
            if (v?["message"]?.stringValue ?? "").contains("page not found") { return nil }
            throw DockerError.from(response, operation: operation)
        }
        guard let code = v?.intValue else {
            throw DockerError(code: .invalidResponse, operation: operation, message: "no exit code in the answer")
        }
        return code
    }

    /// `POST /containers/{id}/kill?signal=…`. A container that is not running throws `.notRunning`.
    public func killContainer(_ id: String, signal: String = "SIGKILL") async throws {
        _ = try await call(
            "send \(signal) to container \(id)", request("POST", "/containers/\(id)/kill", query: [("signal", signal)]),
            expect: [204])
    }

    /// `POST /containers/{id}/stop`: SIGTERM (the image's stop signal), then SIGKILL after
    /// `timeout` seconds, or after the container's `StopTimeout` when nil. A container already
    /// stopped (304) is not an error.
    public func stopContainer(_ id: String, timeout: Int? = nil) async throws {
        let query = timeout.map { [("t", String($0))] } ?? []
        // The engine answers once the container is gone: allow the grace period and then some.
        let deadline = Duration.seconds((timeout ?? 120) + 30)
        _ = try await call(
            "stop container \(id)", request("POST", "/containers/\(id)/stop", query: query, timeout: deadline),
            expect: [204, 304])
    }

    /// `DELETE /containers/{id}`; with `force` a running container is killed first. Anonymous
    /// volumes go with it (`v=1`). A container that does not exist throws `.notFound`.
    public func removeContainer(_ id: String, force: Bool = true) async throws {
        let query = [("force", force ? "1" : "0"), ("v", "1")]
        _ = try await call(
            "remove container \(id)", request("DELETE", "/containers/\(id)", query: query, timeout: .seconds(120)),
            expect: [204])
    }

    /// Removes (with force) every container carrying all the given labels: a run's leftovers.
    /// A container whose network namespace another one joined can only go after it (podman
    /// refuses with "dependent containers"), so refusals are tried again while others go. Every
    /// failure is reported together; returns the ids removed.
    @discardableResult
    public func removeContainers(labels: [String]) async throws -> [String] {
        var left = try await listContainers(labels: labels).map(\.id)
        var removed: [String] = []
        var failures: [DockerError] = []
        while !left.isEmpty {
            failures = []
            var refused: [String] = []
            for id in left {
                do {
                    try await removeContainer(id, force: true)
                    removed.append(id)
                } catch let error as DockerError where error.code == .notFound {
                    continue  // gone meanwhile
                } catch let error as DockerError where error.code == .conflict {
                    refused.append(id)
                    failures.append(error)
                } catch let error as DockerError {
                    failures.append(error)
                }
            }
            // No progress: what is left will not go by trying again.
            if refused.count == left.count { break }
            left = refused
        }
        guard failures.isEmpty else {
            throw DockerError(
                code: failures[0].code, operation: "remove containers labelled \(labels.joined(separator: ", "))",
                message: failures.map(\.message).joined(separator: "; "), status: failures[0].status)
        }
        return removed
    }

    /// `GET /containers/json?all=1&filters={"label":[…]}`: every container, running or not, that
    /// carries all the given labels (each `key` or `key=value`).
    public func listContainers(labels: [String], all: Bool = true) async throws -> [ContainerSummary] {
        let filters = JSONValue.object(["label": .array(labels.map { .string($0) })])
        let query = [("all", all ? "1" : "0"), ("filters", String(decoding: filters.encoded(), as: UTF8.self))]
        let v = try await json("list containers", request("GET", "/containers/json", query: query))
        return (v.arrayValue ?? []).compactMap { c in
            guard let id = c["Id"]?.stringValue else { return nil }
            return ContainerSummary(
                id: id, names: c["Names"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                image: c["Image"]?.stringValue ?? "", state: c["State"]?.stringValue ?? "",
                labels: c["Labels"]?.objectValue?.compactMapValues(\.stringValue) ?? [:])
        }
    }

    /// `GET /containers/{id}/json`. A container that does not exist throws `.notFound`.
    public func inspectContainer(_ id: String) async throws -> ContainerInfo {
        let operation = "inspect container \(id)"
        let v = try await json(operation, request("GET", "/containers/\(id)/json"))
        guard let fullID = v["Id"]?.stringValue, let s = v["State"] else {
            throw DockerError(code: .invalidResponse, operation: operation, message: "no Id or State in the answer")
        }
        let state = ContainerState(
            status: s["Status"]?.stringValue ?? "", running: s["Running"]?.boolValue ?? false,
            exitCode: s["ExitCode"]?.intValue ?? 0, oomKilled: s["OOMKilled"]?.boolValue ?? false,
            error: s["Error"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
            startedAt: s["StartedAt"]?.stringValue.flatMap(RFC3339.parse),
            finishedAt: s["FinishedAt"]?.stringValue.flatMap(RFC3339.parse),
            health: s["Health"]?["Status"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
        return ContainerInfo(
            id: fullID, name: String((v["Name"]?.stringValue ?? "").drop { $0 == "/" }),
            image: v["Config"]?["Image"]?.stringValue ?? "",
            labels: v["Config"]?["Labels"]?.objectValue?.compactMapValues(\.stringValue) ?? [:], state: state)
    }
}
