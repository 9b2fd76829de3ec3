import Blocking
import HTTP
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// An in-process HTTP/1.1 server on 127.0.0.1 (a free port) or a Unix socket, serving the
/// fixture site and hostile pages. Keep-alive is honoured so connection reuse can be observed.
///
/// Routes: `/` index · `/page/N?ms=D` (D: a delay before answering) · `/slow?ms=N` · `/never` (headers, then never ends) ·
/// `/redirect?n=N` chain · `/loop` · `/redirect-to?url=U` · `/status/CODE` · `/huge?mb=N` ·
/// `/alert` · `/navigate-away` · `/js-error` · `/late?ms=N` (`#late` appears after N ms) ·
/// `/flaky?key=K&fail=N` (503 N times, then 200) · `/echo` (request as JSON) · files under `root`.
/// `/rich/N?ms=D` (images, a web font, a video: `FixtureRichPages`) ·
/// `/real/N?ms=D` (~300 KB, scripts, a font, images, third parties on `thirdPartyPort`: `FixtureRealPages`) ·
/// Pages that must not be reported as another page: `/no-content` (204) · `/not-modified` (304,
/// no cached copy) · `/download` (attachment) · `/basic-auth` (401 with a Basic challenge) ·
/// `/crash` (its script runs `onCrash`, which a test sets to kill the renderer) · `/hang?mb=N` (a JS loop
/// after the load, after allocating N MB) · `/dialog?kind=alert|confirm|prompt` (four dialogs
/// during and after the load) · `/surrogate` (lone UTF-16 surrogates in the title and text).
public final class FixtureServer: Sendable {
    public let port: UInt16
    public let unixSocketPath: String?
    /// A second loopback port serving the same routes: the third parties of `/real/N` pages
    /// (`FixtureRealPages`) under other host names, so that they are other sites. 0 on a Unix socket.
    public let thirdPartyPort: UInt16
    private let listener: Int32
    private let thirdPartyListener: Int32
    private let state = Mutex<ServerState>(ServerState())
    private let root: String?
    private let fixtures: Bool
    private let handler: (@Sendable (HTTPRequest) -> HTTPResponse?)?
    private let crash = Mutex<(@Sendable () -> Void)?>(nil)

    struct ServerState {
        var stopped = false
        var hits: [String: Int] = [:]
        var hitTimes: [String: [ContinuousClock.Instant]] = [:]
        /// Each request's headers per path (names lower-cased), in order of arrival.
        var received: [String: [[String: String]]] = [:]
        var connections = 0
        /// Requests that arrived on the third-party port.
        var thirdPartyRequests = 0
        var inFlight = 0
        var maxInFlight = 0
        var flaky: [String: Int] = [:]
        var openSockets: Set<Int32> = []
    }

    /// The loopback address listened on (127.0.0.1 unless `address` was given: any of 127/8
    /// serves as a second host name for per-host tests).
    public let address: String
    public var baseURL: String { "http://\(address):\(port)" }
    /// The third parties' origin of `/real/N` (`FixtureRealPages.thirdPartyHosts` on this port).
    public func thirdPartyURL(host: String) -> String { "http://\(host):\(thirdPartyPort)" }

    /// Starts on 127.0.0.1 (a free port unless `port` is given), or on `unixSocket` when given.
    /// With `fixtures: false` only the files under `root` are served (the demo site).
    /// `handler` answers first when given (its request's `url` is the request target, path and
    /// query): a loopback peer playing an endpoint such as ECS's credential service.
    public init(
        root: String? = nil, unixSocket: String? = nil, port: UInt16 = 0, address: String = "127.0.0.1",
        fixtures: Bool = true, handler: (@Sendable (HTTPRequest) -> HTTPResponse?)? = nil
    ) throws {
        self.root = root
        self.address = address
        self.fixtures = fixtures
        self.handler = handler
        signal(SIGPIPE, SIG_IGN)
        if let path = unixSocket {
            unlink(path)
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            let rc = withUnixSocketAddress(path) { bind(fd, $0, $1) }
            guard rc == 0, listen(fd, 64) == 0 else { throw FixtureError("cannot listen on \(path)") }
            listener = fd
            self.port = 0
            unixSocketPath = path
            thirdPartyListener = -1
            thirdPartyPort = 0
        } else {
            let (fd, p) = try Self.listenLoopback(port: port, address: address)
            listener = fd
            self.port = p
            unixSocketPath = nil
            (thirdPartyListener, thirdPartyPort) = fixtures ? try Self.listenLoopback() : (-1, 0)
        }
        acceptLoop(on: listener, thirdParty: false)
        if thirdPartyListener >= 0 { acceptLoop(on: thirdPartyListener, thirdParty: true) }
    }

