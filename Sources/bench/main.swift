import CrawlKit
// `make bench`: CrawlRun's benchmark. Prints figures; it is not a pass/fail test.
// Runs against real chromedriver and the loopback fixture site; nothing leaves the machine.
import Crawler
import Foundation
import HTTP
import JSONKit
import ProcessKit
import TestSupport
import WebDriver

let args = CommandLine.arguments.dropFirst()
if args.contains("--help") {
    print(
        """
        usage: bench [--pages N] [--rounds N] [--plan-urls N] [--run-urls N] [--only crawler|throughput|plan|run|ledger|fargate|s3runs]
          crawler: pages/s (1 and 2 sessions), per-page overhead against a bare WebDriver loop,
                   readiness latency (chromedriver ready → first POST /session), peak RSS.
          throughput: pages/s and CPU-s/page of the whole task (chromedriver, browsers, crawler)
                   at 0 and 250 ms per response: 1, 2, 4 sessions, 1×4 … 2×8 tabs, the bare
                   WebDriver loop; /rich pages with images, fonts, media blocked or not (--urls N, 80; --delay MS: that latency only).
          plan:    `crawlrun plan --json` of a job with N URLs (default 1,000,000): time, peak RSS.
          run:     `crawlrun run` of an N-URL job (default 200) with 1 and 2 tasks: pages/s, and
                   the run's overhead against the crawler alone on the same URLs.
          ledger:  the scheduler with a backend in memory, 20,000 batches of 50 URLs, 500 at once:
                   state.json writes per second and their cost, tasks per second.
          s3runs:  (only with --only) a run on S3 runs-dir (moto_server), instant tasks in memory,
                   --s3-urls N (100,000): state.json writes/s, bytes written to S3 per record,
                   peak RSS, last task's end → run complete on S3.
          fargate: --backend fargate on the rehearsal with instant tasks, N one-URL batches
                   (--fargate-batches, 1,000), M at once (--fargate-tasks, 100): DescribeTasks
                   calls per poll, last task's stop → run's end, crawlrun's peak RSS.
        """)
    exit(0)
}
func intArg(_ name: String, _ fallback: Int) -> Int {
    guard let i = args.firstIndex(of: name), args.index(after: i) < args.endIndex else { return fallback }
    return Int(args[args.index(after: i)]) ?? fallback
}
let pages = intArg("--pages", 100)
let planURLs = intArg("--plan-urls", 1_000_000)
let runURLs = intArg("--run-urls", 200)
let only: String? = args.firstIndex(of: "--only").flatMap {
    args.index(after: $0) < args.endIndex ? args[args.index(after: $0)] : nil
}
func section(_ name: String) -> Bool { only == nil || only == name }
let rounds = intArg("--rounds", 3)
let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
let crawlerBin = binDir + "/crawler"

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s[s.count / 2]
}
func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

