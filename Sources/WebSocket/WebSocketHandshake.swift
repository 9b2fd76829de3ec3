import Digest

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A `ws://host[:port][/path[?query]]` URL: host names, IPv4 literals and bracketed IPv6
/// literals (`ws://[::1]:9222/…`). `wss://` is refused: there is no TLS in this client.
public struct WebSocketURL: Sendable, Equatable {
    public var host: String
    public var port: UInt16
    /// The request target: path and query, `/` when the URL has none.
    public var path: String

    public init(_ text: String) throws(WebSocketError) {
        guard text.lowercased().hasPrefix("ws://") else {
            throw .invalidURL(
                text.lowercased().hasPrefix("wss://") ? "wss:// (TLS) is not supported" : "not a ws:// URL")
        }
        let rest = text.dropFirst(5)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        if let fragment = target.firstIndex(of: "#") { target = String(target[..<fragment]) }
        if authority.contains("@") { throw .invalidURL("user information in a ws:// URL") }
        var hostPart: Substring
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidURL("unterminated IPv6 literal") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidURL("junk after the IPv6 literal") }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
        }
        guard !hostPart.isEmpty else { throw .invalidURL("no host") }
        if let portPart {
            guard let port = UInt16(portPart), port > 0 else { throw .invalidURL("bad port \"\(portPart)\"") }
            self.port = port
        } else {
            self.port = 80
        }
        host = String(hostPart)
        path = target
    }

    /// The `Host` header's value: IPv6 literals go back into brackets.
    var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? h : "\(h):\(port)"
    }
}

/// The opening handshake (RFC 6455 §4.1): the client's request and the check of the server's answer.
public struct WebSocketHandshake: Sendable {
    public let key: String

    /// `key` is 16 random bytes in base64 (§4.1); tests pass RFC 6455's sample key.
    public init(key: String? = nil) {
        if let key {
            self.key = key
        } else {
            var rng = SystemRandomNumberGenerator()
            self.key = Data((0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }).base64EncodedString()
        }
    }

    public func request(for url: WebSocketURL) -> [UInt8] {
        let lines = [
            "GET \(url.path) HTTP/1.1", "Host: \(url.hostHeader)", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: \(key)", "Sec-WebSocket-Version: 13",
        ]
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// The `Sec-WebSocket-Accept` a server must answer: base64(SHA-1(key + the RFC's GUID)).
    public var expectedAccept: String {
        Data(SHA1.hash(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }

    /// Checks the response head (status line and headers, without the blank line).
    public func validate(responseHead head: String) throws(WebSocketError) {
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { throw .handshake("empty response") }
        let status = lines.removeFirst()
        let parts = status.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1] == "101" else {
            throw .handshake("expected 101 Switching Protocols, got \"\(status.prefix(100))\"")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = trimmed(line[line.index(after: colon)...])
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        guard headers["upgrade"]?.lowercased() == "websocket" else { throw .handshake("no Upgrade: websocket") }
        guard
            headers["connection"]?.lowercased().split(separator: ",").contains(where: {
                trimmed($0) == "upgrade"
            }) == true
        else { throw .handshake("no Connection: Upgrade") }
        guard headers["sec-websocket-accept"] == expectedAccept else {
            throw .handshake("Sec-WebSocket-Accept does not match the key")
        }
        if let ext = headers["sec-websocket-extensions"], !ext.isEmpty {
            throw .handshake("the server chose extension \(ext), which was not offered")
        }
    }
}

private func trimmed(_ s: Substring) -> String {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    guard let first = s.firstIndex(where: { !blank($0) }), let last = s.lastIndex(where: { !blank($0) }) else {
        return ""
    }
    return String(s[first...last])
}
