/// Where each host's URLs went in a plan: per host its URLs and batches, per batch its hosts, and
/// every robots.txt origin. One more pass over the URL list (`Planner.assign`), made only when
/// the job limits hosts or obeys robots.txt.
public struct HostPlan: Sendable {
    public struct Host: Sendable, Equatable {
        public var name: String
        public var urls: Int
        public var batches: Int
    }

    /// By host name (lower case), as the crawler's pacer names them.
    public private(set) var hosts: [String: Host] = [:]
    /// The hosts of each batch, by batch index.
    public private(set) var batchHosts: [[String]] = []
    public private(set) var origins: [RobotsOrigin] = []

    public init(planner: Planner, summary: PlanSummary) {
        var seenOrigins = Set<String>()
        var batchSets: [Set<String>] = []
        planner.assign(summary: summary) { index, url in
            guard let origin = RobotsOrigin(url: url) else { return }
            while batchSets.count <= index { batchSets.append([]) }
            if batchSets[index].insert(origin.host).inserted {
                hosts[origin.host, default: Host(name: origin.host, urls: 0, batches: 0)].batches += 1
            }
            hosts[origin.host]?.urls += 1
            if seenOrigins.insert(origin.key).inserted { origins.append(RobotsOrigin(url: origin.robotsURL) ?? origin) }
        }
        batchHosts = batchSets.map { $0.sorted() }
    }

    /// Hosts by URLs, most first (ties by name).
    public var largestFirst: [Host] {
        hosts.values.sorted { ($0.urls, $1.name) > ($1.urls, $0.name) }
    }
}
