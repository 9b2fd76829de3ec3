import CrawlKit
import Crawler
import Foundation
import HTTP
import ProcessKit
import TestSupport
import Testing

/// Tests that start Chrome run one at a time: two cores, one browser at a time keeps them fast
/// and their timing-sensitive expectations (timeouts) honest.
@Suite(.serialized) enum Chrome {}

let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
    }
    return FileManager.default.currentDirectoryPath
}()

/// The built binary of an executable target (`swift build` builds it before the tests run).
func binary(_ name: String) -> String {
    if let bin = ProcessInfo.processInfo.environment["CRAWLRUN_BIN_DIR"] { return bin + "/" + name }
    for config in ["debug", "release"] {
        let path = packageRoot + "/.build/\(config)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return packageRoot + "/.build/debug/\(name)"
}

func tempDir(_ label: String = "t") -> String {
    let path = NSTemporaryDirectory() + "crawlrun-\(label)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func writeBatch(_ batch: BatchFile, in dir: String) throws -> String {
    let path = dir + "/batch.json"
    let encoder = JSONEncoder()
    try encoder.encode(batch).write(to: URL(fileURLWithPath: path))
    return path
}

func readRecords(_ path: String) throws -> [ResultRecord] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    return try text.split(separator: "\n").map { try JSONDecoder().decode(ResultRecord.self, from: Data($0.utf8)) }
}

func lineCount(_ path: String) -> Int {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
}

/// Runs the crawler in-process against `driver`; returns the exit code, records and log text.
func crawl(
    _ urls: [String],
    options: CrawlOptions = {
        var o = CrawlOptions(); o.allowPrivateNetworks = true; o.tabsPerSession = testTabs; return o
    }(),
    driver: String, batch: String = "b1", recovery: Duration = .seconds(30), http: (any HTTPTransport)? = nil
) async throws -> (code: CrawlerExitCode, records: [ResultRecord], log: String, dir: String) {
    let dir = tempDir("crawl")
    let batchPath = try writeBatch(BatchFile(batch: batch, urls: urls, crawl: options), in: dir)
    let logPath = dir + "/crawler.log"
    let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    defer { close(fd) }
    let settings = CrawlerSettings(
        webDriverURL: driver, batchLocation: batchPath, outLocation: dir + "/out.jsonl",
        waitTimeout: .seconds(20), recoveryTimeout: recovery, stopGrace: .seconds(2))
    let code = await Crawler(settings: settings, log: Log(fd: fd), http: http).run(handleSignals: false)
    let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return (code, try readRecords(dir + "/out.jsonl"), log, dir)
}

/// Tabs per session for the crawler tests: `CRAWLRUN_TEST_TABS=4` runs them in the tabbed mode
/// (scripts/test.sh runs the Chrome crawler suites both ways).
let testTabs: Int = Int(ProcessInfo.processInfo.environment["CRAWLRUN_TEST_TABS"] ?? "") ?? 1

/// The WebDriver transport for the crawler tests: `CRAWLRUN_TEST_WEBDRIVER=bidi|classic|auto`
/// (scripts/test.sh runs the Chrome crawler suites in the transport that is not the default too).
let testWebDriver: WebDriverTransport? = ProcessInfo.processInfo.environment["CRAWLRUN_TEST_WEBDRIVER"].flatMap {
    WebDriverTransport(rawValue: $0)
}

/// True in the tabbed mode's run of the crawler suites.
var tabbedRun: Bool { testTabs > 1 }

func options(_ change: (inout CrawlOptions) -> Void) -> CrawlOptions {
    var o = CrawlOptions()
    o.allowPrivateNetworks = true
    o.retryBackoff = 0.05
    o.tabsPerSession = testTabs
    if let testWebDriver { o.webdriver = testWebDriver }
    change(&o)
    return o
}

/// Spawns the crawler binary with an environment; its output lines are collected.
struct CrawlerProcess {
    let process: ChildProcess
    let output = LineBox()

    init(env: [String: String]) throws {
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        let box = output
        process = try ChildProcess(
            binary("crawler"), environment: environment, stdout: .lines { box.append($0) },
            stderr: .lines { box.append($0) })
    }
}

final class LineBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var text: String { lock.withLock { lines.joined(separator: "\n") } }
    var count: Int { lock.withLock { lines.count } }
    var all: [String] { lock.withLock { lines } }
    func contains(_ s: String) -> Bool { lock.withLock { lines.contains { $0.contains(s) } } }
}
