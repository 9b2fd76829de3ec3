import Blocking
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A tiny HTTP forward proxy on 127.0.0.1 for the tests of `crawl.proxy`: it records the request
/// line of each request it receives (`GET http://127.0.0.1:PORT/path HTTP/1.1`) and forwards it
/// to its target only when that is a loopback address. Anything else — the browser's own
/// background requests, a `CONNECT` — is answered 403 and never leaves the machine.
public final class LoopbackProxy: Sendable {
    public let port: UInt16
    private let listener: Int32
    private let state = Mutex<(stopped: Bool, targets: [String], sockets: Set<Int32>)>((false, [], []))

    /// `host:port`, as the W3C proxy capability's `httpProxy` takes it.
    public var address: String { "127.0.0.1:\(port)" }
    /// The absolute-form targets of the requests received, in order.
    public var targets: [String] { state.withLock { $0.targets } }

    public init() throws {
        signal(SIGPIPE, SIG_IGN)
        (listener, port) = try FixtureServer.listenLoopback()
        let fd = listener
        ThreadPool.shared.submit { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                state.withLock { _ = $0.sockets.insert(client) }
                ThreadPool.shared.submit { self.serve(client) }
            }
        }
    }

    deinit { stop() }

    public func stop() {
        let sockets = state.withLock { s -> Set<Int32>? in
            if s.stopped { return nil }
            s.stopped = true
            return s.sockets
        }
        guard let sockets else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// One request per connection: the answer ends with the upstream's close.
    private func serve(_ client: Int32) {
        defer {
            state.withLock { _ = $0.sockets.remove(client) }
            close(client)
        }
        var buffer: [UInt8] = []
        let marker: [UInt8] = [13, 10, 13, 10]
        while buffer.firstRange(of: marker) == nil {
            guard FixtureServer.readMore(client, &buffer) else { return }
        }
        guard let end = buffer.firstRange(of: marker)?.upperBound else { return }
        let head = String(decoding: buffer[..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let parts = lines.isEmpty ? [] : lines.removeFirst().split(separator: " ").map(String.init)
        guard parts.count == 3 else { return }
        state.withLock { $0.targets.append(parts[1]) }
        guard let url = URLComponents(string: parts[1]), url.scheme == "http",
            let host = url.host, ["127.0.0.1", "localhost"].contains(host), let port = url.port
        else {
            FixtureServer.sendAll(
                client, Array("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
            return
        }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(upstream) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            FixtureServer.sendAll(
                client, Array("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
            return
        }
        // Origin form, one request per upstream connection.
        let path = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
        let query = url.percentEncodedQuery.map { "?" + $0 } ?? ""
        let kept = lines.filter {
            let name = $0.prefix { $0 != ":" }.lowercased()
            return name != "connection" && name != "proxy-connection" && name != "keep-alive"
        }
        let request =
            "\(parts[0]) \(path)\(query) \(parts[2])\r\n" + kept.joined(separator: "\r\n")
            + "\r\nConnection: close\r\n\r\n"
        guard FixtureServer.sendAll(upstream, Array(request.utf8) + Array(buffer[end...])) else { return }
        var answer: [UInt8] = []
        while FixtureServer.readMore(upstream, &answer) {
            guard FixtureServer.sendAll(client, answer) else { return }
            answer.removeAll(keepingCapacity: true)
        }
    }
}
