import CrawlKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Log lines with a timestamp and a level, one write(2) each, so lines from several sessions
/// never interleave: `2026-11-21T10:37:00.123Z info  crawler: …`. Every copy of a `Log` shares
/// one `copy`: once opened, each line also goes to that file (the log the crawler uploads beside
/// its results on S3).
public struct Log: Sendable {
    public enum Level: String, Sendable { case info, warn, error }
    let fd: Int32
    public let copy = LogCopy()
    public init(fd: Int32 = 1) { self.fd = fd }

    public func info(_ message: String) { write(.info, message) }
    public func warn(_ message: String) { write(.warn, message) }
    public func error(_ message: String) { write(.error, message) }

    public func write(_ level: Level, _ message: String) {
        let pad = level == .info ? "  " : " "
        var line = "\(Timestamp.now()) \(level.rawValue)\(pad)crawler: \(message)\n"
        line.withUTF8 { buf in
            Self.write(buf, to: fd)
            copy.write(buf)
        }
    }

    static func write(_ buf: UnsafeBufferPointer<UInt8>, to fd: Int32) {
        var offset = 0
        while offset < buf.count {
            let n = Glibc.write(fd, buf.baseAddress.map { $0 + offset }, buf.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
    }
}

/// The file a `Log` also writes to, once `open` names one (O_APPEND: one write(2) per line).
public final class LogCopy: Sendable {
    private let fd = Mutex<Int32>(-1)
    public init() {}

    /// Starts copying every line to `path` (created or truncated); false when it cannot be opened.
    @discardableResult
    public func open(_ path: String) -> Bool {
        let opened = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard opened >= 0 else { return false }
        fd.withLock {
            if $0 >= 0 { _ = Glibc.close($0) }
            $0 = opened
        }
        return true
    }

    func write(_ buf: UnsafeBufferPointer<UInt8>) {
        fd.withLock { if $0 >= 0 { Log.write(buf, to: $0) } }
    }

    public func close() {
        fd.withLock {
            if $0 >= 0 { _ = Glibc.close($0) }
            $0 = -1
        }
    }
}
