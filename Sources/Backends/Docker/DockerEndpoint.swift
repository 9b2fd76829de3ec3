#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where the Docker Engine API listens, read from `DOCKER_HOST` as the docker CLI reads it
/// (https://docs.docker.com/reference/cli/docker/#environment-variables): `unix:///path`
/// (default `unix:///var/run/docker.sock`), or `tcp://host:port` for an engine that serves plain
/// HTTP. TLS (`DOCKER_TLS_VERIFY`) and `ssh://` are not supported: the message says so.
public struct DockerEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// The Unix socket to talk HTTP over, or nil for TCP.
    public let unixSocketPath: String?
    /// Scheme and authority of request URLs (`http://localhost` over a socket).
    public let baseURL: String
    /// The endpoint as written (`unix:///var/run/docker.sock`), for messages.
    public let description: String

    public static let defaultHost = "unix:///var/run/docker.sock"

    public static func unixSocket(_ path: String) throws -> DockerEndpoint {
        try DockerEndpoint(host: "unix://" + path)
    }

    /// `DOCKER_HOST` from `environment` (the process's by default); unset or empty is the default socket.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> DockerEndpoint {
        let host = environment["DOCKER_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultHost
        if host.hasPrefix("tcp://"), let verify = environment["DOCKER_TLS_VERIFY"], !verify.isEmpty, verify != "0" {
            throw invalid(host, "DOCKER_TLS_VERIFY is set, and TLS to the engine is not supported")
        }
        return try DockerEndpoint(host: host)
    }

    public init(host: String) throws {
        if host.hasPrefix("unix://") {
            let path = String(host.dropFirst("unix://".count))
            guard path.hasPrefix("/") else { throw Self.invalid(host, "the socket path must be absolute") }
            // sockaddr_un.sun_path holds 108 bytes with the terminating NUL.
            guard path.utf8.count < 108 else { throw Self.invalid(host, "a Unix socket path is at most 107 bytes") }
            unixSocketPath = path
            baseURL = "http://localhost"
        } else if host.hasPrefix("tcp://") {
            let authority = host.dropFirst("tcp://".count).prefix { $0 != "/" }
            guard let colon = authority.lastIndex(of: ":"), Int(authority[authority.index(after: colon)...]) != nil,
                colon != authority.startIndex
            else { throw Self.invalid(host, "expected tcp://HOST:PORT") }
            unixSocketPath = nil
            baseURL = "http://" + authority
        } else {
            throw Self.invalid(host, "use unix:///path/to/docker.sock or tcp://HOST:PORT")
        }
        description = host
    }

    static func invalid(_ host: String, _ why: String) -> DockerError {
        DockerError(code: .invalidEndpoint, operation: "DOCKER_HOST", message: "\"\(host)\" is not supported: \(why)")
    }
}
