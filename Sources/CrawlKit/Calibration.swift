#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What `crawlrun calibrate` measured for a job: a sample of its own URLs crawled at each Fargate
/// size, and the choice made from it. Saved beside the job (`calibrationPath`); `crawlrun plan`
/// takes its seconds per page and start-up from it for the job's task size.
public struct Calibration: Codable, Sendable, Equatable {
    /// One task size's figures.
    public struct Row: Codable, Sendable, Equatable {
        public var cpu: Int
        public var memory: Int
        public var sessions: Int
        public var tabsPerSession: Int
        public var pages: Int
        public var ok: Int
        /// From the crawler's first record to its last: the steady rate, start-up left out.
        public var pagesPerSecond: Double
        /// From the task's start to its crawler's first record.
        public var startupSeconds: Double
        /// CPU-seconds of the whole task per page; nil where it could not be read (local backend).
        public var cpuSecondsPerPage: Double?
        public var peakMemoryMiB: Double?

        public init(
            cpu: Int, memory: Int, sessions: Int, tabsPerSession: Int, pages: Int, ok: Int, pagesPerSecond: Double,
            startupSeconds: Double, cpuSecondsPerPage: Double? = nil, peakMemoryMiB: Double? = nil
        ) {
            self.cpu = cpu
            self.memory = memory
            self.sessions = sessions
            self.tabsPerSession = tabsPerSession
            self.pages = pages
            self.ok = ok
            self.pagesPerSecond = pagesPerSecond
            self.startupSeconds = startupSeconds
            self.cpuSecondsPerPage = cpuSecondsPerPage
            self.peakMemoryMiB = peakMemoryMiB
        }

        public var okRate: Double { pages == 0 ? 0 : Double(ok) / Double(pages) }
        public var vcpus: Double { Double(cpu) / 1024 }

        /// Dollars per 1,000 pages at Fargate's on-demand price, start-up left out (a long batch).
        public func usdPerThousandPages(architecture: String) -> Double {
            guard pagesPerSecond > 0 else { return .infinity }
            return 1000 / pagesPerSecond * FargatePrice.perSecond(cpu: cpu, memory: memory, architecture: architecture)
        }
    }

    public var job: String
    /// `docker` (limits as on Fargate) or `local` (no limits: every row is this machine's).
    public var backend: String
    public var architecture: String
    public var measuredAt: String
    public var rows: [Row]

    public init(job: String, backend: String, architecture: String, measuredAt: String, rows: [Row]) {
        self.job = job
        self.backend = backend
        self.architecture = architecture
        self.measuredAt = measuredAt
        self.rows = rows
    }

    /// The Fargate sizes tried: each vCPU step with the smallest memory Fargate allows for it
    /// that holds the browsers the plan would choose there (`CrawlConcurrency`).
    /// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
    public static let fargateMemory: [(cpu: Int, memory: [Int])] = [
        (256, [512, 1024, 2048]), (512, [1024, 2048, 3072, 4096]), (1024, [2048, 3072, 4096, 5120, 6144, 7168, 8192]),
        (2048, Array(stride(from: 4096, through: 16384, by: 1024))),
        (4096, Array(stride(from: 8192, through: 30720, by: 1024))),
    ]

    public static func sizes(sessions: Int?, tabs: Int?) -> [(cpu: Int, memory: Int)] {
        fargateMemory.compactMap { step in
            let largest = step.memory.last ?? 0
            let c = CrawlConcurrency.choose(cpu: step.cpu, memory: largest, sessions: sessions, tabs: tabs)
            let need =
                CrawlConcurrency.reservedMiB + c.sessions
                * (CrawlConcurrency.browserMiB + c.tabsPerSession * CrawlConcurrency.tabMiB)
            return step.memory.first { $0 >= need }.map { (step.cpu, $0) }
        }
    }

    /// The cheapest size per page among those whose ok rate is the best measured (a size that
    /// loses pages — timeouts, a browser out of memory — is no bargain).
    public var recommended: Row? {
        guard let best = rows.map(\.okRate).max() else { return nil }
        return rows.filter { $0.okRate >= best - 1e-9 && $0.pagesPerSecond > 0 }
            .min {
                $0.usdPerThousandPages(architecture: architecture) < $1.usdPerThousandPages(architecture: architecture)
            }
    }

    /// URLs per batch so that start-up (`startupSeconds`: on Fargate the provisioning and image
    /// pull, `task.startupSeconds`, plus the measured in-task start) stays under 10 % of a task's time:
    /// start ≤ 0.1 × (start + pages / rate) ⇔ pages ≥ 9 × start × rate.
    public static func batchSize(row: Row, startupSeconds: Double) -> Int {
        max(1, Int((9 * startupSeconds * row.pagesPerSecond).rounded(.up)))
    }

    /// Where the calibration of the job at `jobPath` is kept: `job.json` → `job.calibration.json`.
    public static func path(forJob jobPath: String) -> String {
        let base = jobPath.hasSuffix(".json") ? String(jobPath.dropLast(5)) : jobPath
        return base + ".calibration.json"
    }
}

extension Calibration {
    /// The calibration saved for the job at `jobPath`, if there is one that reads.
    public static func load(forJob jobPath: String) -> Calibration? {
        guard let data = FileManager.default.contents(atPath: path(forJob: jobPath)) else { return nil }
        return try? JSONDecoder().decode(Calibration.self, from: data)
    }

    /// Sets the job's seconds per page from the row measured at its task size (the same vCPUs;
    /// on the local backend, its only row): the estimate divides it by the pages in flight, so
    /// it is pages in flight ÷ pages/s. Task start-up on Fargate (provisioning, image pull) is
    /// not measured here and stays the job's. Returns the row used.
    public func apply(to job: inout Job) -> Row? {
        guard
            let row = rows.first(where: { $0.cpu == job.task.cpu && $0.memory == job.task.memory })
                ?? rows.first(where: { $0.cpu == job.task.cpu }) ?? (backend == "local" ? rows.first : nil),
            row.pagesPerSecond > 0
        else { return nil }
        job.task.secondsPerPage =
            (Double(max(1, job.concurrency.pagesInFlight)) / row.pagesPerSecond * 1000).rounded() / 1000
        return row
    }
}
