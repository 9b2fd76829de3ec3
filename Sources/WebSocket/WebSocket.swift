import Dispatch
// Foundation, not FoundationEssentials: the reader is a `Thread`.
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An RFC 6455 WebSocket client over a plain TCP socket, for WebDriver BiDi: `ws://` only, no
/// TLS, because the WebDriver sidecar is on the task's loopback or its private network, and no
/// extensions (no compression). libcurl 7.88 has no WebSocket support, hence this.
/// https://www.rfc-editor.org/rfc/rfc6455
///
/// Threads: connecting and the opening handshake block a Dispatch worker, and after `start` a
/// dedicated thread reads for the connection's lifetime and calls the handlers; nothing blocks
/// Swift's cooperative pool except `send`, which writes one frame to a socket whose send buffer a
/// live peer drains (bounded by the send timeout).
public final class WebSocket: Sendable {
    public typealias MessageHandler = @Sendable (WebSocketMessage) -> Void
    /// Called once, on the reader thread, when the connection ends: nil after a close handshake
    /// this side started, else why it ended.
    public typealias CloseHandler = @Sendable (WebSocketError?) -> Void

    public let url: WebSocketURL
    public let maxMessageSize: Int
    private let fd: Int32
    /// The socket's writers and its closing: the descriptor is closed under this lock, so no
    /// write can reach a number the system has given to another file meanwhile.
    private let writer = Mutex(Writer())
    private let life = Mutex(Life())
    /// Bytes read with the handshake's response that already belong to the first frames.
    private let leftover: [UInt8]

    private struct Writer {
        var open = true
        var closeSent = false
    }

    private struct Life {
        var started = false
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private init(url: WebSocketURL, fd: Int32, leftover: [UInt8], maxMessageSize: Int) {
        self.url = url
        self.fd = fd
        self.leftover = leftover
        self.maxMessageSize = maxMessageSize
    }

    deinit {
        // A socket that was never started has no reader thread to close it.
        writer.withLock { w in
            if w.open { Glibc.close(fd) }
            w.open = false
        }
    }

