import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A typed client for the Docker Engine API v1.41 (the version podman 4 serves, and one every
/// supported Docker answers), over the Unix socket `DOCKER_HOST` names.
/// https://docs.docker.com/reference/api/engine/version/v1.41/
///
/// Every call runs its blocking libcurl transfer off the cooperative pool (`CurlHTTPClient`), and
/// cancelling the calling task abandons the call: long ones (`waitContainer`, followed logs) end
/// within about a second, libcurl's idle progress interval.
public struct DockerClient: Sendable {
    public let endpoint: DockerEndpoint
    let http: CurlHTTPClient

    public static let apiVersion = "v1.41"
    /// For calls that last as long as a container: wait, followed logs, pulls. (libcurl needs a
    /// number; a month stands for "no deadline".)
    static let unbounded = Duration.seconds(30 * 24 * 3600)

    public init(endpoint: DockerEndpoint, http: CurlHTTPClient = CurlHTTPClient(connectTimeout: .seconds(5))) {
        self.endpoint = endpoint
        self.http = http
    }

    /// The engine `DOCKER_HOST` names (default `unix:///var/run/docker.sock`).
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> DockerClient {
        DockerClient(endpoint: try DockerEndpoint.fromEnvironment(environment))
    }

    /// `GET /_ping` answers `OK` when the engine is up.
    public func ping() async throws {
        let r = try await call("ping", request("GET", "/_ping", versioned: false), expect: [200])
        let text = String(decoding: r.body, as: UTF8.self)
        guard text == "OK" else {
            throw DockerError(
                code: .invalidResponse, operation: "ping", message: "expected OK, got \"\(text.prefix(80))\"",
                status: r.status)
        }
    }

    public func version() async throws -> EngineVersion {
        let v = try await json("version", request("GET", "/version"))
        return EngineVersion(
            version: v["Version"]?.stringValue ?? "", apiVersion: v["ApiVersion"]?.stringValue ?? "",
            minAPIVersion: v["MinAPIVersion"]?.stringValue ?? "", os: v["Os"]?.stringValue ?? "",
            arch: v["Arch"]?.stringValue ?? "",
            components: (v["Components"]?.arrayValue ?? []).compactMap { $0["Name"]?.stringValue },
            platform: v["Platform"]?["Name"]?.stringValue ?? "")
    }

    // MARK: plumbing

    func request(
        _ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        versioned: Bool = true, timeout: Duration? = nil
    ) -> HTTPRequest {
        var url = endpoint.baseURL + (versioned ? "/" + Self.apiVersion : "") + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        var headers: [(name: String, value: String)] = []
        if body != nil { headers.append(("Content-Type", "application/json")) }
        return HTTPRequest(
            method: method, url: url, headers: headers, body: body?.encoded(), unixSocketPath: endpoint.unixSocketPath,
            timeout: timeout)
    }

    /// Sends `request`; a status outside `expect` becomes a `DockerError` with the engine's message.
    func call(_ operation: String, _ request: HTTPRequest, expect: Set<Int>) async throws -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch {
            throw DockerError.from(error, operation: operation, endpoint: endpoint)
        }
        guard expect.contains(response.status) else { throw DockerError.from(response, operation: operation) }
        return response
    }

    /// A call answering 200 or 201 with a JSON body.
    func json(_ operation: String, _ request: HTTPRequest) async throws -> JSONValue {
        let response = try await call(operation, request, expect: [200, 201])
        do {
            return try JSONValue.decode(response.body)
        } catch {
            throw DockerError(
                code: .invalidResponse, operation: operation, message: "the answer is not JSON",
                status: response.status,
                cause: error)
        }
    }

    /// A path segment or query part: RFC 3986 unreserved characters as they are, the rest `%XX`.
    /// Image references keep `/` and `:` (the engine routes `/images/{name}/json` with slashes).
    static func encode(_ s: String, keeping extra: String = "") -> String {
        var out = ""
        for byte in s.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c) || extra.contains(c)) {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

/// What `GET /version` says. `isPodman`: podman's service, whose health checks do not run by
/// themselves and which offers `runHealthCheck`.
public struct EngineVersion: Sendable, Equatable {
    public var version: String
    public var apiVersion: String
    public var minAPIVersion: String
    public var os: String
    public var arch: String
    public var components: [String]
    /// `Platform.Name`: "Docker Desktop 4.x.y (…)" on Docker Desktop, "Docker Engine - Community"
    /// or nothing on Docker Engine.
    public var platform: String = ""
    public var isPodman: Bool { components.contains { $0.hasPrefix("Podman") } }
    public var isDesktop: Bool { platform.hasPrefix("Docker Desktop") }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
