import DockerBackend

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The engines the Docker tests talk to, each named by a variable that its script exports:
///
/// - **podman** (`CRAWLRUN_PODMAN_HOST`, from scripts/podman.sh; else `DOCKER_HOST`): podman's
///   copy of the Docker Engine API;
/// - **docker** (`CRAWLRUN_DOCKER_ENGINE_HOST`, from scripts/docker-engine.sh): Docker Engine.
///
/// scripts/test.sh starts both (after building the offline images) and stops them at the end.
/// An engine that does not answer or lacks the images is left out, saying why, except under
/// `CI=true`: there every engine is tested, and one that cannot be is a failure.
public enum DockerTestHost {
    /// scripts/podman.sh tags the images per checkout (`CRAWLRUN_IMAGE_TAG`): checkouts on one
    /// machine share podman's storage. images/build-offline.sh alone tags them `dev`.
    public static let imageTag = ProcessInfo.processInfo.environment["CRAWLRUN_IMAGE_TAG"] ?? "dev"
    public static let crawlerImage = "localhost/crawlrun-crawler:" + imageTag
    public static let sidecarImage = "localhost/crawlrun-sidecar:" + imageTag
    public static let baseImage = "localhost/crawlrun-base:bookworm"
    /// What to run for a machine that lacks them.
    static let remedy =
        "bash scripts/test.sh sets it all up; or `env=$(scripts/podman.sh up); eval \"$env\"` "
        + "(podman) and `env=$(scripts/docker-engine.sh up); eval \"$env\"` (Docker Engine) before `swift test`"

    /// One engine under test.
    public struct Engine: Sendable, CustomStringConvertible {
        /// `podman` or `docker`.
        public let name: String
        /// Its `DOCKER_HOST`; nil when its variable is not set.
        public let host: String?
        /// Nil when it answers and holds the offline images.
        public let unavailableReason: String?
        public var isPodman: Bool { name == "podman" }
        public var description: String { name }

        /// The engine's client; throws why it cannot be tested.
        public func client() throws -> DockerClient {
            if let unavailableReason { throw Unavailable(description: "\(name): \(unavailableReason)") }
            return try DockerClient.fromEnvironment(["DOCKER_HOST": host ?? ""])
        }
    }

    public struct Unavailable: Error, CustomStringConvertible { public let description: String }

    public static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Every engine, probed once (a test's arguments need them before any test runs).
    public static let allEngines: [Engine] = {
        let env = ProcessInfo.processInfo.environment
        return [
            ("podman", env["CRAWLRUN_PODMAN_HOST"] ?? env["DOCKER_HOST"], "CRAWLRUN_PODMAN_HOST"),
            ("docker", env["CRAWLRUN_DOCKER_ENGINE_HOST"], "CRAWLRUN_DOCKER_ENGINE_HOST"),
        ].map { name, host, variable in
            Engine(
                name: name, host: host,
                unavailableReason: host.map { probe(["DOCKER_HOST": $0]) } ?? "\(variable) is not set (\(remedy))")
        }
    }()

    /// The engines the tests run on: those that can be tested, or every one under CI.
    public static let engines: [Engine] = isCI ? allEngines : allEngines.filter { $0.unavailableReason == nil }

    /// Why no engine is tested, for the test report; nil when one is.
    public static let noEngineReason: String? =
        engines.isEmpty ? allEngines.map { "\($0.name): \($0.unavailableReason ?? "")" }.joined(separator: "; ") : nil

    /// podman's engine: the one the engine-level tests (DockerEngineTests) use.
    public static var podman: Engine { allEngines[0] }

    /// Nil when podman's engine can be tested (or under CI, where its tests then fail); otherwise
    /// why its tests are skipped.
    public static var unavailableReason: String? { isCI ? nil : podman.unavailableReason }

    public static func client() throws -> DockerClient { try podman.client() }

    static func probe(_ environment: [String: String]) -> String? {
        let endpoint: DockerEndpoint
        do {
            endpoint = try DockerEndpoint.fromEnvironment(environment)
        } catch {
            return "\(error)"
        }
        // A TCP engine is taken on trust: the tests then say what is wrong with it.
        guard let socket = endpoint.unixSocketPath else { return nil }
        guard FileManager.default.fileExists(atPath: socket) else {
            return "no Docker Engine API: \(endpoint) does not exist (\(remedy))"
        }
        switch get("/_ping", socket: socket) {
        case .failure(let why): return "no Docker Engine API at \(endpoint): \(why) (\(remedy))"
        case .success(let (status, body)) where status != 200 || body != "OK":
            return "\(endpoint) does not answer /_ping with OK (HTTP \(status)): not a Docker Engine API"
        case .success: break
        }
        for image in [crawlerImage, sidecarImage] {
            if case .success(let (status, _)) = get("/v1.41/images/\(image)/json", socket: socket), status == 404 {
                return "the engine at \(endpoint) has no image \(image): images/build-offline.sh builds it (\(remedy))"
            }
        }
        return nil
    }

    /// One HTTP/1.0 GET over the Unix socket (the connection closes after the answer).
    static func get(_ path: String, socket socketPath: String) -> Result<(Int, String), ProbeError> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(ProbeError(errno)) }
        defer { close(fd) }
        var limit = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnixSocketAddress(socketPath) { connect(fd, $0, $1) }
        guard connected == 0 else { return .failure(ProbeError(errno)) }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: docker\r\n\r\n".utf8)
        guard write(fd, request, request.count) == request.count else { return .failure(ProbeError(errno)) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 { return .failure(ProbeError(errno)) }
            if n == 0 { break }
            answer.append(contentsOf: buffer[..<n])
        }
        let text = String(decoding: answer, as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n").first,
            let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return .failure(ProbeError(message: "the answer is not HTTP")) }
        let body = text.firstRange(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return .success((status, body))
    }

    struct ProbeError: Error, CustomStringConvertible {
        let description: String
        init(_ code: Int32) { description = String(cString: strerror(code)) }
        init(message: String) { description = message }
    }
}