/// Figures appear as they are measured, unbuffered: in a file too, a long section that ends in an
/// error keeps what it printed.
func print(_ line: String = "") { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let server = try FixtureServer()
let workDir = NSTemporaryDirectory() + "crawlrun-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: workDir) }
let urls = (1...pages).map { server.baseURL + "/page/\($0)" }
let crawlOptions: CrawlOptions = {
    var o = CrawlOptions()
    o.allowPrivateNetworks = true
    o.fields = ["h1": FieldSpec(selector: "h1"), "price": FieldSpec(selector: ".price")]
    return o
}()

struct CrawlerRun {
    var seconds: Double
    var meanPageMs: Double
    var medianPageMs: Double
    var peakRSSKB: Int
    var log: String
}

/// Runs the release crawler binary on the fixture URLs.
func runCrawler(driver: String, sessions: Int, label: String) async throws -> CrawlerRun {
    var o = crawlOptions
    o.sessions = sessions
    let batchPath = workDir + "/\(label).json"
    let out = workDir + "/\(label).jsonl"
    try? FileManager.default.removeItem(atPath: out)
    try JSONEncoder().encode(BatchFile(batch: label, urls: urls, crawl: o)).write(to: URL(fileURLWithPath: batchPath))
    let lines = LockedLines()
    var env = ProcessInfo.processInfo.environment
    env["CRAWL_BATCH"] = batchPath
    env["CRAWL_OUT"] = out
    env["WEBDRIVER_URL"] = driver
    let start = ContinuousClock.now
    let p = try ChildProcess(crawlerBin, environment: env, stdout: .lines { lines.add($0) }, stderr: .inherit)
    let status = await p.wait()
    let elapsed = ContinuousClock.now - start
    guard status == .exited(0) else { throw FixtureError("crawler failed: \(status)\n\(lines.text)") }
    let records = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map {
        try JSONDecoder().decode(ResultRecord.self, from: Data($0.utf8))
    }
    guard records.count == pages, records.allSatisfy(\.ok) else { throw FixtureError("crawler records incomplete") }
    let mean = Double(records.map(\.ms).reduce(0, +)) / Double(records.count)  // ms starts after the session
    return CrawlerRun(
        seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
        meanPageMs: mean, medianPageMs: median(records.map { Double($0.ms) }), peakRSSKB: p.peakRSSKilobytes ?? 0,
        log: lines.text)
}

/// The floor: navigate + the same single extraction script, over one keep-alive connection.
func floorLoop(driver: String) async throws -> (mean: Double, median: Double) {
    let client = WebDriverClient(baseURL: driver, http: CurlHTTPClient())
    // The crawler's own capabilities: the floor differs only in having no crawler around it.
    let session = try await client.newSession(alwaysMatch: PageVisitor.capabilities(crawlOptions))
    defer { Task { try? await session.delete() } }
    let spec: JSONValue = ["h1": ["selector": "h1", "all": false], "price": ["selector": ".price", "all": false]]
    var times: [Double] = []
    for u in urls {
        let start = ContinuousClock.now
        try await session.navigate(to: u)
        _ = try await session.execute(PageScripts.extract, args: [spec])
        let e = ContinuousClock.now - start
        times.append(Double(e.components.seconds) * 1000 + Double(e.components.attoseconds) / 1e15)
    }
    try await session.delete()
    return (times.reduce(0, +) / Double(times.count), median(times))
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ l: String) { lock.withLock { lines.append(l) } }
    var text: String { lock.withLock { lines.joined(separator: "\n") } }
}

/// Milliseconds since the epoch of a log line's ISO timestamp.
func logTime(_ line: Substring) -> Double? {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.date(from: String(line.prefix(24))).map { $0.timeIntervalSince1970 * 1000 }
}

print("CrawlRun benchmark — \(pages) loopback pages, \(rounds) rounds, medians")
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; chromedriver \(ChromeDriver.binary)")

if section("crawler") { try await crawlerSection() }
if section("throughput") {
    try await throughputSection(
        urlCount: intArg("--urls", 80), delays: [intArg("--delay", -1)].filter { $0 >= 0 }.nonEmpty ?? [0, 250])
}
if section("plan") { try await planSection() }
if section("run") { try await runSection() }
if only == "s3runs" { try await s3RunsSection(urls: intArg("--s3-urls", 100_000)) }
if section("ledger") { try await ledgerSection(batches: intArg("--batches", 20000), size: 50, maxTasks: 500) }
if section("fargate") {
    try await fargateSection(batches: intArg("--fargate-batches", 1000), maxTasks: intArg("--fargate-tasks", 100))
}
server.stop()

