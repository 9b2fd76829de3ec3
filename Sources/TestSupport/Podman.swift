import DockerBackend

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The Docker Engine API the Docker tests talk to: `DOCKER_HOST` (default
/// `unix:///var/run/docker.sock`). scripts/test.sh exports podman's, which scripts/podman.sh
/// starts after building the offline images (images/build-offline.sh).
public enum DockerTestHost {
    /// scripts/podman.sh tags the images per checkout (`CRAWLRUN_IMAGE_TAG`): checkouts on one
    /// machine share podman's storage. images/build-offline.sh alone tags them `dev`.
    public static let imageTag = ProcessInfo.processInfo.environment["CRAWLRUN_IMAGE_TAG"] ?? "dev"
    public static let crawlerImage = "localhost/crawlrun-crawler:" + imageTag
    public static let sidecarImage = "localhost/crawlrun-sidecar:" + imageTag
    public static let baseImage = "localhost/crawlrun-base:bookworm"
    /// What to run for a machine that lacks them.
    static let remedy =
        "bash scripts/test.sh sets it all up; or `env=$(scripts/podman.sh up); eval \"$env\"` before `swift test`"

    /// Nil when the engine answers and holds the offline images; otherwise why the Docker tests
    /// are skipped, for the test report. Probed once, synchronously (a trait needs it before any
    /// test runs), with a 2 s limit on each exchange.
    public static let unavailableReason: String? = probe()

    public static func client() throws -> DockerClient { try DockerClient.fromEnvironment() }

    static func probe() -> String? {
        let endpoint: DockerEndpoint
        do {
            endpoint = try DockerEndpoint.fromEnvironment()
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
