import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

@testable import DockerBackend

/// The Docker Engine API client without an engine: DOCKER_HOST, the log frame format, times,
/// create bodies, and the engine's answers played by a fake on a Unix socket.
@Suite struct DockerClientTests {
    @Test func dockerHostIsReadAsTheCLIReadsIt() throws {
        #expect(try DockerEndpoint.fromEnvironment([:]).unixSocketPath == "/var/run/docker.sock")
        #expect(try DockerEndpoint.fromEnvironment(["DOCKER_HOST": ""]).unixSocketPath == "/var/run/docker.sock")
        let podman = try DockerEndpoint.fromEnvironment(["DOCKER_HOST": "unix:///tmp/p/podman.sock"])
        #expect(podman.unixSocketPath == "/tmp/p/podman.sock" && podman.baseURL == "http://localhost")
        let tcp = try DockerEndpoint.fromEnvironment(["DOCKER_HOST": "tcp://127.0.0.1:2375"])
        #expect(tcp.unixSocketPath == nil && tcp.baseURL == "http://127.0.0.1:2375")
        for bad in ["ssh://me@host", "unix://relative.sock", "tcp://host", "/var/run/docker.sock"] {
            #expect(throws: DockerError.self) { try DockerEndpoint.fromEnvironment(["DOCKER_HOST": bad]) }
        }
        let tls = #expect(throws: DockerError.self) {
            try DockerEndpoint.fromEnvironment(["DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1"])
        }
        #expect(tls?.description.contains("TLS") == true)
    }

    @Test func framesBecomeLinesInWhateverPiecesTheyArrive() {
        // A line split over two frames, stderr between them, a CRLF, whole and fractional seconds.
        let bytes =
            frame(1, "2026-11-22T02:11:04Z crawler: start") + frame(2, "2026-11-22T02:11:04.5Z oops\r\n")
            + frame(1, "ing\n2026-11-22T02:11:05.123456789+01:00 crawler: done 1/1\n") + frame(1, "no newline")
        let expected = [
            LogLine(stream: .stderr, timestamp: date(1_795_313_464.5), text: "oops"),
            LogLine(stream: .stdout, timestamp: date(1_795_313_464), text: "crawler: starting"),
            LogLine(stream: .stdout, timestamp: date(1_795_309_865.123456789), text: "crawler: done 1/1"),
            LogLine(stream: .stdout, timestamp: nil, text: "no newline"),
        ]
        var whole = LogDemuxer(timestamps: true)
        #expect(whole.feed(bytes) + whole.finish() == expected)
        var byteByByte = LogDemuxer(timestamps: true)
        var lines: [LogLine] = []
        for byte in bytes { lines += byteByByte.feed([byte]) }
        #expect(lines + byteByByte.finish() == expected)
        // Without timestamps a leading time is just text.
        var plain = LogDemuxer(timestamps: false)
        #expect(plain.feed(frame(1, "2026-11-22T02:11:04Z x\n")).map(\.text) == ["2026-11-22T02:11:04Z x"])
    }

    @Test func aTTYStreamIsReadRaw() {
        var demuxer = LogDemuxer(timestamps: false)
        let lines = demuxer.feed(Array("hello\nwor".utf8)) + demuxer.feed(Array("ld\n".utf8)) + demuxer.finish()
        #expect(lines == [LogLine(stream: .stdout, text: "hello"), LogLine(stream: .stdout, text: "world")])
    }

    @Test func theCreateBodyIsWhatTheAPIDocuments() async throws {
        var spec = ContainerSpec(image: "localhost/crawlrun-sidecar:dev")
        spec.command = ["chromedriver", "--port=4444"]
        spec.environment = ["B": "2", "A": "1"]
        spec.labels = ["crawlrun.run": "r1"]
        spec.stopTimeout = 30
        spec.user = "0:0"
        spec.healthCheck = HealthCheck(
            test: ["CMD-SHELL", "true"], interval: .seconds(5), timeout: .milliseconds(1500), retries: 3,
            startPeriod: .seconds(10))
        spec.host.initProcess = true
        spec.host.networkMode = .container("abc")
        spec.host.nanoCPUs = HostSettings.nanoCPUs(ecsCPUUnits: 512)
        spec.host.memoryBytes = HostSettings.memoryBytes(mebibytes: 1024)
        spec.host.binds = [Bind(source: "/runs/r1", target: "/run", readOnly: true)]
        let body = try JSONValue.decode(try await fakeEngineRequestBody(spec))
        #expect(body["Cmd"] == ["chromedriver", "--port=4444"])
        #expect(body["Env"] == ["A=1", "B=2"])
        #expect(body["Tty"] == false && body["StopTimeout"] == 30 && body["User"] == "0:0")
        #expect(
            body["Healthcheck"]?["Timeout"] == 1_500_000_000 && body["Healthcheck"]?["StartPeriod"] == 10_000_000_000)
        let host = body["HostConfig"]
        #expect(host?["Init"] == true && host?["NetworkMode"] == "container:abc")
        #expect(
            host?["NanoCpus"] == 500_000_000 && host?["Memory"] == 1_073_741_824 && host?["MemorySwap"] == 1_073_741_824
        )
        #expect(host?["Binds"] == ["/runs/r1:/run:ro"])
        #expect(NetworkMode.slirp4netns(allowHostLoopback: true).rawValue == "slirp4netns:allow_host_loopback=true")
    }

    @Test func relativeOrColonBindsAreRefusedBeforeSending() async throws {
        let client = try DockerClient(endpoint: .unixSocket("/nonexistent/docker.sock"))
        for bind in [Bind(source: "runs/r1", target: "/run"), Bind(source: "/a:b", target: "/run")] {
            var spec = ContainerSpec(image: "x")
            spec.host.binds = [bind]
            let error = await #expect(throws: DockerError.self) { try await client.createContainer(spec) }
            #expect(error?.code == .badRequest)
            #expect(error?.message.contains(bind.source) == true)
        }
    }

    @Test func theEnginesAnswersBecomeTypedErrors() async throws {
        let (server, client) = try fakeEngine { r in
            switch r.url {
            case let u where u.hasPrefix("/v1.41/images/create"):
                // A pull fails inside a 200 stream.
                return json(
                    200,
                    #"{"status":"Trying to pull"}"# + "\n" + #"{"error":"x","errorDetail":{"message":"unauthorized"}}"#)
            case let u where u.hasPrefix("/v1.41/images/"):
                return json(404, #"{"cause":"No such image","message":"x: No such image","response":404}"#)
            case let u where u.contains("/kill"):
                return json(500, #"{"message":"can only kill running containers: container state improper"}"#)
            case let u where u.hasPrefix("/v1.41/containers/gone"):
                return json(404, #"{"message":"no container with name or ID \"gone\" found: no such container"}"#)
            case let u where u.contains("/logs"):
                return HTTPResponse(status: 200, body: Data(frame(1, "a\nb") + frame(2, "c\n")))
            default:
                return json(404, #"{"message":"page not found"}"#)
            }
        }
        defer { server.stop() }
        #expect(try await client.inspectImage("localhost/none:1") == nil)
        let pull = await #expect(throws: DockerError.self) { try await client.ensureImage("registry:5000/none") }
        #expect(pull?.code == .pullFailed && pull?.message == "unauthorized", "\(String(describing: pull))")
        let kill = await #expect(throws: DockerError.self) { try await client.killContainer("c1") }
        #expect(kill?.code == .notRunning && kill?.status == 500, "\(String(describing: kill))")
        let gone = await #expect(throws: DockerError.self) { try await client.inspectContainer("gone") }
        #expect(gone?.code == .notFound && gone?.description.contains("no such container") == true)
        var lines: [LogLine] = []
        for try await line in client.logs("c1", follow: false, timestamps: false) { lines.append(line) }
        #expect(lines.map(\.text) == ["a", "c", "b"])  // "b" ends with the stream
        #expect(try await client.runHealthCheck("c1") == nil)  // no libpod API: Docker
    }

    /// start, kill, stop, wait and pull are POSTs without a body: they must send an empty one,
    /// not stream standard input chunked (libcurl's default), which would also leave bytes in a
    /// kept-alive connection for the next request to trip over.
    @Test func postsWithoutABodySendAnEmptyOne() async throws {
        let (server, client) = try fakeEngine { r in
            let empty = r.header("Content-Length") == "0" && r.header("Transfer-Encoding") == nil
            return empty ? HTTPResponse(status: 204) : json(400, #"{"message":"not an empty body"}"#)
        }
        defer { server.stop() }
        for _ in 0..<3 {
            try await client.startContainer("c1")
            try await client.killContainer("c1", signal: "SIGTERM")
        }
    }

    @Test func noEngineSaysWhereItLooked() async throws {
        let client = try DockerClient(endpoint: .unixSocket("/nonexistent/docker.sock"))
        let error = await #expect(throws: DockerError.self) { try await client.ping() }
        #expect(error?.code == .unreachable)
        #expect(error?.description.contains("unix:///nonexistent/docker.sock") == true)
    }

    @Test func referencesWithoutATagPullLatest() {
        #expect(DockerClient.hasTagOrDigest("selenium/standalone-chrome:4.27.0-20241225"))
        #expect(DockerClient.hasTagOrDigest("repo@sha256:abc"))
        #expect(!DockerClient.hasTagOrDigest("localhost:5000/crawler"))
        #expect(!DockerClient.hasTagOrDigest("crawler"))
    }

    // MARK: helpers

    func frame(_ stream: UInt8, _ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        let n = UInt32(payload.count)
        return [stream, 0, 0, 0, UInt8(n >> 24), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] + payload
    }

    func date(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    func json(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Data(text.utf8))
    }

    /// A fake engine on a Unix socket: `handler` answers every request.
    func fakeEngine(
        _ handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse
    ) throws -> (FixtureServer, DockerClient) {
        let path = NSTemporaryDirectory() + "crawlrun-engine-\(UUID().uuidString.prefix(8)).sock"
        let server = try FixtureServer(unixSocket: path, fixtures: false, handler: handler)
        return (server, DockerClient(endpoint: try .unixSocket(path)))
    }

    /// The body `createContainer` sends, as the fake engine received it.
    func fakeEngineRequestBody(_ spec: ContainerSpec) async throws -> Data {
        let received = Received()
        let (server, client) = try fakeEngine { r in
            received.body = r.body ?? Data()
            return json(201, #"{"Id":"c1","Warnings":[]}"#)
        }
        defer { server.stop() }
        #expect(try await client.createContainer(spec) == "c1")
        return received.body
    }
}

final class Received: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = Data()
    var body: Data {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
