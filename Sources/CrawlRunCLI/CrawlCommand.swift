import Blocking
import Coordinator
import CrawlKit
import Foundation
import JSONKit

/// `crawlrun crawl URL… [options]`: an ad-hoc crawl without a job file. The URLs become an
/// in-memory job run on the local backend; records stream to standard output as JSON Lines.
struct CrawlCommand: Command {
    static let name = "crawl"
    static let arguments = RunOptions.arguments.merging(
        ArgumentSpec(
            flags: ["--allow-private-networks"],
            options: [
                "--field", "--wait-for", "--timeout", "--attempts", "--sessions", "--politeness", "--screenshot",
                "--batch-size",
            ],
            repeatable: ["--field"], positionals: 0...Int.max, positionalName: "URLs"))
    static let help = """
        usage: crawlrun crawl [URL…] [options]

        Crawls the URLs given as arguments, or one per line from standard input when there are
        none (or the only one is "-"; `#` starts a comment at the start of a line or after a
        blank), and prints one JSON record per URL on standard output as each page finishes (in
        the order pages finish, not the input order). Progress and the summary go to standard
        error; the run directory is kept as for `run`, under the job name crawl-<run id>.

        options:
          --field NAME=SELECTOR[@ATTR]   take the text (or the attribute) of the first match;
                                         NAME[]=… takes every match. Repeatable.
          --wait-for SELECTOR            wait for this element after each page load
          --timeout SECONDS              page-load timeout (default 30)
          --attempts N                   attempts per URL for retryable errors (default 3)
          --sessions N                   browser sessions per task (default: 1, with 4 tabs)
          --batch-size N                 URLs per task (default 50)
          --politeness SECONDS           gap between page loads on one host
          --screenshot never|onError|always
          --allow-private-networks       allow loopback and private addresses (local sites)
          --max-tasks N, --runs-dir DIR, --quiet    as for `crawlrun run`

        Exit codes as for `crawlrun run`: 0 all ok · 1 some failed · 2 run could not finish ·
        64 usage · 65 invalid URLs · 130 interrupted.
        """

    let urls: [String]
    var crawl: [String: JSONValue] = [:]
    var fields: [String: JSONValue] = [:]
    let batchSize: Int?
    var runOptions: RunOptions

    init(_ parsed: ParsedArguments) throws(UsageError) {
        runOptions = try RunOptions(parsed)
        guard runOptions.backend == .local else {
            throw UsageError(
                "crawl runs on the local backend; for Fargate, write a job file and use crawlrun run JOB --backend fargate"
            )
        }
        runOptions.resultsToStdout = true
        urls = parsed.positionals.filter { $0 != "-" }
        for option in parsed.all("--field") {
            let (name, spec) = try FieldSpec.parse(option: option, orThrow: UsageError.init)
            fields[name] = spec.json
        }
        if let selector = parsed.value("--wait-for") {
            if let message = CSSSelector.message(for: selector) { throw UsageError("--wait-for: \(message)") }
            crawl["waitFor"] = .string(selector)
        }
        if let n = try parsed.number("--timeout", in: 0.1...600) { crawl["pageLoadTimeout"] = .number(n) }
        if let n = try parsed.int("--attempts", in: 1...10) { crawl["maxAttempts"] = .number(Double(n)) }
        if let n = try parsed.int("--sessions", in: 1...16) { crawl["sessions"] = .number(Double(n)) }
        if let n = try parsed.number("--politeness", in: 0...3600) { crawl["politenessDelay"] = .number(n) }
        if let v = try parsed.choice("--screenshot", ArtifactPolicy.self, names: ["never", "onError", "always"]) {
            crawl["screenshot"] = .string(v.rawValue)
        }
        if parsed.flag("--allow-private-networks") { crawl["allowPrivateNetworks"] = true }
        batchSize = try parsed.int("--batch-size", in: 1...100_000)
    }

    func run() async throws -> ExitCode {
        var urls = self.urls
        if urls.isEmpty {
            // readLine blocks: read standard input on a thread of its own, not the cooperative pool.
            urls = await ThreadPool.shared.run { () -> [String] in
                var lines: [String] = []
                // The URL-list rule (README, "Jobs"): `#` comments, whole-line or after a blank.
                while let line = readLine() {
                    let url = line.withoutURLListComment()
                    if !url.isEmpty { lines.append(url) }
                }
                return lines
            }
        }
        if urls.isEmpty { throw UsageError("no URLs: give them as arguments or one per line on standard input") }
        var crawl = self.crawl
        if !fields.isEmpty { crawl["fields"] = .object(fields) }
        // Each ad-hoc crawl is a job of its own (`crawl-<run id>`): two crawls in one directory
        // never wait for each other's lock (exit 75), as two runs of one job file would.
        let id = RunStore.newID()
        var doc: [String: JSONValue] = [
            "name": .string("crawl-" + id), "urls": .array(urls.map { .string($0) }), "crawl": .object(crawl),
        ]
        if let batchSize { doc["batching"] = ["batchSize": .number(Double(batchSize))] }
        let source = JSONValue.object(doc).encoded()
        let job = try Job.parse(source, path: "(command line)", backend: .local)
        return try await RunDriver(job: job, jobSource: [UInt8](source), options: runOptions, runID: id).run()
    }
}