    private func acceptLoop(on fd: Int32, thirdParty: Bool) {
        ThreadPool.shared.submit { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                let stopped = state.withLock { s -> Bool in
                    s.connections += 1
                    s.openSockets.insert(client)
                    return s.stopped
                }
                if stopped {
                    close(client)
                    return
                }
                ThreadPool.shared.submit { self.serve(client, thirdParty: thirdParty) }
            }
        }
    }

    deinit { stop() }

    /// Closes the listener and every open connection (ending `/never` responses).
    public func stop() {
        // Once only: a second close could hit a descriptor number already reused elsewhere.
        let sockets = state.withLock { s -> Set<Int32>? in
            if s.stopped { return nil }
            s.stopped = true
            return s.openSockets
        }
        guard let sockets else { return }
        for fd in [listener, thirdPartyListener] where fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
        if let unixSocketPath { unlink(unixSocketPath) }
    }

    /// Runs when `/crash` asks for its script, before it is answered (a test kills the renderer here).
    public func onCrash(_ hook: @escaping @Sendable () -> Void) { crash.withLock { $0 = hook } }
    func crashHook() { crash.withLock { $0 }?() }

    public func hits(_ path: String) -> Int { state.withLock { $0.hits[path] ?? 0 } }
    public func hitTimes(_ path: String) -> [ContinuousClock.Instant] { state.withLock { $0.hitTimes[path] ?? [] } }
    /// The headers of each request for `path` (names lower-cased), in order of arrival.
    public func requestHeaders(_ path: String) -> [[String: String]] { state.withLock { $0.received[path] ?? [] } }
    public var connectionCount: Int { state.withLock { $0.connections } }
    /// Requests that reached the third-party port (`thirdPartyBaseURL`).
    public var thirdPartyRequestCount: Int { state.withLock { $0.thirdPartyRequests } }
    public var maxConcurrentRequests: Int { state.withLock { $0.maxInFlight } }
    var isStopped: Bool { state.withLock { $0.stopped } }

    static func listenLoopback(port: UInt16 = 0, address: String = "127.0.0.1") throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr(address)
        addr.sin_port = port.bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw FixtureError("cannot listen on \(address):\(port): \(String(cString: strerror(errno)))")
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, UInt16(bigEndian: bound.sin_port))
    }

    // MARK: - Connections

    private func serve(_ fd: Int32, thirdParty: Bool) {
        defer {
            state.withLock { _ = $0.openSockets.remove(fd) }
            close(fd)
        }
        var buffer: [UInt8] = []
        while !isStopped {
            guard let request = readRequest(fd, &buffer) else { return }
            state.withLock { s in
                s.hits[request.path, default: 0] += 1
                s.hitTimes[request.path, default: []].append(.now)
                s.received[request.path, default: []].append(
                    Dictionary(request.headers, uniquingKeysWith: { a, b in a + ", " + b }))
                s.inFlight += 1
                if thirdParty { s.thirdPartyRequests += 1 }
                s.maxInFlight = max(s.maxInFlight, s.inFlight)
            }
            let keepAlive = respond(fd, request)
            state.withLock { $0.inFlight -= 1 }
            if !keepAlive || request.close { return }
        }
    }

    struct Request {
        var method: String
        var target: String
        var path: String
        var query: [String: String]
        var headers: [(String, String)]
        var body: [UInt8]
        var close: Bool
    }

    private func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> Request? {
        let marker: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            if let r = buffer.firstRange(of: marker) {
                headerEnd = r.upperBound
                break
            }
            guard readMore(fd, &buffer) else { return nil }
        }
        guard let end = headerEnd else { return nil }
        let head = String(decoding: buffer[..<end], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: true).map(String.init)
        guard !lines.isEmpty else { return nil }
        let parts = lines.removeFirst().split(separator: " ")
        guard parts.count >= 2 else { return nil }
        var headers: [(String, String)] = []
        var length = 0
        var close = false
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon]).lowercased()
            let value = String(line[line.index(after: colon)...].drop { $0 == " " })
            headers.append((name, value))
            if name == "content-length" { length = Int(value) ?? 0 }
            if name == "connection" && value.lowercased() == "close" { close = true }
        }
        while buffer.count < end + length { guard readMore(fd, &buffer) else { return nil } }
        let body = Array(buffer[end..<(end + length)])
        buffer.removeFirst(end + length)
        let target = String(parts[1])
        let (path, query) = Self.splitTarget(target)
        return Request(
            method: String(parts[0]), target: target, path: path, query: query, headers: headers, body: body,
            close: close)
    }

    private func readMore(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool { Self.readMore(fd, &buffer) }

    /// Appends what one `recv` gives; false at the end of the stream or on an error.
    static func readMore(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    static func splitTarget(_ target: String) -> (String, [String: String]) {
        guard let q = target.firstIndex(of: "?") else { return (target, [:]) }
        var query: [String: String] = [:]
        for pair in target[target.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            let value = kv.count > 1 ? String(kv[1]) : ""
            query[String(kv[0])] = value.percentDecoded(plusAsSpace: true)
        }
        return (String(target[..<q]), query)
    }

    @discardableResult
    func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool { Self.sendAll(fd, bytes) }

    /// Sends every byte (EINTR retried, no SIGPIPE); false when the peer is gone.
    @discardableResult
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    func reply(
        _ fd: Int32, status: Int, headers: [(String, String)] = [], body: [UInt8],
        type: String = "text/html; charset=utf-8"
    ) -> Bool {
        var head =
            "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        return send(fd, Array(head.utf8) + body)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 401: return "Unauthorized"
        case 404: return "Not Found"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }

    func sleepUnlessStopped(_ ms: Int) {
        var left = ms
        while left > 0 && !isStopped {
            let step = min(left, 20)
            usleep(UInt32(step * 1000))
            left -= step
        }
    }

    /// Handles one request; false closes the connection.
    private func respond(_ fd: Int32, _ r: Request) -> Bool {
        if let handler,
            let answer = handler(
                HTTPRequest(
                    method: r.method, url: r.target, headers: r.headers.map { (name: $0.0, value: $0.1) },
                    body: Data(r.body)))
        {
            return reply(
                fd, status: answer.status, headers: answer.headers.filter { $0.name.lowercased() != "content-type" },
                body: Array(answer.body), type: answer.header("Content-Type") ?? "application/json")
        }
        if fixtures, let page = FixturePages.page(for: r, server: self, fd: fd) { return page }
        if let root, let (location, status) = Self.redirect(r.path, root: root) {
            return reply(
                fd, status: status, headers: [("Location", location)],
                body: Array(FixturePages.html(title: "Moved", body: "<a href=\"\(location)\">moved</a>").utf8))
        }
        if let root, r.method == "GET", !r.path.contains(".."),
            let data = FileManager.default.contents(
                atPath: root + (r.path.hasSuffix("/") ? r.path + "index.html" : r.path))
        {
            let type =
                r.path.hasSuffix(".css")
                ? "text/css" : r.path.hasSuffix(".js") ? "text/javascript" : "text/html; charset=utf-8"
            return reply(fd, status: 200, body: Array(data), type: type)
        }
        return reply(
            fd, status: 404, body: Array(FixturePages.html(title: "Not found", body: "<h1>Not found</h1>").utf8))
    }

    /// A redirect the served directory declares in its `_redirects` file: one `FROM TO [STATUS]`
    /// per line (status 301 unless given), `#` comments — the form static hosts such as Netlify
    /// read, so the demo shop can show a redirect without a server of its own.
    static func redirect(_ path: String, root: String) -> (String, Int)? {
        guard let text = try? String(contentsOfFile: root + "/_redirects", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, parts[0] == path else { continue }
            return (String(parts[1]), parts.count > 2 ? Int(parts[2]) ?? 301 : 301)
        }
        return nil
    }

    func countFlaky(_ key: String) -> Int {
        state.withLock { s in
            s.flaky[key, default: 0] += 1
            return s.flaky[key] ?? 0
        }
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
