import AWS
import CrawlKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A failure that ends the crawler: an exit code and one clear message.
public struct CrawlerFailure: Error, Sendable, CustomStringConvertible {
    public var exitCode: CrawlerExitCode
    public var message: String
    public init(_ exitCode: CrawlerExitCode, _ message: String) {
        self.exitCode = exitCode
        self.message = message
    }
    public var description: String { message }
}

/// Configuration read once from the environment (DESIGN.md, "Crawler environment").
public struct CrawlerSettings: Sendable {
    /// `WEBDRIVER_URL`, default `http://127.0.0.1:4444`; a base path such as `/wd/hub` is kept.
    public var webDriverURL: String
    /// `CRAWL_BATCH`: a path or `file://` URI.
    public var batchLocation: String
    /// `CRAWL_OUT`: a path or `file://` URI; JSON Lines are appended.
    public var outLocation: String
    /// `CRAWL_WAIT_TIMEOUT` (seconds, default 120): how long to wait for the sidecar.
    public var waitTimeout: Duration
    /// `CRAWL_RECOVERY_TIMEOUT` (seconds, default 60): how long to wait for a lost sidecar to
    /// come back before the remaining URLs are recorded as `browser-crash`.
    public var recoveryTimeout: Duration
    /// `CRAWL_STOP_GRACE` (seconds, default 5): after SIGTERM, how long in-flight URLs may finish.
    public var stopGrace: Duration
    /// The `AWS_*` variables (and `HOME`, for the shared files): credentials, region and endpoint
    /// overrides for `s3://` locations. On Fargate, the task role's container credentials.
    public var awsEnvironment: [String: String] = [:]

    public static let usage = """
        crawler — crawls one batch of URLs through a WebDriver sidecar.

        Environment:
          CRAWL_BATCH             batch file: a path, file:// or s3://BUCKET/KEY URI (required)
          CRAWL_OUT               results, JSON Lines: a path, file:// or s3://BUCKET/KEY URI (required);
                                  an s3:// object is written when the batch ends, artifacts beside it,
                                  then this log (KEY with .log for .jsonl)
          WEBDRIVER_URL           WebDriver base URL (default http://127.0.0.1:4444)
          CRAWL_WAIT_TIMEOUT      seconds to wait for the sidecar to be ready (default 120)
          CRAWL_RECOVERY_TIMEOUT  seconds to wait for a lost sidecar to return (default 60)
          CRAWL_STOP_GRACE        seconds in-flight URLs may finish after SIGTERM (default 5)
          AWS_*                   for s3://: credentials (on Fargate, the task role's), AWS_REGION,
                                  AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (moto, LocalStack)

        Exit codes: 0 every URL has a record · 65 bad batch input · 69 WebDriver unavailable ·
        70 internal error · 73 results not writable · 75 interrupted, batch incomplete.
        """

    public init(
        webDriverURL: String = "http://127.0.0.1:4444", batchLocation: String, outLocation: String,
        waitTimeout: Duration = .seconds(120), recoveryTimeout: Duration = .seconds(60),
        stopGrace: Duration = .seconds(5)
    ) {
        self.webDriverURL = webDriverURL
        self.batchLocation = batchLocation
        self.outLocation = outLocation
        self.waitTimeout = waitTimeout
        self.recoveryTimeout = recoveryTimeout
        self.stopGrace = stopGrace
    }

    public init(environment env: [String: String]) throws(CrawlerFailure) {
        func required(_ name: String) throws(CrawlerFailure) -> String {
            guard let v = env[name], !v.isEmpty else {
                throw CrawlerFailure(.badInput, "\(name) is not set (see `crawler --help`)")
            }
            return v
        }
        func seconds(_ name: String, _ fallback: Double) throws(CrawlerFailure) -> Duration {
            guard let raw = env[name], !raw.isEmpty else { return .milliseconds(Int64(fallback * 1000)) }
            guard let v = Double(raw), v >= 0, v < 86_400 else {
                throw CrawlerFailure(.badInput, "\(name)=\(raw) is not a number of seconds")
            }
            return .milliseconds(Int64(v * 1000))
        }
        self.init(
            webDriverURL: env["WEBDRIVER_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:4444",
            batchLocation: try required("CRAWL_BATCH"),
            outLocation: try required("CRAWL_OUT"),
            waitTimeout: try seconds("CRAWL_WAIT_TIMEOUT", 120),
            recoveryTimeout: try seconds("CRAWL_RECOVERY_TIMEOUT", 60),
            stopGrace: try seconds("CRAWL_STOP_GRACE", 5))
        awsEnvironment = env.filter { $0.key.hasPrefix("AWS_") || $0.key == "HOME" }
        for (name, location) in [("CRAWL_BATCH", batchLocation), ("CRAWL_OUT", outLocation)] {
            _ = try Self.s3Location(location, what: name)
        }
    }

    /// The bucket and key of an `s3://` location; nil for a local one.
    public static func s3Location(_ location: String, what: String) throws(CrawlerFailure) -> S3Location? {
        guard location.hasPrefix("s3://") else { return nil }
        guard let s3 = S3Location(uri: location) else {
            throw CrawlerFailure(.badInput, "\(what) \(location): an s3:// location is s3://BUCKET/KEY")
        }
        return s3
    }

    /// A local path from a path or `file://` URI.
    static func localPath(_ location: String, what: String) throws(CrawlerFailure) -> String {
        if location.hasPrefix("file://") {
            guard let url = URL(string: location), url.host() == nil || url.host() == "" || url.host() == "localhost"
            else {
                throw CrawlerFailure(.badInput, "\(what) \(location): a file:// URI must name a local path")
            }
            return url.path(percentEncoded: false)
        }
        if let colon = location.firstIndex(of: ":"), location[..<colon].allSatisfy({ $0.isLetter }),
            location[colon...].hasPrefix("://")
        {
            throw CrawlerFailure(.badInput, "\(what) \(location): unsupported scheme (use a path, file:// or s3://)")
        }
        return location
    }
}
