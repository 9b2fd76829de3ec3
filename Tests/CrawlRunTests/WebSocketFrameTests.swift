import Foundation
import Testing
import WebSocket

/// RFC 6455 framing, handshake and URLs as plain values: no peer. Byte sequences are the RFC's
/// own examples where it gives one (§5.7, §1.3).
@Suite struct WebSocketFrameTests {
    static let hello = Array("Hello".utf8)

    func decodeAll(_ bytes: [UInt8], masked: Bool = false, max: Int = 1 << 20) throws -> [WebSocketFrame] {
        var decoder = WebSocketFrameDecoder(expectMasked: masked, maxPayload: max)
        decoder.append(bytes)
        var frames: [WebSocketFrame] = []
        while let frame = try decoder.next() { frames.append(frame) }
        #expect(decoder.buffered == 0)
        return frames
    }

    @Test func rfcExamplesEncodeAndDecode() throws {
        // §5.7: a single-frame unmasked text message, and the same masked with 37 fa 21 3d.
        let unmasked: [UInt8] = [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]
        let masked: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        let frame = WebSocketFrame(opcode: .text, payload: Self.hello)
        #expect(frame.encoded(mask: nil) == unmasked)
        #expect(frame.encoded(mask: [0x37, 0xFA, 0x21, 0x3D]) == masked)
        #expect(try decodeAll(unmasked) == [frame])
        #expect(try decodeAll(masked, masked: true) == [frame])
        // A client must refuse a masked frame from a server, and a server an unmasked one.
        #expect(throws: WebSocketError.self) { try decodeAll(masked) }
        #expect(throws: WebSocketError.self) { try decodeAll(unmasked, masked: true) }
    }

    @Test(arguments: [0, 1, 125, 126, 65535, 65536, 300_000])
    func lengthForms(count: Int) throws {
        let payload = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let frame = WebSocketFrame(opcode: .binary, payload: payload)
        let wire = frame.encoded(mask: nil)
        switch count {
        case ...125:
            #expect(wire[1] == UInt8(count))
            #expect(wire.count == 2 + count)
        case ...65535:
            #expect(wire[1] == 126)
            #expect(Int(wire[2]) << 8 | Int(wire[3]) == count)
            #expect(wire.count == 4 + count)
        default:
            #expect(wire[1] == 127)
            #expect(wire[2..<10].reduce(0) { $0 << 8 | Int($1) } == count)
            #expect(wire.count == 10 + count)
        }
        #expect(try decodeAll(wire) == [frame])
        let maskedWire = frame.encoded(mask: [1, 2, 3, 4])
        #expect(maskedWire.count == wire.count + 4)
        #expect(try decodeAll(maskedWire, masked: true) == [frame])
    }

    @Test func bytesArrivingOneByOne() throws {
        let frames = [
            WebSocketFrame(opcode: .text, payload: Self.hello),
            WebSocketFrame(opcode: .binary, payload: [UInt8](repeating: 9, count: 70_000)),
            WebSocketFrame(opcode: .ping, payload: []),
        ]
        let wire = frames.flatMap { $0.encoded(mask: nil) }
        var decoder = WebSocketFrameDecoder(maxPayload: 1 << 20)
        var out: [WebSocketFrame] = []
        for byte in wire {
            decoder.append([byte])
            while let frame = try decoder.next() { out.append(frame) }
        }
        #expect(out == frames)
    }

