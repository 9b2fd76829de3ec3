#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One line a container wrote.
public struct LogLine: Sendable, Equatable {
    public enum Stream: String, Sendable { case stdout, stderr }
    public var stream: Stream
    /// The engine's time for the line (`timestamps=1`), else nil.
    public var timestamp: Date?
    /// The line without its line break.
    public var text: String

    public init(stream: Stream, timestamp: Date? = nil, text: String) {
        self.stream = stream
        self.timestamp = timestamp
        self.text = text
    }
}

/// Turns the bytes of a logs or exec-start answer into lines, in whatever pieces they arrive.
///
/// A container without a TTY answers with Docker's multiplexed frames: an 8-byte header (stream:
/// 0 stdin, 1 stdout, 2 stderr; three zero bytes; the payload's length, big-endian) and the
/// payload (https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Container/operation/ContainerAttach).
/// Frames need not hold whole lines, so each stream keeps its unfinished line. A TTY container
/// answers with the raw bytes: a first header that cannot be one switches to reading them as
/// stdout. With `timestamps`, each line starts with the engine's RFC 3339 time and a space
/// (podman writes whole seconds, Docker nanoseconds): it becomes `timestamp`.
public struct LogDemuxer: Sendable {
    public let timestamps: Bool
    private var pending: [UInt8] = []
    private var raw: Bool?
    private var partial: [LogLine.Stream: [UInt8]] = [:]

    public init(timestamps: Bool) { self.timestamps = timestamps }

    /// The lines `bytes` completes.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> [LogLine] where Bytes.Element == UInt8 {
        pending.append(contentsOf: bytes)
        var lines: [LogLine] = []
        if raw == nil, let first = pending.first {
            // stdin/stdout/stderr, then three zero bytes: anything else is not a frame header.
            let header = first <= 2 && pending.dropFirst().prefix(3).allSatisfy { $0 == 0 }
            if !header || pending.count >= 4 { raw = !header }
        }
        if raw == true {
            split(pending[...], into: .stdout, &lines)
            pending.removeAll(keepingCapacity: true)
            return lines
        }
        var start = 0
        while pending.count - start >= 8 {
            let length = pending[(start + 4)..<(start + 8)].reduce(0) { $0 << 8 | Int($1) }
            guard pending.count - start - 8 >= length else { break }
            let stream: LogLine.Stream = pending[start] == 2 ? .stderr : .stdout
            split(pending[(start + 8)..<(start + 8 + length)], into: stream, &lines)
            start += 8 + length
        }
        pending.removeFirst(start)
        return lines
    }

    /// The unfinished lines, once the stream has ended.
    public mutating func finish() -> [LogLine] {
        var lines: [LogLine] = []
        for stream in [LogLine.Stream.stdout, .stderr] {
            if let rest = partial[stream], !rest.isEmpty { lines.append(line(rest[...], stream)) }
        }
        partial.removeAll()
        return lines
    }

    private mutating func split(_ payload: ArraySlice<UInt8>, into stream: LogLine.Stream, _ lines: inout [LogLine]) {
        var buffer = partial[stream] ?? []
        var rest = payload
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            buffer.append(contentsOf: rest[..<newline])
            lines.append(line(buffer[...], stream))
            buffer.removeAll(keepingCapacity: true)
            rest = rest[(newline + 1)...]
        }
        buffer.append(contentsOf: rest)
        partial[stream] = buffer
    }

    private func line(_ bytes: ArraySlice<UInt8>, _ stream: LogLine.Stream) -> LogLine {
        var body = bytes
        if body.last == UInt8(ascii: "\r") { body = body.dropLast() }
        var timestamp: Date?
        if timestamps, let space = body.firstIndex(of: UInt8(ascii: " ")),
            let time = RFC3339.parse(Substring(decoding: body[..<space], as: UTF8.self))
        {
            timestamp = time
            body = body[(space + 1)...]
        }
        return LogLine(stream: stream, timestamp: timestamp, text: String(decoding: body, as: UTF8.self))
    }
}
