import Dispatch
import HTTP
import JSONKit
import Synchronization
import WebSocket

/// A WebDriver BiDi event: `{"type": "event", "method": …, "params": …}`.
/// https://w3c.github.io/webdriver-bidi/#protocol
public struct BiDiEvent: Sendable {
    public let method: String
    public let params: JSONValue

    public init(method: String, params: JSONValue) {
        self.method = method
        self.params = params
    }
}

/// One WebDriver BiDi session connection (https://w3c.github.io/webdriver-bidi/): commands
/// `{id, method, params}` over a WebSocket, answers correlated by id, so any number of tasks may
/// have commands in flight at once, and events pushed by the remote end. The socket's reader
/// thread resolves the waiting tasks directly: no task of the cooperative pool ever blocks on it.
public final class BiDiConnection: Sendable {
    private typealias Waiter = CheckedContinuation<Result<JSONValue, WebDriverError>, Never>

    private struct State {
        var nextID = 1
        var pending: [Int: Waiter] = [:]
        /// Set once the connection ended or began to close: every later command fails so.
        var ended: WebDriverError?
    }

    private let socket: WebSocket
    private let state = Mutex(State())
    private let stream: AsyncStream<BiDiEvent>
    private let sink: AsyncStream<BiDiEvent>.Continuation
    /// `host:port`, for messages (the URL's path names the session, which messages need not).
    private let peer: String

    private init(socket: WebSocket) {
        self.socket = socket
        peer = "\(socket.url.host):\(socket.url.port)"
        (stream, sink) = AsyncStream.makeStream(of: BiDiEvent.self, bufferingPolicy: .unbounded)
    }

    deinit {
        // Without `close` the reader thread would keep the socket open for ever; its `onClose`
        // no longer reaches this object, so the events end here.
        socket.abort()
        sink.finish()
    }

    /// Opens the session's BiDi WebSocket (the `webSocketUrl` capability of the new session).
    public static func open(_ webSocketURL: String, timeout: Duration) async throws(WebDriverError) -> BiDiConnection {
        let socket: WebSocket
        do {
            socket = try await WebSocket.connect(webSocketURL, timeout: timeout)
        } catch {
            throw WebDriverError(code: .transport, message: "BiDi connection failed: \(error)")
        }
        let connection = BiDiConnection(socket: socket)
        socket.start(
            onMessage: { [weak connection] message in connection?.receive(message) },
            onClose: { [weak connection] error in connection?.ended(error) })
        return connection
    }

    /// Sends {id, method, params} and returns the `result` of the answer with that id. A BiDi error
    /// answer throws WebDriverError(code: Code(wire: error), message: message) — BiDi's error strings are
    /// the classic ones ("no such frame", "unknown error", …); no answer within `timeout` throws
    /// WebDriverError(code: .timeout, …); the socket closing or failing throws code .transport and fails
    /// every command in flight at once.
    ///
    /// Cancelling the calling task ends the wait with `.transport` whose `underlying` is an
    /// `HTTPError` of code `.cancelled` (as a cancelled classic command fails); an answer that
    /// comes later is dropped.
    public func command(
        _ method: String, _ params: JSONValue, timeout: Duration
    ) async throws(WebDriverError)
        -> JSONValue
    {
        let id = state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("id", .number(Double(id)))
        writer.field("method", .string(method))
        writer.field("params", params)
        writer.endObject()
        let message = writer.bytes
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: Waiter) in
                let ended: WebDriverError? = state.withLock { s in
                    if let ended = s.ended { return ended }
                    s.pending[id] = waiter
                    return nil
                }
                if let ended { return waiter.resume(returning: .failure(ended)) }
                // A cancellation before the waiter was registered found nothing to end.
                if Task.isCancelled { return resolve(id, .failure(cancelled(method))) }
                do {
                    try socket.send(textBytes: message)
                } catch {
                    return resolve(id, .failure(WebDriverError(code: .transport, message: "BiDi \(method): \(error)")))
                }
                let timedOut = WebDriverError(code: .timeout, message: "BiDi \(method): no answer within \(timeout)")
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(timeout.inNanoseconds))) {
                    [weak self] in
                    self?.resolve(id, .failure(timedOut))
                }
            }
        } onCancel: {
            resolve(id, .failure(cancelled(method)))
        }
        return try result.get()
    }

    /// Commands sent and not yet answered, failed or given up on.
    public var commandsInFlight: Int { state.withLock { $0.pending.count } }

    /// Every event (`"type": "event"`) in arrival order, for one consumer; finishes when the socket closes.
    public var events: AsyncStream<BiDiEvent> { stream }

    /// Close handshake, then the socket; commands in flight fail with .transport.
    public func close() async {
        state.withLock { s in
            s.ended = s.ended ?? WebDriverError(code: .transport, message: "BiDi connection to \(peer) closed")
        }
        await socket.close(timeout: .seconds(2))
        // The reader's `onClose` failed the commands in flight; this covers a connection the
        // reader had already left.
        ended(nil)
    }

    // MARK: - Reader thread

    private func receive(_ message: WebSocketMessage) {
        guard case .text(let bytes) = message, let value = try? JSONParser.parse(bytes).value else { return }
        if let id = value["id"]?.intValue {
            if value["type"]?.stringValue == "error" || value["error"] != nil {
                let code = value["error"]?.stringValue ?? "unknown error"
                resolve(
                    id, .failure(WebDriverError(code: .init(wire: code), message: value["message"]?.stringValue ?? "")))
            } else {
                resolve(id, .success(value["result"] ?? .null))
            }
        } else if value["type"]?.stringValue == "event", let method = value["method"]?.stringValue {
            sink.yield(BiDiEvent(method: method, params: value["params"] ?? .null))
        }
        // An error without an id answers a message the remote end could not parse: none of ours.
    }

    private func ended(_ error: WebSocketError?) {
        let reason = error.map { "\($0)" } ?? "closed"
        let failure = WebDriverError(code: .transport, message: "BiDi connection to \(peer) ended: \(reason)")
        let waiters = state.withLock { s in
            s.ended = s.ended ?? failure
            defer { s.pending = [:] }
            return s.pending
        }
        let end = state.withLock { $0.ended } ?? failure
        for waiter in waiters.values { waiter.resume(returning: .failure(end)) }
        sink.finish()
    }

    /// Hands `result` to the command `id` if it still waits; later results for it are dropped.
    private func resolve(_ id: Int, _ result: Result<JSONValue, WebDriverError>) {
        let waiter = state.withLock { $0.pending.removeValue(forKey: id) }
        waiter?.resume(returning: result)
    }

    private func cancelled(_ method: String) -> WebDriverError {
        let error = HTTPError(code: .cancelled, curlCode: 42, message: "BiDi \(method) cancelled", url: "ws://\(peer)")
        return WebDriverError(code: .transport, message: error.message, underlying: error)
    }
}

extension Duration {
    fileprivate var inNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
