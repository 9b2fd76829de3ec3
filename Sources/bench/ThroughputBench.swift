import CrawlKit
import Crawler
import Foundation
import HTTP
import JSONKit
import ProcessKit
import TestSupport
import WebDriver

/// `bench --only throughput` (issue 14): pages/s and CPU-seconds per page of the whole task —
/// chromedriver, the browsers it starts and the crawler — for one session, several, and several
/// tabs per session, against the bare WebDriver loop; at 0 and 250 ms per response on the
/// loopback fixture site, and on pages with images, a font and a video, blocked or not.
func throughputSection(urlCount: Int, delays: [Int]) async throws {
    let driver = try await ChromeDriver.start()
    defer { Task { await driver.stop() } }
    print("\nthroughput: \(urlCount) URLs per row; CPU-s/page: chromedriver + browsers + crawler")
    print("| latency | mode | pages/s | CPU-s/page | browsers' peak PSS |")
    print("|---|---|---|---|---|")
    let widths = [(1, 1), (2, 1), (4, 1), (1, 4), (1, 8), (2, 4), (2, 8)]
    for delay in delays {
        let urls = (1...urlCount).map { server.baseURL + "/page/\($0)?ms=\(delay)" }
        let floor = try await measureTask(driver) { try await bareLoop(driver: driver.url, urls: urls) }
        print(row("\(delay) ms", "bare WebDriver loop (floor)", floor, urlCount))
        for (s, t) in widths {
            var o = crawlOptions
            o.sessions = s
            o.tabsPerSession = t
            let m = try await measureTask(driver) { try await crawlOnce(driver: driver.url, urls: urls, options: o) }
            print(row("\(delay) ms", "\(s) session\(s == 1 ? "" : "s") × \(t) tab\(t == 1 ? "" : "s")", m, urlCount))
        }
    }
    guard delays.contains(0) else { return }
    let rich = (1...urlCount).map { server.baseURL + "/rich/\($0)" }
    for (s, t) in [(1, 1), (1, 4)] {
        for block in [[], [BlockedResource.images, .fonts, .media]] {
            var o = crawlOptions
            o.sessions = s
            o.tabsPerSession = t
            o.block = block
            let m = try await measureTask(driver) { try await crawlOnce(driver: driver.url, urls: rich, options: o) }
            let what = block.isEmpty ? "nothing blocked" : "images, fonts, media blocked"
            print(row("0 ms, /rich", "\(s) × \(t), \(what)", m, urlCount))
        }
    }
}

struct TaskCost {
    var seconds: Double
    var cpuSeconds: Double
    var peakBrowserRSSMiB: Double
}

func row(_ latency: String, _ mode: String, _ m: TaskCost, _ n: Int) -> String {
    "| \(latency) | \(mode) | \(f(Double(n) / m.seconds)) | \(f(m.cpuSeconds / Double(n), 3)) | \(f(m.peakBrowserRSSMiB, 0)) MiB |"
}

/// Runs `body`, sampling the CPU time and memory of chromedriver's process group (the browsers)
/// every 50 ms, and adds the CPU of the children the bench reaped meanwhile (the crawler).
func measureTask(_ driver: ChromeDriver, _ body: () async throws -> Void) async throws -> TaskCost {
    let sampler = GroupSampler(pgid: driver.process.pid)
    let children0 = childrenCPU()
    let start = ContinuousClock.now
    let sampling = Task { await sampler.run() }
    try await body()
    let elapsed = seconds(ContinuousClock.now - start)
    // The sessions were deleted: wait for their browsers to exit, then take the last sample.
    for _ in 0..<100 where driver.browserProcessCount > 1 { try? await Task.sleep(for: .milliseconds(50)) }
    sampling.cancel()
    await sampling.value
    sampler.sample()
    let total = sampler.cpuSeconds + (childrenCPU() - children0)
    return TaskCost(seconds: elapsed, cpuSeconds: total, peakBrowserRSSMiB: sampler.peakRSSMiB)
}

