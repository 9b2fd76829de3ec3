import Foundation
import HTTP
import LoopbackRelay
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `crawler relay` in process, on 127.0.0.2 (loopback too, but another address than the site's
/// 127.0.0.1, as the run network's gateway is on Docker Engine): it forwards to 127.0.0.1 on the
/// same port, and only for peers in its range.
@Suite struct DockerRelayTests {
    func relay(allowing range: String, port: UInt16) throws -> (listeners: [Int32], log: LineBox) {
        let log = LineBox()
        let settings = try RelaySettings(arguments: ["--listen", "127.0.0.2", "--allow", range, "--port", "\(port)"])
        let listeners = try LoopbackRelay(settings: settings) { log.append($0) }.start()
        return (listeners, log)
    }

    @Test func aPeerInRangeReachesTheSiteOnLoopback() async throws {
        let server = try FixtureServer()
        defer { server.stop() }
        let (listeners, log) = try relay(allowing: "127.0.0.0/8", port: server.port)
        defer { for fd in listeners { close(fd) } }
        #expect(log.text.contains("relay: 127.0.0.2:{\(server.port)} → 127.0.0.1, for 127.0.0.0/8"))
        let response = try await CurlHTTPClient().send(
            HTTPRequest(method: "GET", url: "http://127.0.0.2:\(server.port)/page/1"))
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self).contains("<h1>"))
    }

    @Test func aPeerOutsideTheRangeIsRefusedAndLogged() async throws {
        let server = try FixtureServer()
        defer { server.stop() }
        let (listeners, log) = try relay(allowing: "10.0.0.0/8", port: server.port)
        defer { for fd in listeners { close(fd) } }
        await #expect(throws: (any Error).self) {
            try await CurlHTTPClient().send(HTTPRequest(method: "GET", url: "http://127.0.0.2:\(server.port)/page/1"))
        }
        #expect(await eventually(timeout: .seconds(5)) { log.text.contains("refused a connection from 127.") })
    }

    @Test func badArgumentsAreNamed() {
        for (arguments, message) in [
            (["--listen", "172.18.0.1", "--allow", "172.18.0.0/16"], RelaySettings.usage),
            (["--listen", "nowhere", "--allow", "172.18.0.0/16", "--port", "80"], "--listen nowhere is not an IPv4"),
            (["--listen", "172.18.0.1", "--allow", "172.18.0.0/40", "--port", "80"], "--allow 172.18.0.0/40"),
            (["--listen", "172.18.0.1", "--allow", "172.18.0.0/16", "--port", "0"], "--port 0 is not a TCP port"),
        ] {
            #expect(throws: RelayError.self) { try RelaySettings(arguments: arguments) }
            do {
                _ = try RelaySettings(arguments: arguments)
            } catch {
                #expect(error.description.contains(message), "\(error)")
            }
        }
        let ok = try? RelaySettings(arguments: ["--listen", "172.18.0.1", "--allow", "172.18.5.9/16", "--port", "8080"])
        #expect(ok?.arguments == ["--listen", "172.18.0.1", "--allow", "172.18.0.0/16", "--port", "8080"])
        #expect(ok?.allowed.contains(IPv4.parse("172.18.200.3") ?? 0) == true)
        #expect(ok?.allowed.contains(IPv4.parse("172.17.0.2") ?? 0) == false)
    }
}
