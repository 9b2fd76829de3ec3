import CrawlKit
import Foundation
import JSONKit

/// `crawlrun crawl URL… [options]`: an ad-hoc crawl without a job file. The URLs become an
/// in-memory job run on the local backend; records stream to standard output as JSON Lines.
struct CrawlCommand {
    static let help = """
        usage: crawlrun crawl [URL…] [options]

        Crawls the URLs given as arguments, or one per line from standard input when there are
        none (or the only one is "-"), and prints one JSON record per URL on standard output.
        Progress and the summary go to standard error; the run directory is kept as for `run`.

        options:
          --field NAME=SELECTOR[@ATTR]   take the text (or the attribute) of the first match;
                                         NAME[]=… takes every match. Repeatable.
          --wait-for SELECTOR            wait for this element after each page load
          --timeout SECONDS              page-load timeout (default 30)
          --attempts N                   attempts per URL for retryable errors (default 3)
          --sessions N                   browser sessions per task (default 1)
          --batch-size N                 URLs per task (default 50)
          --politeness SECONDS           gap between page loads on one host
          --screenshot never|onError|always
          --allow-private-networks       allow loopback and private addresses (local sites)
          --max-tasks N, --runs-dir DIR, --quiet    as for `crawlrun run`

        Exit codes as for `crawlrun run`: 0 all ok · 1 some failed · 2 run could not finish ·
        64 usage · 65 invalid URLs · 130 interrupted.
        """

    var urls: [String] = []
    var crawl: [String: JSONValue] = [:]
    var fields: [String: JSONValue] = [:]
    var batchSize: Int?
    var runOptions = RunOptions()
    var showHelp = false

    init(arguments: [String]) throws(UsageError) {
        var it = arguments.makeIterator()
        while let a = it.next() {
            if a == "--json" { throw UsageError("crawl always prints JSON Lines; --json is for `crawlrun run`") }
            if try runOptions.parse(a, &it) { continue }
            func value() throws(UsageError) -> String {
                guard let v = it.next() else { throw UsageError("\(a) needs a value") }
                return v
            }
            func number(_ name: String, _ v: String, _ range: ClosedRange<Double>) throws(UsageError) -> JSONValue {
                guard let n = Double(v), range.contains(n) else {
                    throw UsageError(
                        "\(name) takes a number from \(range.lowerBound) to \(range.upperBound), not \"\(v)\"")
                }
                return .number(n)
            }
            switch a {
            case "--help", "-h": showHelp = true
            case "--field":
                let (name, spec) = try FieldSpec.parse(option: try value(), orThrow: UsageError.init)
                fields[name] = spec.json
            case "--wait-for": crawl["waitFor"] = .string(try value())
            case "--timeout": crawl["pageLoadTimeout"] = try number(a, try value(), 0.1...600)
            case "--attempts": crawl["maxAttempts"] = try number(a, try value(), 1...10)
            case "--sessions": crawl["sessions"] = try number(a, try value(), 1...16)
            case "--politeness": crawl["politenessDelay"] = try number(a, try value(), 0...3600)
            case "--screenshot":
                let v = try value()
                guard ArtifactPolicy(rawValue: v) != nil else {
                    throw UsageError("--screenshot takes never, onError or always, not \"\(v)\"")
                }
                crawl["screenshot"] = .string(v)
            case "--allow-private-networks": crawl["allowPrivateNetworks"] = true
            case "--batch-size":
                let v = try value()
                guard let n = Int(v), (1...100_000).contains(n) else {
                    throw UsageError("--batch-size takes a whole number from 1 to 100000, not \"\(v)\"")
                }
                batchSize = n
            case "-": break
            default:
                if a.hasPrefix("-") { throw UsageError("unknown option \(a)") }
                urls.append(a)
            }
        }
        runOptions.resultsToStdout = true
    }

    func run() async throws -> ExitCode {
        if showHelp {
            print(Self.help)
            return .ok
        }
        var urls = self.urls
        if urls.isEmpty {
            while let line = readLine() {
                let url = line.trimmingCharacters(in: .whitespaces)
                if !url.isEmpty && !url.hasPrefix("#") { urls.append(url) }
            }
        }
        if urls.isEmpty { throw UsageError("no URLs: give them as arguments or one per line on standard input") }
        var crawl = self.crawl
        if !fields.isEmpty { crawl["fields"] = .object(fields) }
        var doc: [String: JSONValue] = [
            "name": "crawl", "urls": .array(urls.map { .string($0) }), "crawl": .object(crawl),
        ]
        if let batchSize { doc["batching"] = ["batchSize": .number(Double(batchSize))] }
        let source = JSONValue.object(doc).encoded()
        let job = try Job.parse(source, path: "(command line)", backend: .local)
        return try await RunDriver(job: job, jobSource: [UInt8](source), options: runOptions).run()
    }
}
