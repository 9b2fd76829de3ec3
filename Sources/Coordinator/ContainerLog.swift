import CrawlKit
import Foundation
import Synchronization

/// A container's log file in the run directory (`logs/<batch>/<container>.log`): each line with
/// the time it was captured, like `docker logs -t` (lines that already begin with a timestamp,
/// as the crawler's do, are kept as they are). Every attempt of a batch appends to it.
public final class ContainerLog: Sendable {
    private let path: String
    /// Opened on the first line: a container that never started has no log file.
    private let fd = Mutex<Int32?>(nil)
    private let lastErrorLine = Mutex<String?>(nil)

    public init(path: String) { self.path = path }

    /// The message of the last `error` line the crawler logged (`<time> error crawler: …`): why
    /// it exited, for the console.
    public var lastError: String? { lastErrorLine.withLock { $0 } }

    public func write(_ line: String) {
        if let r = line.firstRange(of: " error crawler: ") {
            lastErrorLine.withLock { $0 = String(line[r.upperBound...]) }
        }
        let stamped = Self.hasTimestamp(line) ? line + "\n" : Timestamp.now() + " " + line + "\n"
        fd.withLock { stored in
            if stored == nil {
                try? FileManager.default.createDirectory(
                    atPath: Paths.directory(of: path), withIntermediateDirectories: true)
                stored = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            }
            guard let fd = stored, fd >= 0 else { return }
            writeAll(fd, Array(stamped.utf8))
        }
    }

    /// A line from crawlrun itself about this container.
    public func note(_ message: String) { write(Timestamp.now() + " crawlrun: " + message) }

    public func close() {
        fd.withLock { fd in
            if let open = fd, open >= 0 { _ = Foundation.close(open) }
            fd = -1
        }
    }

    /// `2026-11-22T02:11:04…`: a line that carries its own time.
    public static func hasTimestamp(_ line: String) -> Bool {
        let u = Array(line.utf8.prefix(11))
        return u.count == 11 && u[4] == UInt8(ascii: "-") && u[7] == UInt8(ascii: "-") && u[10] == UInt8(ascii: "T")
    }
}

/// Writes every byte (short writes and EINTR retried); false on an error, errno says which.
@discardableResult
public func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress.map { $0 + off }, $0.count - off) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return false }
        off += n
    }
    return true
}
