import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Counts from planning a job.
public struct PlanSummary: Sendable {
    public var inputURLs = 0
    public var distinctURLs = 0
    public var duplicates = 0
    public var batchCount = 0
    public var batchSize = 0
    public var largestBatch = 0
    public var smallestBatch = 0
    /// URLs whose host is a loopback or private address by itself (`127.0.0.1`, `localhost`,
    /// `10.…`) while `crawl.allowPrivateNetworks` is off: the crawler would refuse every one.
    public var privateURLs = 0
    public var privateExample: String?

    /// The warning `plan`, `run` and `crawl` print when `privateURLs` > 0.
    public var privateNetworkWarning: String? {
        guard privateURLs > 0, let example = privateExample else { return nil }
        return "\(privateURLs) URL\(privateURLs == 1 ? " is" : "s are") on a loopback or private address "
            + "(e.g. \(example)) and will be refused (`blocked`): set crawl.allowPrivateNetworks to true in the job "
            + "(crawlrun crawl: --allow-private-networks)"
    }
}

/// Turns a job's URL list into batches: deterministic (same job, same batches and ids), ids that
/// sort (`0001`…), balanced sizes. URLs stream through in two passes (count, then assign), so a
/// million-line list needs only 8 bytes per distinct URL for de-duplication. With `groupByHost`
/// the URLs are held in memory to keep each host's URLs together.
public struct Planner: Sendable {
    public let job: Job
    public init(job: Job) { self.job = job }

    /// Every URL of the job with its place (`file:line` or `urls[i]`); nil for a line of the URL
    /// list that is not valid UTF-8.
    func forEachURL(_ body: (String, String?) throws -> Void) rethrows {
        if let inline = job.inlineURLs {
            for (i, u) in inline.enumerated() { try body("urls[\(i)]", u) }
        } else if let file = job.urlsFile {
            for entry in URLListReader(path: file) {
                try body("\(file):\(entry.line)", entry.isValidUTF8 ? entry.url : nil)
            }
        }
    }

    /// Pass 1: validates every URL (all problems, with places) and counts distinct ones.
    public func check() throws -> PlanSummary {
        var urls = URLCheck(job: job)
        var seen = Set<UInt64>()
        var summary = PlanSummary()
        forEachURL { place, raw in
            summary.inputURLs += 1
            guard let n = urls.check(raw, at: place) else { return }
            if !seen.insert(URLNormalizer.fingerprint(n.url)).inserted {
                summary.duplicates += 1
            } else if !job.crawl.allowPrivateNetworks,
                let category = IPAddress.literalCategory(host: n.host),
                category == .loopback || category == .privateNetwork
            {
                summary.privateURLs += 1
                if summary.privateExample == nil { summary.privateExample = raw }
            }
        }
        if !urls.problems.isEmpty { throw JobError(file: job.path, problems: urls.problems) }
        if summary.inputURLs == 0 {
            throw JobError(file: job.path, problems: [JobProblem(job.urlsFile ?? "urls", "no URLs to crawl")])
        }
        summary.distinctURLs = seen.count
        let count = batchCount(distinct: seen.count)
        summary.batchCount = count
        summary.batchSize = (seen.count + count - 1) / count
        summary.largestBatch = summary.batchSize
        summary.smallestBatch = seen.count / count
        return summary
    }

    /// The URL problems alone, for a job that has other problems: every mistake is named at once.
    func urlProblems() -> [JobProblem] {
        var urls = URLCheck(job: job)
        forEachURL { place, raw in _ = urls.check(raw, at: place) }
        return urls.problems
    }

    public func batchCount(distinct: Int) -> Int {
        guard distinct > 0 else { return 0 }
        if let tasks = job.tasks { return min(tasks, distinct) }
        let size = job.batchSize ?? Job.defaultBatchSize
        return (distinct + size - 1) / size
    }

    public static func batchID(_ index: Int, of count: Int) -> String {
        let width = max(4, String(count).count)
        let s = String(index + 1)
        return String(repeating: "0", count: width - s.count) + s
    }

