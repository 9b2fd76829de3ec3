import Foundation
import Synchronization
import TestSupport
import Testing
import WebSocket

#if canImport(Glibc)
    import Glibc
#endif

/// The connection's behaviour the BiDi peer never shows (pings, a peer's close, violations, a
/// peer that never answers close), against a scripted server on loopback: one connection, its
/// script run on a thread of its own, frames read with the same decoder the tests above check.
private final class ScriptedWebSocketPeer: Sendable {
    let port: UInt16
    private let listener: Int32
    private let failure = Mutex<String?>(nil)
    private let done = Mutex(false)

    /// What the script gets: the accepted socket's frames in and out.
    final class Connection {
        let fd: Int32
        var decoder = WebSocketFrameDecoder(expectMasked: true, maxPayload: 1 << 20)
        init(fd: Int32) { self.fd = fd }

        func send(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        func send(_ frame: WebSocketFrame) { send(frame.encoded(mask: nil)) }

        /// The client's next frame, or nil at EOF or after 10 s.
        func read() -> WebSocketFrame? {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                if let frame = try? decoder.next() { return frame }
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 10_000) == 1 else { return nil }
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { return nil }
                decoder.append(Array(chunk[0..<n]))
            }
        }
    }

    /// `accept`: the `Sec-WebSocket-Accept` to answer, computed from the request's key unless given.
    init(accept: String? = nil, script: @escaping @Sendable (Connection) throws -> Void) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 4) == 0 else { throw FixtureError("cannot listen on loopback") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in
            let client = Glibc.accept(fd, nil, nil)
            defer {
                if client >= 0 { Glibc.close(client) }
                done.withLock { $0 = true }
            }
            guard client >= 0 else { return }
            let connection = Connection(fd: client)
            var head: [UInt8] = []
            var byte: UInt8 = 0
            while !head.reversed().starts(with: Array("\n\r\n\r".utf8)), recv(client, &byte, 1, 0) == 1 {
                head.append(byte)
            }
            let text = String(decoding: head, as: UTF8.self)
            let key =
                text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }
                .map { String($0.dropFirst("sec-websocket-key:".count).trimmingCharacters(in: .whitespaces)) } ?? ""
            let answer = accept ?? WebSocketHandshake(key: key).expectedAccept
            connection.send(
                Array(
                    ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Accept: \(answer)\r\n\r\n").utf8))
            do { try script(connection) } catch { failure.withLock { $0 = "\(error)" } }
        }
        thread.start()
    }

    var url: String { "ws://127.0.0.1:\(port)/session/x" }
    var scriptFailure: String? { failure.withLock { $0 } }
    var finished: Bool { done.withLock { $0 } }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }
}

private struct PeerScriptError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// What a connection's handlers saw.
private final class SocketEvents: Sendable {
    private let state = Mutex<(messages: [WebSocketMessage], end: WebSocketError??)>(([], nil))
    func message(_ m: WebSocketMessage) { state.withLock { $0.messages.append(m) } }
    func closed(_ e: WebSocketError?) { state.withLock { $0.end = .some(e) } }
    var messages: [WebSocketMessage] { state.withLock { $0.messages } }
    /// nil while open; `.some(nil)` after a clean close.
    var end: WebSocketError?? { state.withLock { $0.end } }
}

@Suite struct WebSocketPeerTests {
    private func start(_ socket: WebSocket) -> SocketEvents {
        let received = SocketEvents()
        socket.start(onMessage: { received.message($0) }, onClose: { received.closed($0) })
        return received
    }

    @Test func pingIsAnsweredFragmentsAssembleAndPeerCloseIsEchoed() async throws {
        let peer = try ScriptedWebSocketPeer { c in
            c.send(WebSocketFrame(opcode: .ping, payload: Array("hi".utf8)))
            guard let pong = c.read(), pong.opcode == .pong, pong.payload == Array("hi".utf8) else {
                throw PeerScriptError("no pong")
            }
            c.send(WebSocketFrame(fin: false, opcode: .text, payload: Array("{\"a\":".utf8)))
            c.send(WebSocketFrame(opcode: .ping, payload: []))
            c.send(WebSocketFrame(opcode: .continuation, payload: Array("1}".utf8)))
            guard c.read()?.opcode == .pong else { throw PeerScriptError("no second pong") }
            // A 64-bit length from the server side.
            c.send(WebSocketFrame(opcode: .binary, payload: [UInt8](repeating: 7, count: 70_000)))
            c.send(
                WebSocketFrame(opcode: .close, payload: WebSocketFrame.closePayload(code: 1001, reason: "going away")))
            guard let echo = c.read(), echo.opcode == .close, echo.payload == [0x03, 0xE9] else {
                throw PeerScriptError("close not echoed with 1001")
            }
        }
        defer { peer.stop() }
        let socket = try await WebSocket.connect(peer.url, timeout: .seconds(5))
        let received = start(socket)
        #expect(await eventually { received.end != nil })
        #expect(received.messages == [.text(Array("{\"a\":1}".utf8)), .binary([UInt8](repeating: 7, count: 70_000))])
        #expect(received.end == .some(.closed(code: 1001, reason: "going away")))
        #expect(await eventually { peer.finished })
        #expect(peer.scriptFailure == nil)
        #expect(throws: WebSocketError.self) { try socket.send(text: "late") }
    }