    /// Connects (each address getaddrinfo gives, in order) and completes the opening handshake,
    /// both within `timeout` (name resolution aside: sidecar names resolve locally). Call
    /// `start` next to receive.
    public static func connect(
        _ urlText: String, timeout: Duration, maxMessageSize: Int = 256 << 20
    ) async throws(WebSocketError) -> WebSocket {
        let url = try WebSocketURL(urlText)
        let result: Result<WebSocket, WebSocketError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    returning: Result { () throws(WebSocketError) in
                        let deadline = ContinuousClock.now + timeout
                        let fd = try openSocket(url, deadline: deadline)
                        do throws(WebSocketError) {
                            let leftover = try handshake(fd, url: url, deadline: deadline)
                            return WebSocket(url: url, fd: fd, leftover: leftover, maxMessageSize: maxMessageSize)
                        } catch {
                            Glibc.close(fd)
                            throw error
                        }
                    })
            }
        }
        return try result.get()
    }

    /// Starts the reader thread: every message goes to `onMessage` in arrival order, then
    /// `onClose` once. Pings are answered here. Call once.
    public func start(onMessage: @escaping MessageHandler, onClose: @escaping CloseHandler) {
        let first = life.withLock { l in
            defer { l.started = true }
            return !l.started
        }
        guard first else { return }
        let thread = Thread { [self] in
            let failure = readLoop(onMessage)
            finish(failure, onClose)
        }
        thread.name = "websocket \(url.host):\(url.port)"
        thread.start()
    }

    public func send(text: String) throws(WebSocketError) {
        try send(WebSocketFrame(opcode: .text, payload: Array(text.utf8)))
    }

    /// A text message from bytes the caller guarantees are UTF-8 (JSON it encoded).
    public func send(textBytes: [UInt8]) throws(WebSocketError) {
        try send(WebSocketFrame(opcode: .text, payload: textBytes))
    }

    public func send(binary: [UInt8]) throws(WebSocketError) {
        try send(WebSocketFrame(opcode: .binary, payload: binary))
    }

    /// One frame, masked with a fresh key. A failed write shuts the socket: the reader then
    /// reports the end to `onClose`.
    public func send(_ frame: WebSocketFrame) throws(WebSocketError) {
        var rng = SystemRandomNumberGenerator()
        let key = withUnsafeBytes(of: rng.next() as UInt32) { Array($0) }
        let bytes = frame.encoded(mask: key)
        let result: Result<Void, WebSocketError> = writer.withLock { w in
            guard w.open, !w.closeSent else { return .failure(.closed(code: nil, reason: "the connection is closing")) }
            if frame.opcode == .close { w.closeSent = true }
            if let error = writeAll(bytes) {
                Glibc.shutdown(fd, Int32(SHUT_RDWR))
                return .failure(error)
            }
            return .success(())
        }
        try result.get()
    }

    /// The close handshake (§7.1.2): sends close (1000), waits for the peer's close up to
    /// `timeout`, then shuts the socket; returns once the reader thread has ended and the
    /// handlers have been called. Without `start`, just closes the socket.
    public func close(timeout: Duration = .seconds(2)) async {
        let started = life.withLock { l in
            defer { l.started = true }
            return l.started
        }
        guard started else {
            writer.withLock { w in
                if w.open { Glibc.close(fd) }
                w.open = false
            }
            life.withLock { $0.finished = true }
            return
        }
        try? send(WebSocketFrame(opcode: .close, payload: WebSocketFrame.closePayload(code: 1000)))
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(timeout.nanoseconds))) {
            self.abort()
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = life.withLock { l in
                if !l.finished { l.waiters.append(c) }
                return l.finished
            }
            if done { c.resume() }
        }
    }

    /// Shuts the socket without a close handshake (an owner going away): the reader thread then
    /// ends and calls `onClose`. Does not wait.
    public func abort() {
        writer.withLock { w in
            if w.open { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Whether the connection has ended (the reader thread is done).
    public var isFinished: Bool { life.withLock { $0.finished } }

    // MARK: - Reader thread

    private func readLoop(_ onMessage: MessageHandler) -> WebSocketError? {
        var decoder = WebSocketFrameDecoder(maxPayload: maxMessageSize)
        var assembler = WebSocketMessageAssembler(maxMessageSize: maxMessageSize)
        decoder.append(leftover)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            do {
                while let frame = try decoder.next() {
                    guard let output = try assembler.accept(frame) else { continue }
                    switch output {
                    case .message(let message):
                        onMessage(message)
                    case .control(let control):
                        if let end = try handleControl(control) { return end.error }
                    }
                }
            } catch {
                // §7.4.1: 1009 for a message too big, 1002 for a protocol error.
                let code: UInt16 = if case .messageTooLarge = error { 1009 } else { 1002 }
                try? send(WebSocketFrame(opcode: .close, payload: WebSocketFrame.closePayload(code: code)))
                return error
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            } else if n == 0 {
                let closing = writer.withLock { $0.closeSent }
                return closing ? nil : .closed(code: nil, reason: "connection closed without a close frame")
            } else if errno != EINTR {
                let closing = writer.withLock { $0.closeSent }
                return closing ? nil : .io(String(cString: strerror(errno)))
            }
        }
    }

    private struct End { var error: WebSocketError? }

    /// Ping → pong; close → the end of the connection (answering the peer's close if it started).
    private func handleControl(_ frame: WebSocketFrame) throws(WebSocketError) -> End? {
        switch frame.opcode {
        case .ping:
            try? send(WebSocketFrame(opcode: .pong, payload: frame.payload))
            return nil
        case .close:
            let p = frame.payload
            if p.count == 1 { throw .protocolViolation("close frame with a one-byte payload") }
            let code = p.count >= 2 ? UInt16(p[0]) << 8 | UInt16(p[1]) : nil
            guard let reason = String(validating: p.dropFirst(2), as: UTF8.self) else {
                throw .protocolViolation("close reason is not UTF-8")
            }
            let weStarted = writer.withLock { $0.closeSent }
            if weStarted { return End(error: nil) }
            // §5.5.1: echo the status code.
            try? send(WebSocketFrame(opcode: .close, payload: p.count >= 2 ? Array(p.prefix(2)) : []))
            return End(error: .closed(code: code, reason: reason))
        default:
            return nil
        }
    }

    private func finish(_ failure: WebSocketError?, _ onClose: CloseHandler) {
        writer.withLock { w in
            if w.open {
                Glibc.shutdown(fd, Int32(SHUT_RDWR))
                Glibc.close(fd)
            }
            w.open = false
        }
        onClose(failure)
        let waiters = life.withLock { l in
            l.finished = true
            defer { l.waiters = [] }
            return l.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func writeAll(_ bytes: [UInt8]) -> WebSocketError? {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { p in
                Glibc.send(fd, p.baseAddress.map { $0 + sent }, p.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                sent += n
            } else if n < 0, errno == EINTR {
                continue
            } else {
                return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                    ? .timeout("the peer took no data within the send timeout")
                    : .io(String(cString: strerror(errno)))
            }
        }
        return nil
    }
}

// MARK: - Connecting

extension Duration {
    var nanoseconds: Int64 {
        let (s, a) = components
        return s * 1_000_000_000 + a / 1_000_000_000
    }
}

private func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
    let left = (deadline - .now).nanoseconds / 1_000_000
    return Int32(clamping: max(0, left))
}

/// A connected, blocking TCP socket with Nagle off (BiDi commands are small and latency-bound).
private func openSocket(_ url: WebSocketURL, deadline: ContinuousClock.Instant) throws(WebSocketError) -> Int32 {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_NUMERICSERV
    var list: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(url.host, String(url.port), &hints, &list)
    guard rc == 0, let list else {
        throw .dns(host: url.host, message: String(cString: gai_strerror(rc)))
    }
    defer { freeaddrinfo(list) }
    var failures: [String] = []
    var next: UnsafeMutablePointer<addrinfo>? = list
    while let ai = next {
        next = ai.pointee.ai_next
        let fd = socket(
            ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue),
            ai.pointee.ai_protocol)
        guard fd >= 0 else {
            failures.append(String(cString: strerror(errno)))
            continue
        }
        if let failure = connectNonBlocking(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen, deadline: deadline) {
            Glibc.close(fd)
            failures.append(failure)
            continue
        }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        // A peer that stops reading must not hold a writer forever.
        var sendTimeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }
    throw .connect("\(url.host):\(url.port): \(failures.joined(separator: "; "))")
}

private func connectNonBlocking(
    _ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t, deadline: ContinuousClock.Instant
) -> String? {
    if Glibc.connect(fd, address, length) == 0 { return nil }
    guard errno == EINPROGRESS || errno == EINTR else { return String(cString: strerror(errno)) }
    var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
    while true {
        let ready = poll(&poller, 1, milliseconds(until: deadline))
        if ready < 0, errno == EINTR { continue }
        if ready == 0 { return "timed out" }
        if ready < 0 { return String(cString: strerror(errno)) }
        break
    }
    var error: Int32 = 0
    var size = socklen_t(MemoryLayout<Int32>.size)
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size)
    return error == 0 ? nil : String(cString: strerror(error))
}

