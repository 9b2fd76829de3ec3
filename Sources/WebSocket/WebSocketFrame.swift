/// RFC 6455 §5 framing as plain values: the encoder, the decoder (bytes in, frames out) and the
/// assembler (frames in, messages out). No I/O here, so every case is tested without a peer.
/// https://www.rfc-editor.org/rfc/rfc6455#section-5

public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA

    /// Close, ping and pong: at most 125 bytes, never fragmented, allowed between fragments.
    public var isControl: Bool { rawValue & 0x8 != 0 }
}

public struct WebSocketFrame: Sendable, Equatable {
    public var fin: Bool
    public var opcode: WebSocketOpcode
    public var payload: [UInt8]

    public init(fin: Bool = true, opcode: WebSocketOpcode, payload: [UInt8]) {
        self.fin = fin
        self.opcode = opcode
        self.payload = payload
    }

    /// The frame on the wire. A client masks every frame (§5.3) with a fresh key; a server (the
    /// tests' side) sends `mask: nil`.
    public func encoded(mask: [UInt8]?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 14)
        out.append((fin ? 0x80 : 0) | opcode.rawValue)
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        // §5.2: the shortest length form is not required of a sender, but it is what every
        // peer sends, and the decoder's tests rely on the three forms being distinct.
        switch payload.count {
        case 0...125:
            out.append(maskBit | UInt8(payload.count))
        case 126...0xFFFF:
            out.append(maskBit | 126)
            out.append(UInt8(payload.count >> 8))
            out.append(UInt8(payload.count & 0xFF))
        default:
            out.append(maskBit | 127)
            let length = UInt64(payload.count)
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift)))
            }
        }
        guard let mask, mask.count == 4 else {
            out.append(contentsOf: payload)
            return out
        }
        out.append(contentsOf: mask)
        let start = out.count
        out.append(contentsOf: payload)
        out.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<payload.count { buffer[start + i] ^= mask[i & 3] }
        }
        return out
    }

    /// A close frame's payload: the status code, then a UTF-8 reason (§5.5.1).
    public static func closePayload(code: UInt16, reason: String = "") -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(123))
    }
}

/// Bytes in, frames out. Frames from a server are never masked and a client must fail the
/// connection on a masked one (§5.1); `expectMasked` is for decoding a client's frames (tests).
public struct WebSocketFrameDecoder: Sendable {
    public let expectMasked: Bool
    /// The largest payload of one frame; a larger announced length fails before any of it is read.
    public let maxPayload: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(expectMasked: Bool = false, maxPayload: Int) {
        self.expectMasked = expectMasked
        self.maxPayload = maxPayload
    }

    /// Bytes received and not yet part of a returned frame.
    public var buffered: Int { buffer.count - start }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil until more bytes arrive.
    public mutating func next() throws(WebSocketError) -> WebSocketFrame? {
        let available = buffer.count - start
        guard available >= 2 else { return nil }
        let b0 = buffer[start]
        let b1 = buffer[start + 1]
        if b0 & 0x70 != 0 { throw .protocolViolation("reserved bits set without a negotiated extension") }
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else {
            throw .protocolViolation("unknown opcode \(b0 & 0x0F)")
        }
        let fin = b0 & 0x80 != 0
        let masked = b1 & 0x80 != 0
        if masked != expectMasked {
            throw .protocolViolation(masked ? "masked frame from the server" : "unmasked frame from a client")
        }
        var header = 2
        var length = UInt64(b1 & 0x7F)
        if length == 126 {
            guard available >= 4 else { return nil }
            length = UInt64(buffer[start + 2]) << 8 | UInt64(buffer[start + 3])
            header = 4
        } else if length == 127 {
            guard available >= 10 else { return nil }
            length = 0
            for i in 0..<8 { length = length << 8 | UInt64(buffer[start + 2 + i]) }
            if length >> 63 != 0 { throw .protocolViolation("64-bit length with its most significant bit set") }
            header = 10
        }
        if opcode.isControl {
            if !fin { throw .protocolViolation("fragmented control frame") }
            if length > 125 { throw .protocolViolation("control frame of \(length) bytes (at most 125)") }
        }
        if length > UInt64(maxPayload) { throw .messageTooLarge(limit: maxPayload) }
        let maskAt = start + header
        if masked { header += 4 }
        let count = Int(length)
        guard available >= header + count else { return nil }
        let payloadAt = start + header
        var payload = Array(buffer[payloadAt..<payloadAt + count])
        if masked {
            let key = Array(buffer[maskAt..<maskAt + 4])
            payload.withUnsafeMutableBufferPointer { p in
                for i in 0..<count { p[i] ^= key[i & 3] }
            }
        }
        start += header + count
        // Compacting once the consumed part dominates keeps appends amortised O(1) without
        // copying a large message's tail on every frame.
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            start = 0
        } else if start > 1 << 16, start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return WebSocketFrame(fin: fin, opcode: opcode, payload: payload)
    }
}

/// A whole message: a text message's bytes are valid UTF-8 (checked on assembly).
public enum WebSocketMessage: Sendable, Equatable {
    case text([UInt8])
    case binary([UInt8])
}

/// Frames in, messages out (§5.4): a data frame with FIN clear starts a message that
/// continuation frames extend until one has FIN set; control frames may come in between and are
/// handed back at once.
public struct WebSocketMessageAssembler: Sendable {
    public enum Output: Sendable, Equatable {
        case message(WebSocketMessage)
        case control(WebSocketFrame)
    }

    public let maxMessageSize: Int
    private var partial: (text: Bool, bytes: [UInt8])?

    public init(maxMessageSize: Int) { self.maxMessageSize = maxMessageSize }

    public mutating func accept(_ frame: WebSocketFrame) throws(WebSocketError) -> Output? {
        if frame.opcode.isControl { return .control(frame) }
        var message: (text: Bool, bytes: [UInt8])
        switch (frame.opcode, partial) {
        case (.continuation, nil):
            throw .protocolViolation("continuation frame without a message to continue")
        case (.continuation, .some(var current)):
            partial = nil
            guard current.bytes.count + frame.payload.count <= maxMessageSize else {
                throw .messageTooLarge(limit: maxMessageSize)
            }
            current.bytes.append(contentsOf: frame.payload)
            message = current
        case (_, .some):
            throw .protocolViolation("new \(frame.opcode) message before the previous one ended")
        default:
            guard frame.payload.count <= maxMessageSize else { throw .messageTooLarge(limit: maxMessageSize) }
            message = (frame.opcode == .text, frame.payload)
        }
        guard frame.fin else {
            partial = message
            return nil
        }
        guard message.text else { return .message(.binary(message.bytes)) }
        guard String(validating: message.bytes, as: UTF8.self) != nil else {
            throw .protocolViolation("text message is not valid UTF-8")
        }
        return .message(.text(message.bytes))
    }
}
