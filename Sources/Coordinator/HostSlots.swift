/// Host slots across the fleet (`politeness.maxTasksPerHost`), as a plain value the ledger asks
/// before each launch: a batch may start only while every host it holds URLs of is held by fewer
/// than `limit` running batches. The ledger skips a batch that may not start and launches the
/// next one that may, so no task slot idles while another host has work.
public struct HostSlots: Sendable, Codable, Equatable {
    public var limit: Int
    /// The hosts of each batch (by id).
    public var hosts: [String: [String]]

    public init(limit: Int, hosts: [String: [String]]) {
        self.limit = max(1, limit)
        self.hosts = hosts
    }

    /// How many of `holding` (batch ids holding a task slot) hold each host.
    public func held(by holding: some Sequence<String>) -> [String: Int] {
        var count: [String: Int] = [:]
        for batch in holding { for host in hosts[batch] ?? [] { count[host, default: 0] += 1 } }
        return count
    }

    /// Whether `batch` may start while `held` tasks hold each host.
    public func mayStart(_ batch: String, held: [String: Int]) -> Bool {
        (hosts[batch] ?? []).allSatisfy { held[$0, default: 0] < limit }
    }

    /// The position in `candidates` (in launch order) of the first batch that may start, or nil
    /// when every one waits for a host.
    public func firstLaunchable(_ candidates: some Sequence<String>, holding: some Sequence<String>) -> Int? {
        let held = held(by: holding)
        for (k, batch) in candidates.enumerated() where mayStart(batch, held: held) { return k }
        return nil
    }
}