/// Sends the request and reads the response head; returns the bytes after it.
private func handshake(
    _ fd: Int32, url: WebSocketURL, deadline: ContinuousClock.Instant
) throws(WebSocketError)
    -> [UInt8]
{
    let handshake = WebSocketHandshake()
    let request = handshake.request(for: url)
    var sent = 0
    while sent < request.count {
        let n = request.withUnsafeBytes { p in
            Glibc.send(fd, p.baseAddress.map { $0 + sent }, p.count - sent, Int32(MSG_NOSIGNAL))
        }
        if n < 0, errno == EINTR { continue }
        guard n > 0 else { throw .io("sending the handshake: \(String(cString: strerror(errno)))") }
        sent += n
    }
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    let end: [UInt8] = Array("\r\n\r\n".utf8)
    while true {
        if let at = received.firstRange(of: end) {
            try handshake.validate(responseHead: String(decoding: received[..<at.lowerBound], as: UTF8.self))
            return Array(received[at.upperBound...])
        }
        if received.count > 64 * 1024 { throw .handshake("response head larger than 64 KiB") }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, milliseconds(until: deadline))
        if ready < 0, errno == EINTR { continue }
        if ready == 0 { throw .timeout("no handshake response from \(url.host):\(url.port)") }
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0, errno == EINTR || errno == EAGAIN { continue }
        if n == 0 { throw .handshake("connection closed before the response") }
        if n < 0 { throw .io("reading the handshake: \(String(cString: strerror(errno)))") }
        received.append(contentsOf: chunk[0..<n])
    }
}