func crawlerSection() async throws {
    // 1. Throughput, overhead, memory.
    let driver = try await ChromeDriver.start()
    var floorMs: [Double] = []
    var crawlerMs: [Double] = []
    var floorMedian: [Double] = []
    var crawlerMedian: [Double] = []
    var rate1: [Double] = []
    var rate2: [Double] = []
    var rss1: [Int] = []
    var rss2: [Int] = []
    _ = try await floorLoop(driver: driver.url)  // warm the browser's caches once
    for round in 1...rounds {
        let fl = try await floorLoop(driver: driver.url)
        floorMs.append(fl.mean)
        floorMedian.append(fl.median)
        let one = try await runCrawler(driver: driver.url, sessions: 1, label: "s1-\(round)")
        crawlerMs.append(one.meanPageMs)
        crawlerMedian.append(one.medianPageMs)
        rate1.append(Double(pages) / one.seconds)
        rss1.append(one.peakRSSKB)
        let two = try await runCrawler(driver: driver.url, sessions: 2, label: "s2-\(round)")
        rate2.append(Double(pages) / two.seconds)
        rss2.append(two.peakRSSKB)
    }
    await driver.stop()
    let floor = median(floorMs)
    let crawler = median(crawlerMs)
    print("")
    print("crawler throughput (whole process, session start included)")
    print("  1 session:  \(f(median(rate1))) pages/s")
    print("  2 sessions: \(f(median(rate2))) pages/s")
    let floorMid = median(floorMedian)
    let crawlerMid = median(crawlerMedian)
    print("per-page time (navigate + extraction), mean / median")
    print("  floor (bare WebDriver loop, same capabilities): \(f(floor, 2)) / \(f(floorMid, 2)) ms")
    print("  crawler (records' ms):                          \(f(crawler, 2)) / \(f(crawlerMid, 2)) ms")
    print(
        "  overhead: \(f((crawler - floor) / floor * 100)) % mean, \(f((crawlerMid - floorMid) / floorMid * 100)) % median   (target ≤ 5 %)"
    )
    print("crawler peak RSS, worst round (target ≤ 20 MB)")
    print("  1 session:  \(f(Double(rss1.max() ?? 0) / 1024)) MB")
    print("  2 sessions: \(f(Double(rss2.max() ?? 0) / 1024)) MB")

    // 2. Readiness latency: the crawler starts first; chromedriver starts after it.
    var latencies: [Double] = []
    for trial in 1...5 {
        let port = try freePort()
        let batchPath = workDir + "/ready-\(trial).json"
        try JSONEncoder().encode(BatchFile(batch: "r\(trial)", urls: [urls[0]], crawl: crawlOptions))
            .write(to: URL(fileURLWithPath: batchPath))
        let lines = LockedLines()
        var env = ProcessInfo.processInfo.environment
        env["CRAWL_BATCH"] = batchPath
        env["CRAWL_OUT"] = workDir + "/ready-\(trial).jsonl"
        env["WEBDRIVER_URL"] = "http://127.0.0.1:\(port)"
        let crawlerProcess = try ChildProcess(crawlerBin, environment: env, stdout: .lines { lines.add($0) })
        _ = await eventually { lines.text.contains("waiting for WebDriver") }
        let cd = try ChromeDriver.launch(port: port)
        // Find the moment /status first says ready, polling as fast as a client reasonably can.
        let probe = CurlHTTPClient(connectTimeout: .milliseconds(50), timeout: .milliseconds(500))
        var readyAt: Double?
        while readyAt == nil {
            if let r = try? await probe.send(HTTPRequest(url: cd.url + "/status")),
                String(decoding: r.body, as: UTF8.self).contains("\"ready\":true")
            {
                readyAt = Date().timeIntervalSince1970 * 1000
            }
        }
        _ = await crawlerProcess.wait()
        await cd.stop()
        if let readyAt,
            let line = lines.text.split(separator: "\n").first(where: { $0.contains("session 1: opening") }),
            let sessionAt = logTime(line)
        {
            latencies.append(max(0, sessionAt - readyAt))
        }
    }
    print("readiness latency (chromedriver ready → crawler's first POST /session), 5 trials")
    print("  median \(f(median(latencies))) ms, max \(f(latencies.max() ?? 0)) ms   (target ≤ 50 ms)")
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// Runs a binary to the end with its output discarded; wall time and peak RSS.
func measure(
    _ path: String, _ arguments: [String], env: [String: String] = [:]
) async throws -> (
    seconds: Double, rssKB: Int, status: ProcessKit.ExitStatus
) {
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in env { environment[k] = v }
    let start = ContinuousClock.now
    let p = try ChildProcess(path, arguments: arguments, environment: environment, stdout: .null, stderr: .inherit)
    let status = await p.wait()
    return (seconds(ContinuousClock.now - start), p.peakRSSKilobytes ?? 0, status)
}

// 3. Planning at scale: a million-line URL list, streamed.
func planSection() async throws {
    let list = workDir + "/plan-urls.txt"
    guard
        let out = FileHandle(forWritingAtPath: list)
            ?? {
                _ = FileManager.default.createFile(atPath: list, contents: nil)
                return FileHandle(forWritingAtPath: list)
            }()
    else { throw FixtureError("cannot write \(list)") }
    var chunk = ""
    for i in 0..<planURLs {
        // 1 % duplicates, 2,000 hosts, a tracking parameter on some.
        let n = i % 100 == 99 ? i - 1 : i
        chunk += "https://shop\(n % 2000).example.com/product/\(n)?ref=\(n % 7)\(n % 5 == 0 ? "&utm_source=x" : "")\n"
        if chunk.utf8.count > 1 << 20 {
            out.write(Data(chunk.utf8))
            chunk = ""
        }
    }
    out.write(Data(chunk.utf8))
    try out.close()
    let size = (try FileManager.default.attributesOfItem(atPath: list)[.size] as? Int) ?? 0
    print("")
    print("planning \(planURLs) URLs (\(size >> 20) MB list; crawlrun plan --json, output discarded)")
    for (label, batching) in [
        ("batchSize 100", "{\"batchSize\": 100, \"removeTrackingParameters\": true}"),
        ("groupByHost", "{\"batchSize\": 100, \"groupByHost\": true}"),
    ] {
        let job = workDir + "/plan-job.json"
        try "{\"name\": \"scale\", \"urlsFile\": \"plan-urls.txt\", \"batching\": \(batching)}"
            .write(toFile: job, atomically: true, encoding: .utf8)
        var times: [Double] = []
        var rss: [Int] = []
        for _ in 1...rounds {
            let m = try await measure(binDir + "/crawlrun", ["plan", job, "--json"])
            guard m.status == .exited(0) else { throw FixtureError("crawlrun plan failed: \(m.status)") }
            times.append(m.seconds)
            rss.append(m.rssKB)
        }
        print("  \(label): \(f(median(times), 2)) s, peak RSS \(f(Double(rss.max() ?? 0) / 1024)) MB")
    }
}

// 4. A whole run: crawlrun run against the crawler alone on the same URLs.
func runSection() async throws {
    let runURLList = (1...runURLs).map { server.baseURL + "/page/\($0)" }
    var o = crawlOptions
    o.maxAttempts = 1
    // The crawler alone: chromedriver started, then the crawler on every URL, as one task would.
    var alone: [Double] = []
    for round in 1...rounds {
        let batch = workDir + "/whole-\(round).json"
        try JSONEncoder().encode(BatchFile(batch: "w", urls: runURLList, crawl: o)).write(
            to: URL(fileURLWithPath: batch))
        let start = ContinuousClock.now
        let driver = try await ChromeDriver.start()
        let m = try await measure(
            crawlerBin, [],
            env: ["CRAWL_BATCH": batch, "CRAWL_OUT": workDir + "/whole-\(round).jsonl", "WEBDRIVER_URL": driver.url])
        await driver.stop()
        guard m.status == .exited(0) else { throw FixtureError("crawler failed: \(m.status)") }
        alone.append(seconds(ContinuousClock.now - start))
    }
    let job = workDir + "/run-job.json"
    func writeJob(batchSize: Int) throws {
        let doc: JSONValue = [
            "name": "bench", "urls": .array(runURLList.map { .string($0) }),
            "batching": ["batchSize": .number(Double(batchSize))],
            "crawl": ["allowPrivateNetworks": true, "maxAttempts": 1, "fields": ["h1": "h1", "price": ".price"]],
        ]
        try doc.encoded().write(to: URL(fileURLWithPath: job))
    }
    var results: [(String, Double)] = []
    for tasks in [1, 2] {
        try writeJob(batchSize: (runURLs + tasks - 1) / tasks)
        var times: [Double] = []
        for _ in 1...rounds {
            let m = try await measure(
                binDir + "/crawlrun",
                ["run", job, "--runs-dir", workDir + "/runs", "--max-tasks", String(tasks), "--quiet"])
            guard m.status == .exited(0) else { throw FixtureError("crawlrun run failed: \(m.status)") }
            times.append(m.seconds)
        }
        results.append(("\(tasks) task\(tasks == 1 ? "" : "s")", median(times)))
    }
    let base = median(alone)
    print("")
    print("whole run, \(runURLs) loopback pages (crawlrun run, wall clock incl. sidecar start-up)")
    print("  crawler alone (chromedriver + crawler, 1 batch): \(f(Double(runURLs) / base)) pages/s, \(f(base, 2)) s")
    for (label, t) in results {
        print("  crawlrun run, \(label): \(f(Double(runURLs) / t)) pages/s, \(f(t, 2)) s")
    }
    let one = results[0].1
    print("  run overhead, 1 task against the crawler alone: \(f(one - base, 2)) s (\(f((one - base) / base * 100)) %)")
}

extension Array {
    var nonEmpty: Self? { isEmpty ? nil : self }
}
