import CrawlKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What `inspectContainer` tells of a container.
public struct ContainerInfo: Sendable, Equatable {
    public var id: String
    /// Without the engine's leading `/`.
    public var name: String
    public var image: String
    public var labels: [String: String]
    public var state: ContainerState
}

/// `State` of an inspected container.
public struct ContainerState: Sendable, Equatable {
    /// `created`, `running`, `exited`, … (podman adds `configured`, `stopped`).
    public var status: String
    public var running: Bool
    /// 137 for SIGKILL (an OOM kill too), 143 for SIGTERM: 128 + the signal.
    public var exitCode: Int
    /// The kernel's OOM killer ended a process of the container.
    public var oomKilled: Bool
    public var error: String?
    public var startedAt: Date?
    /// Nil until the container has stopped (the engine says `0001-01-01T00:00:00Z`).
    public var finishedAt: Date?
    /// `starting`, `healthy`, `unhealthy`, when the container has a health check.
    public var health: String?
}

/// A container of `listContainers`.
public struct ContainerSummary: Sendable, Equatable {
    public var id: String
    public var names: [String]
    public var image: String
    /// `created`, `running`, `exited`, …
    public var state: String
    public var labels: [String: String]
}

/// The engine's times: RFC 3339 with any number of fractional digits (Docker and podman write
/// nanoseconds; podman's log timestamps are whole seconds) and `Z` or a `±hh:mm` offset.
/// https://www.rfc-editor.org/rfc/rfc3339#section-5.6
enum RFC3339 {
    static func parse(_ text: String) -> Date? { parse(Substring(text)) }

    static func parse(_ text: Substring) -> Date? {
        let b = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var n = 0
            for i in from..<(from + count) {
                guard (48...57).contains(b[i]) else { return nil }
                n = n * 10 + Int(b[i] - 48)
            }
            return n
        }
        guard b.count >= 20, let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
            b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116, b[13] == 58, b[16] == 58,
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        // Year 1 is the engine's "never" (Go's zero time).
        if year <= 1 { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 46 {
            var scale = 0.1
            i += 1
            let start = i
            while i < b.count, (48...57).contains(b[i]) {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            if i == start { return nil }
        }
        var offset = 0
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let h = number(i + 1, 2), let m = number(i + 4, 2), b[i + 3] == 58 {
            offset = (h * 60 + m) * 60 * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds =
            Timestamp.daysSince1970(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: Double(seconds - offset) + fraction)
    }
}