    /// Pass 2: calls `emit(batchIndex, url)` for every distinct URL, batch by batch in order
    /// (without host grouping the batches are contiguous runs of the list). Sizes differ by at
    /// most one: the first `distinct % count` batches take one more URL.
    public func assign(summary: PlanSummary, _ emit: (Int, String) throws -> Void) rethrows {
        let count = summary.batchCount
        guard count > 0 else { return }
        let normalizer = URLNormalizer(removeTrackingParameters: job.removeTrackingParameters)
        var seen = Set<UInt64>()
        seen.reserveCapacity(summary.distinctURLs)
        if job.groupByHost {
            var byHost: [String: [String]] = [:]
            forEachURL { _, raw in
                guard let raw, case .success(let n) = normalizer.normalize(raw),
                    seen.insert(URLNormalizer.fingerprint(n.url)).inserted
                else { return }
                byHost[n.host, default: []].append(raw)
            }
            // Largest host first into the emptiest batch (ties by id): hosts larger than a batch
            // are split; everything else stays together.
            let cap = summary.batchSize
            var batches = [[String]](repeating: [], count: count)
            for host in byHost.keys.sorted(by: { (byHost[$0]?.count ?? 0, $1) > (byHost[$1]?.count ?? 0, $0) }) {
                var urls = byHost[host] ?? []
                while !urls.isEmpty {
                    let target = batches.indices.min { (batches[$0].count, $0) < (batches[$1].count, $1) } ?? 0
                    let room = max(1, cap - batches[target].count)
                    batches[target] += urls.prefix(room)
                    urls.removeFirst(min(room, urls.count))
                }
            }
            for (i, b) in batches.enumerated() { for u in b { try emit(i, u) } }
            return
        }
        let base = summary.distinctURLs / count
        let extra = summary.distinctURLs % count
        var batch = 0
        var inBatch = 0
        try forEachURL { _, raw in
            guard let raw, case .success(let n) = normalizer.normalize(raw),
                seen.insert(URLNormalizer.fingerprint(n.url)).inserted
            else { return }
            if inBatch == base + (batch < extra ? 1 : 0) {
                batch += 1
                inBatch = 0
            }
            try emit(batch, raw)
            inBatch += 1
        }
    }
}

/// Checks a job's URLs one at a time. A long list's mistakes are usually one mistake repeated,
/// so the first `limit` are named with their places and the rest counted.
struct URLCheck {
    static let limit = 20
    let normalizer: URLNormalizer
    /// Where the count of the unnamed ones goes: the URL file, or `urls`.
    let listPlace: String
    private var named: [JobProblem] = []
    private var more = 0

    init(job: Job) {
        normalizer = URLNormalizer(removeTrackingParameters: job.removeTrackingParameters)
        listPlace = job.urlsFile ?? "urls"
    }

    var problems: [JobProblem] {
        named + (more == 0 ? [] : [JobProblem(listPlace, "… and \(more) more invalid URL\(more == 1 ? "" : "s")")])
    }

    /// The normalised URL, or nil after noting why `raw` (nil: not valid UTF-8) cannot be crawled.
    mutating func check(_ raw: String?, at place: String) -> (url: String, host: String)? {
        guard let raw else {
            note(JobProblem(place, "not valid UTF-8: save the URL list as UTF-8"))
            return nil
        }
        switch normalizer.normalize(raw) {
        case .success(let n): return n
        case .failure(let p):
            note(JobProblem(place, Self.describe(p, raw)))
            return nil
        }
    }

    private mutating func note(_ problem: JobProblem) {
        if named.count < Self.limit { named.append(problem) } else { more += 1 }
    }

    static func describe(_ p: URLNormalizer.Problem, _ raw: String) -> String {
        switch p {
        case .unparsable: return "\"\(raw.prefix(80))\" is not a valid URL"
        case .notHTTP(let s): return "\"\(raw.prefix(80))\": scheme \(s) is not crawled (http or https only)"
        case .noHost: return "\"\(raw.prefix(80))\" has no host"
        case .whitespace:
            return "\"\(raw.prefix(80))\" contains a blank: write it as %20, or start a comment with \" #\""
        }
    }
}
