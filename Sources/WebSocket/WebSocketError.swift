/// Why a WebSocket could not be opened or stopped working. Messages name the peer (host and
/// port) and never carry a path or query: a session URL is not a secret, but nothing here needs it.
public enum WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not a `ws://host[:port][/path]` URL (`wss://` included: there is no TLS here).
    case invalidURL(String)
    /// getaddrinfo found no address for the host.
    case dns(host: String, message: String)
    /// No TCP connection within the timeout, or refused.
    case connect(String)
    /// The peer did not answer the opening handshake with a valid `101 Switching Protocols`.
    case handshake(String)
    /// The peer broke RFC 6455 (a masked frame, a reserved bit, a bad length, invalid UTF-8, …).
    case protocolViolation(String)
    /// A message (all its fragments together) is larger than the connection's maximum.
    case messageTooLarge(limit: Int)
    /// No data within the read timeout (opening handshake, close handshake).
    case timeout(String)
    /// The peer closed the connection (close frame with its status code and reason, or EOF).
    case closed(code: UInt16?, reason: String)
    /// A socket call failed (errno text).
    case io(String)

    public var description: String {
        switch self {
        case .invalidURL(let s): return "invalid WebSocket URL: \(s)"
        case .dns(let host, let m): return "cannot resolve \(host): \(m)"
        case .connect(let m): return "WebSocket connect failed: \(m)"
        case .handshake(let m): return "WebSocket handshake failed: \(m)"
        case .protocolViolation(let m): return "WebSocket protocol violation: \(m)"
        case .messageTooLarge(let limit): return "WebSocket message larger than \(limit) bytes"
        case .timeout(let m): return "WebSocket timeout: \(m)"
        case .closed(let code, let reason):
            let status = code.map { " with status \($0)" } ?? ""
            return "WebSocket closed by the peer\(status)" + (reason.isEmpty ? "" : ": \(reason)")
        case .io(let m): return "WebSocket I/O error: \(m)"
        }
    }
}
