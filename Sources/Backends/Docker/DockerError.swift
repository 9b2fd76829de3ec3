import HTTP
import JSONKit

/// A Docker Engine API call that failed: what was being done, the engine's own message
/// ("No such image: …", "no container with name or ID …") and the HTTP status.
/// https://docs.docker.com/reference/api/engine/version/v1.41/ (errors are `{"message": …}`;
/// podman adds `cause` and `response`).
public struct DockerError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// 404: no such image, container or exec instance.
        case notFound = "not-found"
        /// 409: a name in use, a running container removed without force; podman's 500 for a
        /// container whose network namespace another container still uses.
        case conflict
        /// A signal to a container that is not running (Docker: 409; podman: 500 "container state improper").
        case notRunning = "not-running"
        /// 400, or a container spec refused before it was sent.
        case badRequest = "bad-request"
        /// An image pull whose stream reported an error (the HTTP status is 200 all the same).
        case pullFailed = "pull-failed"
        /// The engine did not answer within the call's deadline.
        case timeout
        /// No engine answers at the endpoint (no socket, refused, connection lost).
        case unreachable
        /// The answer is not what the API documents.
        case invalidResponse = "invalid-response"
        /// `DOCKER_HOST` names something this client cannot talk to.
        case invalidEndpoint = "invalid-endpoint"
        /// Any other error status (5xx).
        case server
    }

    public var code: Code
    /// What was being done: "create container", "inspect image localhost/crawlrun-crawler:dev".
    public var operation: String
    public var message: String
    public var status: Int?
    public var cause: (any Error & Sendable)?

    public init(
        code: Code, operation: String, message: String, status: Int? = nil, cause: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.operation = operation
        self.message = message
        self.status = status
        self.cause = cause
    }

    public var description: String {
        let status = status.map { " (HTTP \($0))" } ?? ""
        return "Docker Engine API: \(operation): \(message)\(status)"
    }

    /// An error status, with the engine's message from the body (`{"message": …}`, else its text).
    static func from(_ response: HTTPResponse, operation: String) -> DockerError {
        let body =
            (try? JSONValue.decode(response.body))?["message"]?.stringValue
            ?? String(decoding: response.body.prefix(500), as: UTF8.self).trimmingWhitespace().description
        let message = body.isEmpty ? "no message" : body
        let code: Code
        switch response.status {
        case 404: code = .notFound
        case 409 where message.contains("is not running"): code = .notRunning
        case 409: code = .conflict
        case 400: code = .badRequest
        case 500 where message.contains("container state improper"): code = .notRunning
        case 500 where message.contains("dependent containers"): code = .conflict
        default: code = .server
        }
        return DockerError(code: code, operation: operation, message: message, status: response.status)
    }

    /// A transport failure; cancellation stays a `CancellationError` so callers handle it as one.
    static func from(_ error: any Error, operation: String, endpoint: DockerEndpoint) -> any Error {
        guard let http = error as? HTTPError else { return error }
        switch http.code {
        case .cancelled:
            return CancellationError()
        case .timeout:
            return DockerError(
                code: .timeout, operation: operation, message: "no answer in time from \(endpoint)", cause: http)
        default:
            return DockerError(
                code: .unreachable, operation: operation,
                message: "cannot reach the Docker Engine API at \(endpoint) (\(http.message)): start Docker or "
                    + "podman's service (`podman system service`), or set DOCKER_HOST to where it listens",
                cause: http)
        }
    }
}
