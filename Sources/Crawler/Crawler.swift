import AWS
import CrawlKit
import Dispatch
import HTTP
import JSONKit
import Synchronization
import WebDriver

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The crawler worker: waits for the sidecar, crawls one batch with N sessions, writes exactly
/// one record per URL, and ends with a documented exit code.
public struct Crawler: Sendable {
    public let settings: CrawlerSettings
    public let log: Log
    let http: any HTTPTransport

    public init(settings: CrawlerSettings, log: Log = Log(), http: (any HTTPTransport)? = nil) {
        self.settings = settings
        self.log = log
        self.http = http ?? CurlHTTPClient(connectTimeout: .seconds(2), timeout: .seconds(60))
    }

    /// Runs the batch. Installs SIGTERM/SIGINT handling for its duration when `handleSignals`.
    public func run(handleSignals: Bool = true) async -> CrawlerExitCode {
        let stop = StopFlag()
        let batch: BatchFile
        let sink: ResultSink
        let s3 = s3Client()
        do {
            batch = try await BatchInput.load(settings.batchLocation, s3: s3)
            sink = try ResultSink(location: settings.outLocation)
        } catch {
            log.error(error.message)
            return error.exitCode
        }
        // Results on S3: the log goes beside them too, one PUT the coordinator reads instead of
        // CloudWatch Logs (stdout still reaches awslogs).
        let logUpload = sink.upload.map {
            S3Location(bucket: $0.bucket, key: CrawlerLogLocation.beside(results: $0.key))
        }
        let logCopy = logUpload == nil ? nil : openLogCopy()
        let run = BatchRun(crawler: self, batch: batch, sink: sink, stop: stop)
        let work = Task { await run.execute() }
        let finished = FirstExitCode()
        var sources: [any DispatchSourceSignal] = []
        if handleSignals {
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { [log, settings, batch] in
                    if stop.set() {
                        log.warn(
                            "\(sig == SIGTERM ? "SIGTERM" : "SIGINT"): taking no more URLs; in-flight ones have \(SidecarProbe.seconds(settings.stopGrace)) to finish"
                        )
                        Task {
                            try? await Task.sleep(for: settings.stopGrace)
                            work.cancel()
                            // A cancelled page load is aborted by libcurl's progress callback,
                            // which runs about once a second: waiting for it could take the
                            // crawler a second past its grace (on Fargate, toward a SIGKILL).
                            // What was recorded is written; the rest is the coordinator's retry.
                            try? await Task.sleep(for: Self.abandonAfter)
                            if finished.resolve(.interrupted) {
                                log.warn(
                                    "stopped: \(await sink.written)/\(batch.urls.count) URLs recorded, batch incomplete (commands still in flight left behind)"
                                )
                            }
                        }
                    } else {
                        work.cancel()
                    }
                }
                source.resume()
                sources.append(source)
            }
        }
        Task { finished.resolve(await work.value) }
        var code = await finished.value()
        for s in sources { s.cancel() }
        await sink.close()
        if let upload = sink.upload {
            // Partial results are worth keeping too: the coordinator retries only what is missing.
            do {
                try await sink.publish(using: s3)
                log.info("results uploaded to \(upload)")
            } catch {
                log.error(error.message)
                if code == .ok || code == .interrupted { code = .outputFailed }
            }
        }
        if let logUpload, let logCopy { await upload(log: logCopy, to: logUpload, using: s3) }
        return code
    }

    /// How long, once the stop grace is spent and the work cancelled, the crawler waits for its
    /// in-flight commands before it leaves without them.
    static let abandonAfter: Duration = .milliseconds(500)

    /// A private file every log line is copied to, until `upload(log:)`; nil when none can be made.
    func openLogCopy() -> String? {
        var template = Array(((ProcessEnvironment.current["TMPDIR"] ?? "/tmp") + "/crawler-log-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { $0.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else {
            log.warn("no file for a copy of this log (\(String(cString: strerror(errno)))): it reaches CloudWatch only")
            return nil
        }
        _ = Glibc.close(fd)
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return log.copy.open(path) ? path : nil
    }

    /// Uploads the log copy beside the results. A failed upload costs nothing but CloudWatch
    /// reads: the coordinator falls back to the awslogs stream when the object is missing.
    func upload(log path: String, to location: S3Location, using s3: S3Client?) async {
        log.copy.close()
        defer { _ = unlink(path) }
        guard let s3, let body = FileManager.default.contents(atPath: path) else { return }
        do {
            try await s3.putObject(location, body: body, contentType: "text/plain; charset=utf-8")
        } catch {
            log.warn("log not uploaded to \(location) (the coordinator reads CloudWatch instead): \(error)")
        }
    }

    /// An S3 client from the `AWS_*` environment when a location is `s3://`: one credential
    /// chain, so the task role's credentials are fetched once for the batch and the results.
    func s3Client() -> S3Client? {
        guard [settings.batchLocation, settings.outLocation].contains(where: { $0.hasPrefix("s3://") }) else {
            return nil
        }
        let environment = AWSEnvironment(settings.awsEnvironment)
        return S3Client(
            region: environment.region() ?? "us-east-1", environment: environment,
            credentials: CredentialChain(environment: settings.awsEnvironment, http: http), http: http)
    }
}

/// One batch being crawled: the shared state of its workers.
final class BatchRun: Sendable {
    let crawler: Crawler
    let batch: BatchFile
    let sink: ResultSink
    let stop: StopFlag
    let client: WebDriverClient
    let visitor: PageVisitor
    let progress: Progress
    let pacer: HostPacer
    let closer: SessionCloser
    let sidecar = SidecarState()
    /// The transport (`openBiDi`) has been said in the log.
    let transportSaid = Mutex(false)
    var log: Log { crawler.log }

