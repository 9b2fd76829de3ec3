import CrawlKit
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Per host, what the run's records say about its pace: page loads, the span from the first
/// load's start to the last one's end, the measured rate against the job's limit, and the
/// back-offs (429/503) its records carry (`backoffs`). report.json `hosts`, report.html.
public struct HostRates: Sendable, Equatable {
    public struct Host: Sendable, Equatable {
        public var name: String
        public var urls = 0
        /// Attempts that loaded a page (robots-refused and invalid URLs load none).
        public var loads = 0
        public var backoffs = 0
        public var first = Double.infinity
        public var last = -Double.infinity

        public var seconds: Double { last > first ? last - first : 0 }
        /// Loads per second over the host's span; nil for fewer than two loads.
        public var rate: Double? { loads > 1 && seconds > 0 ? Double(loads) / seconds : nil }
    }

    public var hosts: [Host]
    /// `politeness.requestsPerSecondPerHost`, when the job set one.
    public var limit: Double?

    /// Reads merged results (JSON Lines); hosts by loads, most first.
    public init(results: [UInt8], limit: Double?) {
        self.limit = limit
        var byHost: [String: Host] = [:]
        for line in results.split(separator: 10) {
            guard let v = try? JSONValue.decode(Data(line)), let url = v["url"]?.stringValue,
                let host = RobotsOrigin(url: url)?.host
            else { continue }
            var h = byHost[host] ?? Host(name: host)
            h.urls += 1
            h.backoffs += v["backoffs"]?.intValue ?? 0
            let attempts = v["attempts"]?.intValue ?? 0
            if attempts > 0, let started = v["startedAt"]?.stringValue.flatMap { Timestamp.epochSeconds(of: $0) } {
                h.loads += attempts
                h.first = min(h.first, started)
                h.last = max(h.last, started + Double(v["ms"]?.intValue ?? 0) / 1000)
            }
            byHost[host] = h
        }
        hosts = byHost.values.sorted { ($0.loads, $1.name) > ($1.loads, $0.name) }
    }

    public var totalBackoffs: Int { hosts.reduce(0) { $0 + $1.backoffs } }

    public var json: JSONValue {
        [
            "limitPerSecond": limit.map { .number($0) } ?? .null,
            "list": .array(
                hosts.map { h in
                    [
                        "host": .string(h.name), "urls": .number(Double(h.urls)), "loads": .number(Double(h.loads)),
                        "seconds": .number((h.seconds * 1000).rounded() / 1000),
                        "perSecond": h.rate.map { .number(($0 * 1000).rounded() / 1000) } ?? .null,
                        "backoffs": .number(Double(h.backoffs)),
                    ]
                }),
        ]
    }
}