/// CPU-seconds of this process's reaped children (getrusage RUSAGE_CHILDREN).
func childrenCPU() -> Double {
    var u = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &u)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return s(u.ru_utime) + s(u.ru_stime)
}

/// CPU time per process of a process group, as last seen (a process that exits keeps its last
/// sample), and the group's peak resident memory without the group leader (chromedriver).
final class GroupSampler: @unchecked Sendable {
    let pgid: pid_t
    private let lock = NSLock()
    private var first: [pid_t: Double] = [:]
    private var last: [pid_t: Double] = [:]
    private var peak = 0.0
    private let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
    private let page = Double(sysconf(Int32(_SC_PAGESIZE)))

    init(pgid: pid_t) {
        self.pgid = pgid
        sample()
        lock.withLock { first = last }
    }

    func run() async {
        while !Task.isCancelled {
            sample()
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    func sample() {
        var rss = 0.0
        var seen: [pid_t: Double] = [:]
        for pid in processesInGroup(pgid) {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = text.lastIndex(of: ")")
            else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            // After the name: state is field 3; utime 14, stime 15, rss 24 (proc(5)).
            guard fields.count > 21, let u = Double(fields[11]), let s = Double(fields[12]), let r = Double(fields[21])
            else { continue }
            seen[pid] = (u + s) / tick
            if pid != pgid { rss += proportionalMiB(pid) ?? r * page / 1_048_576 }
        }
        lock.withLock {
            for (pid, cpu) in seen { last[pid] = cpu }
            peak = max(peak, rss)
        }
    }

    /// The process's proportional set size (shared pages divided among their users): summing
    /// RSS would count the browser's shared libraries once per process.
    func proportionalMiB(_ pid: pid_t) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Pss:") }),
            let kb = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return nil }
        return kb / 1024
    }

    var cpuSeconds: Double { lock.withLock { last.reduce(0) { $0 + $1.value - (first[$1.key] ?? 0) } } }
    var peakRSSMiB: Double { lock.withLock { peak } }
}

/// The floor: one session, navigate and read the title, nothing else.
func bareLoop(driver: String, urls: [String]) async throws {
    let client = WebDriverClient(baseURL: driver, http: CurlHTTPClient())
    let session = try await client.newSession(alwaysMatch: PageVisitor.capabilities(crawlOptions, tabs: false))
    for u in urls {
        try await session.navigate(to: u)
        _ = try await session.title()
    }
    try await session.delete()
}

/// The release crawler on `urls`; every record must be ok.
func crawlOnce(driver: String, urls: [String], options: CrawlOptions) async throws {
    let label = "tp-\(options.sessions)x\(options.tabsPerSession)-\(UUID().uuidString.prefix(6))"
    let batchPath = workDir + "/\(label).json"
    let out = workDir + "/\(label).jsonl"
    try JSONEncoder().encode(BatchFile(batch: label, urls: urls, crawl: options)).write(
        to: URL(fileURLWithPath: batchPath))
    var env = ProcessInfo.processInfo.environment
    env["CRAWL_BATCH"] = batchPath
    env["CRAWL_OUT"] = out
    env["WEBDRIVER_URL"] = driver
    let lines = LockedLines()
    let p = try ChildProcess(crawlerBin, environment: env, stdout: .lines { lines.add($0) }, stderr: .inherit)
    let status = await p.wait()
    guard status == .exited(0) else { throw FixtureError("crawler failed: \(status)\n\(lines.text)") }
    let records = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map {
        try JSONDecoder().decode(ResultRecord.self, from: Data($0.utf8))
    }
    guard records.count == urls.count, records.allSatisfy(\.ok) else {
        throw FixtureError(
            "\(label): \(records.filter { !$0.ok }.count) of \(records.count) records failed\n\(lines.text)")
    }
}