    @Test func clientCloseHandshake() async throws {
        let peer = try ScriptedWebSocketPeer { c in
            guard let close = c.read(), close.opcode == .close, close.payload == [0x03, 0xE8] else {
                throw PeerScriptError("no close 1000")
            }
            c.send(WebSocketFrame(opcode: .close, payload: close.payload))
            guard c.read() == nil else { throw PeerScriptError("the client did not shut the socket") }
        }
        defer { peer.stop() }
        // By name: getaddrinfo's addresses in turn (::1 may come first and be refused).
        let socket = try await WebSocket.connect("ws://localhost:\(peer.port)/session/x", timeout: .seconds(5))
        let received = start(socket)
        await socket.close(timeout: .seconds(5))
        #expect(socket.isFinished)
        #expect(received.end == .some(nil))
        #expect(await eventually { peer.finished })
        #expect(peer.scriptFailure == nil)
    }

    @Test func aPeerThatNeverAnswersCloseIsCutAfterTheTimeout() async throws {
        let peer = try ScriptedWebSocketPeer { c in
            _ = c.read()  // the close, never answered; then EOF when the client gives up
            _ = c.read()
        }
        defer { peer.stop() }
        let socket = try await WebSocket.connect(peer.url, timeout: .seconds(5))
        let received = start(socket)
        let start = ContinuousClock.now
        await socket.close(timeout: .milliseconds(300))
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(received.end == .some(nil))
    }

    @Test func violationsEndTheConnectionWithTheirStatus() async throws {
        // A masked frame from a server: 1002. A message over the limit: 1009, refused unread.
        for (frame, status, limit) in [
            (
                WebSocketFrame(opcode: .text, payload: Array("x".utf8)).encoded(mask: [1, 2, 3, 4]), UInt16(1002),
                1 << 20
            ),
            (
                WebSocketFrame(opcode: .binary, payload: [UInt8](repeating: 0, count: 2000)).encoded(mask: nil), 1009,
                1000
            ),
        ] {
            let peer = try ScriptedWebSocketPeer { c in
                c.send(frame)
                guard let close = c.read(), close.opcode == .close,
                    close.payload.prefix(2) == [UInt8(status >> 8), UInt8(status & 0xFF)]
                else { throw PeerScriptError("no close \(status)") }
            }
            defer { peer.stop() }
            let socket = try await WebSocket.connect(peer.url, timeout: .seconds(5), maxMessageSize: limit)
            let received = start(socket)
            #expect(await eventually { received.end != nil })
            switch received.end {
            case .some(.some(.protocolViolation)): #expect(status == 1002)
            case .some(.some(.messageTooLarge(let l))): #expect(status == 1009 && l == limit)
            default: Issue.record("unexpected end \(String(describing: received.end))")
            }
            #expect(await eventually { peer.finished })
            #expect(peer.scriptFailure == nil)
        }
    }

    @Test func connectAndHandshakeFailuresAreTyped() async throws {
        let wrong = try ScriptedWebSocketPeer(accept: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=") { _ in }
        defer { wrong.stop() }
        let handshake = await #expect(throws: WebSocketError.self) {
            _ = try await WebSocket.connect(wrong.url, timeout: .seconds(5))
        }
        #expect(handshake.map { if case .handshake = $0 { true } else { false } } == true)

        // A plain HTTP server (the fixture site) answers 404, not 101.
        let server = try FixtureServer()
        defer { server.stop() }
        let http = await #expect(throws: WebSocketError.self) {
            _ = try await WebSocket.connect("ws://127.0.0.1:\(server.port)/nope", timeout: .seconds(5))
        }
        #expect(http.map { if case .handshake = $0 { true } else { false } } == true)

        let closedPort = try freePort()
        let refused = await #expect(throws: WebSocketError.self) {
            _ = try await WebSocket.connect("ws://127.0.0.1:\(closedPort)/", timeout: .seconds(5))
        }
        #expect(refused.map { if case .connect = $0 { true } else { false } } == true)
    }
}
