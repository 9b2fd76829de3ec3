import JSONKit

/// Commands run inside a container, and health checks.
/// https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Exec
extension DockerClient {
    /// Runs `command` in the running container `id` and returns its exit code and output:
    /// `POST /containers/{id}/exec`, `POST /exec/{id}/start` (its answer streams the output and
    /// ends when the command does), `GET /exec/{id}/json` for the exit code. A command still
    /// running after `timeout` throws `.timeout` (the engine lets it run on). podman keeps a
    /// conmon process per exec for a few minutes: prefer `runHealthCheck` for frequent checks.
    public func exec(_ id: String, command: [String], timeout: Duration = .seconds(30)) async throws -> ExecResult {
        let operation = "exec in container \(id)"
        let created = try await json(
            operation,
            request(
                "POST", "/containers/\(id)/exec",
                body: ["Cmd": .array(command.map { .string($0) }), "AttachStdout": true, "AttachStderr": true]))
        guard let execID = created["Id"]?.stringValue else {
            throw DockerError(code: .invalidResponse, operation: operation, message: "no exec Id in the answer")
        }
        let start = request(
            "POST", "/exec/\(execID)/start", body: ["Detach": false, "Tty": false], timeout: timeout)
        var result = ExecResult(exitCode: -1, stdout: "", stderr: "")
        for try await line in stream(operation, start, timestamps: false) {
            switch line.stream {
            case .stdout: result.stdout += line.text + "\n"
            case .stderr: result.stderr += line.text + "\n"
            }
        }
        let inspected = try await json(operation, request("GET", "/exec/\(execID)/json"))
        guard let code = inspected["ExitCode"]?.intValue, inspected["Running"]?.boolValue != true else {
            throw DockerError(code: .invalidResponse, operation: operation, message: "the command has no exit code yet")
        }
        result.exitCode = code
        return result
    }

    /// Runs the container's own health check once, through podman's libpod API
    /// (`GET /v4.3.1/libpod/containers/{id}/healthcheck`, about 0.1 s). podman's service does not
    /// run health checks by itself without systemd, so the caller runs them on its schedule.
    /// Nil when the engine has no such endpoint (Docker, which runs checks itself: read
    /// `inspectContainer(id).state.health`). A container without a health check throws `.conflict`.
    public func runHealthCheck(_ id: String) async throws -> HealthStatus? {
        let operation = "run the health check of container \(id)"
        let response = try await call(
            operation, request("GET", "/v4.3.1/libpod/containers/\(id)/healthcheck", versioned: false),
            expect: [200, 400, 404])
        let v = try? JSONValue.decode(response.body)
        switch response.status {
        case 200:
            guard let status = v?["Status"]?.stringValue.flatMap(HealthStatus.init(rawValue:)) else {
                throw DockerError(
                    code: .invalidResponse, operation: operation, message: "no health Status in the answer")
            }
            return status
        default:
            // Docker: 404 "page not found" for an unknown route, 400 for an API version it lacks.
            let message = v?["message"]?.stringValue ?? ""
            if response.status == 404 && !message.contains("page not found") {
                throw DockerError.from(response, operation: operation)
            }
            return nil
        }
    }
}

/// What `exec` returns. The output is read line by line: every line ends with a newline, the
/// last one too.
public struct ExecResult: Sendable, Equatable {
    public var exitCode: Int
    public var stdout: String
    public var stderr: String

    public init(exitCode: Int, stdout: String, stderr: String) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// A container's health as the engine reports it.
public enum HealthStatus: String, Sendable {
    case starting, healthy, unhealthy
}
