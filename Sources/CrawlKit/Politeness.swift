import JSONKit

/// The job's `politeness` block: limits per host across the whole fleet (README, "Politeness").
/// Absent, nothing is limited beyond `crawl.politenessDelay` within each task.
public struct PolitenessSettings: Sendable, Equatable {
    /// At most this many tasks hold one host's URLs at once (the ledger's host slots).
    public var maxTasksPerHost: Int?
    /// Requests per second to one host, all tasks together: each task holding the host paces at
    /// its share.
    public var requestsPerSecondPerHost: Double?

    public init(maxTasksPerHost: Int? = nil, requestsPerSecondPerHost: Double? = nil) {
        self.maxTasksPerHost = maxTasksPerHost
        self.requestsPerSecondPerHost = requestsPerSecondPerHost
    }

    public var isEmpty: Bool { maxTasksPerHost == nil && requestsPerSecondPerHost == nil }

    /// Reads the block (its shape is checked by the schema), adding what a shape cannot say.
    static func read(_ raw: JSONValue?, into problems: inout [JobProblem]) -> PolitenessSettings {
        guard let raw, raw.objectValue != nil else { return PolitenessSettings() }
        let settings = PolitenessSettings(
            maxTasksPerHost: raw["maxTasksPerHost"]?.intValue,
            requestsPerSecondPerHost: raw["requestsPerSecondPerHost"]?.doubleValue)
        if let rate = settings.requestsPerSecondPerHost, rate.isFinite, rate <= 0 {
            problems.append(
                JobProblem(
                    "politeness.requestsPerSecondPerHost",
                    "a rate of 0 never finishes a URL: give requests per second above 0 (0.5 is one request every 2 s), or remove the key for no rate limit"
                ))
        }
        return settings
    }

    /// How many tasks can hold a host at once: its limit, the run's task limit, and the batches
    /// that hold any of its URLs, whichever is least.
    public func holders(batchesWithHost: Int, maxTasks: Int) -> Int {
        max(1, min(maxTasksPerHost ?? Int.max, maxTasks, batchesWithHost))
    }

    /// Seconds between two requests of one task to a host held by at most `holders` tasks at
    /// once (so that all of them together keep to the rate); `crawlDelay` is a floor. Nil: no pace.
    public func interval(holders: Int, crawlDelay: Double?) -> Double? {
        let share = requestsPerSecondPerHost.map { Double(max(1, holders)) / $0 }
        switch (share, crawlDelay) {
        case (nil, nil): return nil
        case (let s?, nil): return s
        case (nil, let d?): return d > 0 ? d : nil
        case (let s?, let d?): return max(s, d)
        }
    }

    /// The shortest time a host's `urls` can take under these limits alone, seconds (nil when
    /// nothing limits it): the rate, else the task limit at `secondsPerPage` per page and
    /// `pagesAtOnce` pages at once per task.
    public func hostSeconds(urls: Int, secondsPerPage: Double, pagesAtOnce: Int) -> Double? {
        if let rate = requestsPerSecondPerHost, rate > 0 { return Double(urls) / rate }
        if let tasks = maxTasksPerHost {
            return Double(urls) * secondsPerPage / Double(tasks * max(1, pagesAtOnce))
        }
        return nil
    }

    /// What `plan` shows as the limit.
    public var limitText: String {
        var parts: [String] = []
        if let n = maxTasksPerHost { parts.append("\(n) task\(n == 1 ? "" : "s")") }
        if let r = requestsPerSecondPerHost { parts.append("\(Shape.show(r)) req/s") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}
