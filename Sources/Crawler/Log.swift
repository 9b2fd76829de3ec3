import CrawlKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Log lines with a timestamp and a level, one write(2) each, so lines from several sessions
/// never interleave: `2026-11-21T10:37:00.123Z info  crawler: …`.
public struct Log: Sendable {
    public enum Level: String, Sendable { case info, warn, error }
    let fd: Int32
    public init(fd: Int32 = 1) { self.fd = fd }

    public func info(_ message: String) { write(.info, message) }
    public func warn(_ message: String) { write(.warn, message) }
    public func error(_ message: String) { write(.error, message) }

    public func write(_ level: Level, _ message: String) {
        let pad = level == .info ? "  " : " "
        var line = "\(Timestamp.now()) \(level.rawValue)\(pad)crawler: \(message)\n"
        line.withUTF8 { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(fd, buf.baseAddress.map { $0 + offset }, buf.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }
}