    init(crawler: Crawler, batch: BatchFile, sink: ResultSink, stop: StopFlag) {
        self.crawler = crawler
        self.batch = batch
        self.sink = sink
        self.stop = stop
        self.client = WebDriverClient(baseURL: crawler.settings.webDriverURL, http: crawler.http)
        self.visitor = PageVisitor(options: batch.crawl, http: crawler.http)
        self.closer = SessionCloser(http: crawler.http, log: crawler.log)
        self.progress = Progress(total: batch.urls.count, log: crawler.log)
        self.pacer = HostPacer(options: batch.crawl)
    }

    func execute() async -> CrawlerExitCode {
        let total = batch.urls.count
        let tabs = batch.crawl.tabsPerSession
        log.info(
            "batch \(batch.batch): \(total) URLs, \(batch.crawl.sessions) session(s)"
                + (tabs > 1 ? " × \(tabs) tabs" : ""))
        var queueItems: [WorkItem] = []
        for (i, raw) in batch.urls.enumerated() {
            switch Self.parse(raw) {
            case .success(let host):
                if let refusal = Self.robotsRefusal(raw, batch.crawl.robots) {
                    // Never loaded and never retried: the site asked not to be (README, "Politeness").
                    let record = ResultRecord(
                        url: raw, ok: false, error: RecordError(kind: .robots, message: refusal), attempts: 0,
                        batch: batch.batch, startedAt: Timestamp.now(), ms: 0)
                    guard await write(record) else { return .outputFailed }
                    continue
                }
                queueItems.append(WorkItem(index: i, url: raw, host: host))
            case .failure(let problem):
                let now = Timestamp.now()
                let record = ResultRecord(
                    url: raw, ok: false, error: RecordError(kind: .invalidURL, message: problem.message),
                    attempts: 0, batch: batch.batch, startedAt: now, ms: 0)
                guard await write(record) else { return .outputFailed }
            }
        }
        if !queueItems.isEmpty {
            let probe = SidecarProbe(client: client, log: log)
            do {
                try await probe.waitUntilReady(timeout: crawler.settings.waitTimeout)
            } catch {
                if stop.isSet || Task.isCancelled { return await finish() }
                log.error(error.message)
                return error.exitCode
            }
            let queue = URLQueue(queueItems)
            // A session per `tabs` URLs at most: a short batch does not start idle browsers.
            let workers = max(1, min(batch.crawl.sessions, (queueItems.count + tabs - 1) / tabs))
            await withTaskGroup(of: Void.self) { group in
                for n in 1...workers {
                    group.addTask { await SessionWorker(run: self, number: n, queue: queue).run() }
                }
            }
            if let failure = await sidecar.fatal {
                log.error(failure.message)
                return failure.exitCode
            }
            if await sidecar.outputFailed { return .outputFailed }
        }
        return await finish()
    }

    private func finish() async -> CrawlerExitCode {
        let written = await sink.written
        let total = batch.urls.count
        log.info("summary: \(await progress.summary())")
        if written < total {
            log.warn("stopped: \(written)/\(total) URLs recorded, batch incomplete")
            return .interrupted
        }
        // The sentinel: always the last line of a complete run (DESIGN.md, crawler exit codes).
        log.info("done \(written)/\(total)")
        return .ok
    }

    /// Appends a record and counts it; false when the results file cannot be written.
    func write(_ record: ResultRecord) async -> Bool {
        do {
            try await sink.append(record)
        } catch {
            log.error(error.message)
            await sidecar.markOutputFailed()
            return false
        }
        await progress.count(record)
        if let error = record.error {
            log.warn("\(record.url): \(error.kind.rawValue): \(error.message)")
        }
        return true
    }

    struct URLProblem: Error { let message: String }

    /// Why the coordinator's robots.txt rules for the URL's origin refuse it, or nil.
    static func robotsRefusal(_ raw: String, _ robots: [String: RobotsRules]?) -> String? {
        guard let robots, !robots.isEmpty, let origin = RobotsOrigin(url: raw), let rules = robots[origin.key]
        else { return nil }
        return rules.refusal(for: origin.pathAndQuery)
    }

    /// Checks that a URL parses and is http(s); returns its host.
    static func parse(_ raw: String) -> Result<String, URLProblem> {
        let trimmed = String(raw.trimmingWhitespace())
        guard !trimmed.isEmpty else { return .failure(URLProblem(message: "empty URL")) }
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased() else {
            return .failure(URLProblem(message: "not a valid URL"))
        }
        guard scheme == "http" || scheme == "https" else {
            return .failure(URLProblem(message: "scheme \(scheme): only http and https are crawled"))
        }
        guard let host = url.host(), !host.isEmpty else {
            return .failure(URLProblem(message: "URL has no host"))
        }
        return .success(host)
    }
}

/// The sidecar as the workers see it: lost for good, or never usable.
actor SidecarState {
    private(set) var everHadSession = false
    /// Set when a lost sidecar did not come back: remaining URLs are recorded as browser-crash.
    private(set) var goneReason: String?
    /// Set when no session could ever be created: the crawler exits 69 without more records.
    private(set) var fatal: CrawlerFailure?
    private(set) var outputFailed = false

    func markSession() { everHadSession = true }
    func markGone(_ reason: String) { if goneReason == nil { goneReason = reason } }
    func markFatal(_ f: CrawlerFailure) { if fatal == nil { fatal = f } }
    func markOutputFailed() { outputFailed = true }
    var shouldStop: Bool { fatal != nil || outputFailed }
}