    @Test func fragmentsWithControlFramesBetween() throws {
        // §5.7: "Hel" + "lo", and a ping in the middle, which is handed back at once.
        let wire: [UInt8] =
            [0x01, 0x03, 0x48, 0x65, 0x6C] + [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F] + [0x80, 0x02, 0x6C, 0x6F]
        var assembler = WebSocketMessageAssembler(maxMessageSize: 1 << 20)
        let outputs = try decodeAll(wire).compactMap { try assembler.accept($0) }
        #expect(
            outputs == [
                .control(WebSocketFrame(opcode: .ping, payload: Self.hello)), .message(.text(Self.hello)),
            ])
        // Binary in three fragments with a pong between the second and third.
        let parts: [WebSocketFrame] = [
            WebSocketFrame(fin: false, opcode: .binary, payload: [1, 2]),
            WebSocketFrame(fin: false, opcode: .continuation, payload: [3]),
            WebSocketFrame(opcode: .pong, payload: [7]),
            WebSocketFrame(opcode: .continuation, payload: [4, 5]),
        ]
        var binary = WebSocketMessageAssembler(maxMessageSize: 1 << 20)
        #expect(
            try parts.compactMap { try binary.accept($0) } == [
                .control(WebSocketFrame(opcode: .pong, payload: [7])), .message(.binary([1, 2, 3, 4, 5])),
            ])
    }

    @Test func violationsAreErrors() throws {
        func fails(_ wire: [UInt8], _ expected: (WebSocketError) -> Bool) {
            let error = #expect(throws: WebSocketError.self) { _ = try decodeAll(wire, max: 1000) }
            if let error { #expect(expected(error), "\(error)") }
        }
        let violation: (WebSocketError) -> Bool = { if case .protocolViolation = $0 { true } else { false } }
        fails([0xC1, 0x00], violation)  // RSV1 without an extension
        fails([0x83, 0x00], violation)  // opcode 3 is reserved
        fails([0x09, 0x00], violation)  // a fragmented ping
        fails([0x89, 0x7E, 0x00, 0x7E] + [UInt8](repeating: 0, count: 126), violation)  // 126-byte ping
        fails([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0], violation)  // 64-bit length with the top bit
        fails([0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0]) { $0 == .messageTooLarge(limit: 1000) }  // refused unread

        var assembler = WebSocketMessageAssembler(maxMessageSize: 10)
        #expect(throws: WebSocketError.self) {
            try assembler.accept(WebSocketFrame(opcode: .continuation, payload: [1]))
        }
        #expect(try assembler.accept(WebSocketFrame(fin: false, opcode: .text, payload: [0x61])) == nil)
        #expect(throws: WebSocketError.self) { try assembler.accept(WebSocketFrame(opcode: .text, payload: [0x61])) }
        var small = WebSocketMessageAssembler(maxMessageSize: 10)
        _ = try small.accept(WebSocketFrame(fin: false, opcode: .binary, payload: [UInt8](repeating: 0, count: 6)))
        #expect(throws: WebSocketError.messageTooLarge(limit: 10)) {
            try small.accept(WebSocketFrame(opcode: .continuation, payload: [UInt8](repeating: 0, count: 6)))
        }
        var text = WebSocketMessageAssembler(maxMessageSize: 10)
        #expect(throws: WebSocketError.self) { try text.accept(WebSocketFrame(opcode: .text, payload: [0xC3, 0x28])) }
    }

    @Test func handshakeAcceptKey() throws {
        // §1.3's example key and answer.
        let handshake = WebSocketHandshake(key: "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(handshake.expectedAccept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let url = try WebSocketURL("ws://127.0.0.1:9515/session/abc")
        let request = String(decoding: handshake.request(for: url), as: UTF8.self)
        #expect(request.hasPrefix("GET /session/abc HTTP/1.1\r\nHost: 127.0.0.1:9515\r\n"))
        #expect(request.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"))
        #expect(request.hasSuffix("Sec-WebSocket-Version: 13\r\n\r\n"))
        let good =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        try handshake.validate(responseHead: good)
        #expect(throws: WebSocketError.self) {
            try handshake.validate(responseHead: good.replacingOccurrences(of: "s3pP", with: "AAAA"))
        }
        #expect(throws: WebSocketError.self) {
            try handshake.validate(responseHead: "HTTP/1.1 404 Not Found\r\nContent-Length: 0")
        }
    }

    @Test func urls() throws {
        let v4 = try WebSocketURL("ws://127.0.0.1:9515/session/abc?x=1")
        #expect((v4.host, v4.port, v4.path) == ("127.0.0.1", 9515, "/session/abc?x=1"))
        let v6 = try WebSocketURL("ws://[::1]:4444/se/bidi")
        #expect((v6.host, v6.port, v6.path) == ("::1", 4444, "/se/bidi"))
        let bare = try WebSocketURL("ws://selenium")
        #expect((bare.host, bare.port, bare.path) == ("selenium", 80, "/"))
        for bad in ["wss://host/", "http://host/", "ws://:80/", "ws://host:0/", "ws://host:99999/", "ws://[::1/"] {
            #expect(throws: WebSocketError.self, "\(bad)") { try WebSocketURL(bad) }
        }
    }
}
