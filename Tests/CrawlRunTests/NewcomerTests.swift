import Coordinator
import CrawlKit
import Foundation
import JSONKit
import ProcessKit
import TestSupport
import Testing

@testable import CrawlRunCLI
@testable import Crawler

/// A newcomer's first hour (issue 20): the mistakes a new user makes, said where they are made.
/// No browser here; `NewcomerRunTests` runs the rest with one.
@Suite struct NewcomerTests {
    /// Environment without any AWS credentials (and no instance metadata to ask).
    static let noCredentials = [
        "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "none",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
    ]

    /// A job's default task settings.
    static func task() throws -> TaskSettings {
        try Job.parse(Data(#"{"urls": ["http://x/"]}"#.utf8), path: "t.json", backend: .local).task
    }

    /// A job valid for the Fargate backend, its URLs inline.
    static func fargateJob(in dir: String) throws -> String {
        let path = dir + "/fargate.json"
        try """
        {"name": "first-hour", "urls": ["https://shop.example/a", "https://shop.example/b"],
         "fargate": {"region": "us-east-1", "subnets": ["subnet-0123456789abcdef0"], "bucket": "example-crawl-bucket",
                     "executionRoleArn": "arn:aws:iam::123456789012:role/crawlrun-execution",
                     "taskRoleArn": "arn:aws:iam::123456789012:role/crawlrun-task"}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Item 7: `#` starts a comment at the start of a line or after a blank; a `#` inside a URL
    /// is its fragment; a URL with a blank is an error naming its line.
    @Test func urlListCommentsAndURLsWithBlanks() throws {
        let dir = tempDir("comments")
        try """
        # the shop
        https://shop.example/products/01.html
        https://shop.example/products/02.html # trailing comment
        https://shop.example/products/03.html\t# after a tab
           # indented comment
        https://shop.example/faq.html#shipping
        """.write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        try #"{"name": "c", "urlsFile": "urls.txt"}"#.write(
            toFile: dir + "/job.json", atomically: true, encoding: .utf8)
        let job = try Job.load(path: dir + "/job.json", backend: nil)
        let planner = Planner(job: job)
        let summary = try planner.check()
        var urls: [String] = []
        planner.assign(summary: summary) { _, url in urls.append(url) }
        #expect(
            urls == [
                "https://shop.example/products/01.html", "https://shop.example/products/02.html",
                "https://shop.example/products/03.html", "https://shop.example/faq.html#shipping",
            ])
        #expect("https://a.example/x   # note".withoutURLListComment() == "https://a.example/x")

        try "https://shop.example/a\nhttps://shop.example/red shoes.html\n"
            .write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        let spaced = try Job.load(path: dir + "/job.json", backend: nil)
        #expect(throws: JobError.self) { try Planner(job: spaced).check() }
        do {
            _ = try Planner(job: spaced).check()
        } catch {
            let text = "\(error)"
            #expect(text.contains("urls.txt:2"), "the line is named: \(text)")
            #expect(text.contains("contains a blank"), "\(text)")
        }
    }

    /// Item 6: loopback or private URLs without `allowPrivateNetworks` are announced by `plan`.
    @Test func planWarnsAboutPrivateURLs() async throws {
        let dir = tempDir("private")
        let path = dir + "/job.json"
        try #"{"name": "p", "urls": ["http://127.0.0.1:8080/", "http://localhost:8080/a", "http://10.0.0.7/"]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let plan = try await CrawlrunProcess.run(["plan", path])
        #expect(plan.code == 0)
        #expect(plan.stdout.contains("warning:    3 URLs are on a loopback or private address"), "\(plan.stdout)")
        #expect(plan.stdout.contains("crawl.allowPrivateNetworks") && plan.stdout.contains("--allow-private-networks"))
        try #"{"name": "p", "urls": ["http://127.0.0.1:8080/"], "crawl": {"allowPrivateNetworks": true}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let allowed = try await CrawlrunProcess.run(["plan", path])
        #expect(!allowed.stdout.contains("warning"), "\(allowed.stdout)")
    }

    /// Items 6 and 11: the summary gives each error kind's first message, and names a field
    /// that matched on no page; report.json says both.
    @Test func summaryGivesFirstMessagesAndFieldsThatNeverMatched() throws {
        func line(_ url: String, ok: Bool, price: JSONValue, error: RecordError? = nil) -> [UInt8] {
            ResultRecord(
                url: url, ok: ok, status: ok ? 200 : nil, fields: ok ? ["price": price, "h": "Shop"] : [:],
                error: error, attempts: 1, batch: "0001", startedAt: "2026-12-07T18:00:00.000Z", ms: 5
            ).jsonLine()
        }
        let blocked = RecordError(
            kind: .blocked,
            message: "127.0.0.1 resolves to 127.0.0.1, a loopback address; set crawl.allowPrivateNetworks")
        var merger = ResultMerger(urls: 4)
        let urls = ["http://s/1", "http://s/2", "http://s/3", "http://s/4"]
        _ = merger.merge(
            batch: "0001", urls: urls,
            results: line(urls[0], ok: true, price: .null) + line(urls[1], ok: true, price: .null)
                + line(urls[2], ok: false, price: .null, error: blocked)
                + line(urls[3], ok: false, price: .null, error: blocked))
        let ledger = BatchLedger(
            run: "20261207-180000-abcd", batches: [("0001", 4)],
            options: .init(maxTasks: 1, retries: 2, maxRunSeconds: 3600))
        let report = RunReport(
            run: "20261207-180000-abcd", job: "shop", backend: "local", status: .finished,
            startedAt: "2026-12-07T18:00:00.000Z", finishedAt: "2026-12-07T18:00:03.000Z", seconds: 3,
            merger: merger, ledger: ledger, task: try Self.task(), problems: [])
        let text = Summary.text(
            report: report, layout: RunLayout(runsDirectory: "runs", id: report.run), code: .someFailed, color: false)
        #expect(
            text.contains("blocked ×2  e.g. http://s/3: 127.0.0.1 resolves to 127.0.0.1, a loopback address"), "\(text)"
        )
        #expect(text.contains("field `price` matched on 0 of 2 pages"), "\(text)")
        #expect(!text.contains("field `h`"))
        let json = report.json
        #expect(json["errors"]?["blocked"]?["message"] == JSONValue.string(blocked.message))
        #expect(json["fields"]?["price"] == ["pages": 2, "matched": 0])
        #expect(json["unmatchedFields"] == ["field `price` matched on 0 of 2 pages"])
        #expect(String(decoding: ReportPage.bytes(report), as: UTF8.self).contains("field `price` matched on 0 of 2"))
    }

    /// Item 3: the job's browser arguments are added to the defaults; one replaces a default of
    /// its switch, `!--switch` removes one.
    @Test func browserArgsAddToTheDefaults() throws {
        var o = CrawlOptions()
        o.browserArgs = ["--user-agent=NewcomerBot/1.0", "--window-size=1920,1080", "!--disable-gpu"]
        let args = PageVisitor.capabilities(o)["goog:chromeOptions"]?["args"]?.arrayValue?.compactMap(\.stringValue)
        let got: [String]? = try #require(args as [String]?)
        #expect(got?.contains("--headless=new") == true, "headless kept: \(args ?? [])")
        #expect(got?.contains("--no-sandbox") == true)
        #expect(got?.contains("--user-agent=NewcomerBot/1.0") == true)
        #expect(got?.filter { $0.hasPrefix("--window-size") } == ["--window-size=1920,1080"])
        #expect(got?.contains("--disable-gpu") == false)
        o.browserName = "firefox"
        o.browserArgs = ["-width=1000"]
        #expect(PageVisitor.capabilities(o)["moz:firefoxOptions"]?["args"] == ["-headless", "-width=1000"])
    }

    /// Item 9: tasks that end after an interrupt were stopped by it: no infrastructure failure,
    /// no "go to attempt 2"; the summary says how to go on, with the run's own directory.
    @Test func anInterruptIsNoInfrastructureFailureAndTheSummarySaysHowToResume() throws {
        var l = BatchLedger(
            run: "20261207-180926-33df", batches: [("0001", 3), ("0002", 3)],
            options: .init(maxTasks: 2, retries: 2, maxRunSeconds: 3600))
        _ = l.start()
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
        _ = l.launched(batch: "0002", attempt: 1, task: "t2", now: 0)
        _ = l.interrupt("SIGINT")
        let stopped = TaskEnd(
            stopCode: .userInitiated, reason: "SIGINT",
            containers: [ContainerExit(name: "crawler", exitCode: 75), ContainerExit(name: "webdriver", exitCode: 143)])
        for b in ["0001", "0002"] {
            _ = l.taskEnded(batch: b, attempt: 1, records: 1, missing: ["\(b)/2", "\(b)/3"], end: stopped, now: 2)
            #expect(l.attempt(batch: b, attempt: 1)?.end?.infrastructureProblem == nil)
        }
        #expect(l.counts.infrastructureFailures == 0 && l.counts.retriedTasks == 0)
        var merger = ResultMerger(urls: 6)
        _ = merger.giveUp(batch: "0001", urls: ["0001/2"], attempts: 1, reason: "run interrupted (SIGINT)")
        let report = RunReport(
            run: l.run, job: "shop", backend: "local", status: .interrupted, startedAt: "2026-12-07T18:09:26.000Z",
            finishedAt: "2026-12-07T18:09:30.000Z", seconds: 4, merger: merger, ledger: l, task: try Self.task(),
            problems: [])
        let layout = RunLayout(directory: "/srv/crawls/runs/20261207-180926-33df")
        let text = Summary.text(report: report, layout: layout, code: .interrupted, color: false)
        #expect(text.contains("  resume: crawlrun resume /srv/crawls/runs/20261207-180926-33df"), "\(text)")
        #expect(!text.contains("infrastructure failure"), "\(text)")
    }

    /// Item 5: without credentials, a Fargate run says so in one line with doctor's fix, exits 2,
    /// and creates nothing.
    @Test func fargateWithoutCredentialsCreatesNothing() async throws {
        let dir = tempDir("nocreds")
        let job = try Self.fargateJob(in: dir)
        let r = try await CrawlrunProcess.run(
            ["run", job, "--backend", "fargate", "--runs-dir", dir + "/runs"], environment: Self.noCredentials)
        #expect(r.code == 2, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line: \(r.stderr)")
        #expect(r.stderr.contains("the fargate backend needs AWS credentials"))
        #expect(r.stderr.contains("fix: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/runs"), "no run directory")
    }

    /// Item 10: with no answer from AWS, doctor names the endpoint and the cause once and skips
    /// the checks that would only repeat it.
    @Test func doctorWithoutANetworkSaysItOnce() async throws {
        let dir = tempDir("nonet")
        let job = try Self.fargateJob(in: dir)
        let closed = try freePort()  // nothing listens there: connection refused
        var environment = Self.noCredentials
        environment["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLEEXAMPLE"
        environment["AWS_SECRET_ACCESS_KEY"] = "secret"
        environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:\(closed)"
        let r = try await CrawlrunProcess.run(["doctor", job], environment: environment)
        #expect(r.code == 2)
        let out = r.stdout
        #expect(out.components(separatedBy: "no answer:").count == 2, "said once:\n\(out)")
        #expect(out.contains("127.0.0.1:\(closed)"), "the endpoint is named:\n\(out)")
        #expect(out.contains("- log group        skipped: no answer from AWS (see above)"), "\(out)")
        #expect(out.contains("- images           skipped: no answer from AWS"))
    }
}

extension Chrome {
    /// Issue 20 end to end on the local backend: chromedriver, the crawler, the fixture site.
    @Suite struct NewcomerRunTests {
        /// Items 1 and 9: a job with a relative `urlsFile`, interrupted, resumed from another
        /// directory after the job's own files are gone (another machine); the summary of the
        /// interrupt names the command, and `runs` shows the first start and the resume.
        @Test func resumeNeedsNothingOutsideTheRunDirectory() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("resume-rel")
            let project = dir + "/project"
            try FileManager.default.createDirectory(atPath: project + "/jobs", withIntermediateDirectories: true)
            let urls = (1...8).map { server.baseURL + "/slow?ms=400&n=\($0)" }
            try ("# the shop\n" + urls.joined(separator: "\n") + "\n")
                .write(toFile: project + "/jobs/shop-urls.txt", atomically: true, encoding: .utf8)
            try """
            {"name": "shop", "urlsFile": "shop-urls.txt", "batching": {"batchSize": 4},
             "crawl": {"allowPrivateNetworks": true, "tabsPerSession": 1}, "task": {"stopTimeout": 5}}
            """.write(toFile: project + "/jobs/shop.json", atomically: true, encoding: .utf8)
            let p = try CrawlrunProcess(
                ["run", project + "/jobs/shop.json", "--runs-dir", dir + "/runs", "--max-tasks", "1"])
            #expect(await awaitRecords(in: dir + "/runs"))
            kill(p.process.pid, SIGINT)
            #expect(await p.process.wait(timeout: .seconds(30)) == .exited(130))
            await p.process.outputDrained()
            let run = try runDirectory(dir + "/runs")
            #expect(p.stdout.contains("  resume: crawlrun resume \(run)"), "\(p.stdout)")
            #expect(!p.stderr.contains("go to attempt"), "\(p.stderr)")
            #expect(try readJSON(run + "/report.json")["tasks"]?["infrastructureFailures"] == 0)

            // Another machine: the job's directory is not there.
            try FileManager.default.removeItem(atPath: project)
            let resumed = try await CrawlrunProcess.run(["resume", run])
            #expect(resumed.code == 0, "\(resumed.stdout)\n\(resumed.stderr)")
            let records = try readRecords(run + "/results.jsonl")
            #expect(records.count == 8 && Set(records.map(\.url)) == Set(urls) && records.allSatisfy(\.ok))
            let listed = try await CrawlrunProcess.run(["runs", "--runs-dir", dir + "/runs"])
            #expect(listed.stdout.contains("ago, resumed "), "\(listed.stdout)")
            let state = try readJSON(run + "/state.json")
            #expect(
                (state["startedAt"]?.stringValue ?? "z") < (state["resumedAt"]?.stringValue ?? ""),
                "startedAt stays the first start")
        }

        /// Item 4: records stream as pages finish, so `| head -1` stops the crawl within a page or
        /// so; and two ad-hoc crawls in one directory do not wait for each other's lock.
        @Test func crawlStreamsRecordsAndEachCrawlHasItsOwnName() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("stream")
            // 40 pages of 400 ms: 4 s or more in one session of four tabs, so a crawl that does not
            // stop when its output closes shows, however late `head` exits under load.
            let urls = (1...40).map { server.baseURL + "/slow?ms=400&n=\($0)" }
            // Another crawl in the same directory, alive meanwhile.
            let other = try CrawlrunProcess(
                ["crawl", server.baseURL + "/slow?ms=1500", "--allow-private-networks", "--runs-dir", dir])
            let (shell, _, err) = try crawlIntoHead(
                urls, "--allow-private-networks --sessions 1 --runs-dir '\(dir)'", lines: 1)
            #expect(await shell.wait(timeout: .seconds(60)) == .exited(0), "\(err.text)")
            #expect(!err.text.contains("already running"), "\(err.text)")
            #expect(await other.process.wait(timeout: .seconds(60)) == .exited(0), "\(other.stderr.text)")
            let runs = try FileManager.default.contentsOfDirectory(atPath: dir).filter(RunLayout.isRunID)
            #expect(runs.count == 2)
            let jobs = try runs.map { try readJSON(dir + "/" + $0 + "/state.json")["job"]?.stringValue ?? "" }
            #expect(Set(jobs).count == 2 && jobs.allSatisfy { $0.hasPrefix("crawl-") }, "\(jobs)")
            let piped = try #require(
                runs.first { (try? readJSON(dir + "/" + $0 + "/state.json"))?["counts"]?["urls"] == 40 })
            #expect(
                await eventually(timeout: .seconds(15)) {
                    (try? readJSON(dir + "/" + piped + "/state.json"))?["status"] == "interrupted"
                })
            let crawled = try readRecords(dir + "/" + piped + "/results.jsonl").filter { $0.error?.kind != .incomplete }
            // One session, four tabs: the record head took, the pages in flight and those written
            // before `head` exited (a loaded machine lets it linger a round or two), not the batch.
            #expect(
                crawled.count <= 14, "the crawl stopped soon after the output closed: \(crawled.count) of 40 crawled")
        }

        /// Item 8: artifact paths in records resolve from the run directory.
        @Test func artifactPathsResolveFromTheRunDirectory() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("shots")
            let r = try await CrawlrunProcess.run([
                "crawl", server.baseURL + "/page/1", "--screenshot", "always", "--allow-private-networks",
                "--runs-dir", dir,
            ])
            #expect(r.code == 0, "\(r.stderr)")
            let record = try JSONDecoder().decode(ResultRecord.self, from: Data(r.stdout.utf8))
            let shot = try #require(record.artifacts?["screenshot"])
            #expect(shot.hasPrefix("results/artifacts/"), "\(shot)")
            let run = try runDirectory(dir)
            #expect(FileManager.default.fileExists(atPath: run + "/" + shot), "\(run)/\(shot)")
        }

        /// Item 3: a browser that cannot start a session is said at once, with the driver's
        /// words, and not retried as a slow sidecar would be.
        @Test func aBrowserThatCannotStartIsReportedAtOnce() async throws {
            let dir = tempDir("nosession")
            // Without --headless and without a display, Chrome exits as it starts.
            let jobPath = try writeJob(
                [
                    "name": "headful", "urls": ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"],
                    "crawl": ["allowPrivateNetworks": true, "browserArgs": ["!--headless"]],
                    "task": ["stopTimeout": 2],
                ], in: dir)
            let t0 = ContinuousClock.now
            let r = try await CrawlrunProcess.run(
                ["run", jobPath, "--runs-dir", dir + "/runs"], environment: ["DISPLAY": "", "WAYLAND_DISPLAY": ""])
            #expect(ContinuousClock.now - t0 < .seconds(45), "not the sidecar's 120 s wait, three times")
            #expect(r.code == 2, "\(r.stdout)\n\(r.stderr)")
            #expect(r.stdout.contains("crawler exited 78: the browser could not start a session"), "\(r.stdout)")
            #expect(r.stdout.contains("session not created"), "the driver's own words: \(r.stdout)")
            #expect(r.stderr.contains("not retried"), "\(r.stderr)")
            let report = try readJSON(try runDirectory(dir + "/runs") + "/report.json")
            #expect(report["tasks"]?["started"] == 1, "one task, no retry")
        }
    }
}

/// `crawlrun crawl URL… ARGUMENTS | head -N` through the shell, as a user pipes it; the shell,
/// and what came out of `head` and of crawlrun's standard error.
func crawlIntoHead(
    _ urls: [String], _ arguments: String, lines: Int
) throws -> (shell: ChildProcess, out: LineBox, err: LineBox) {
    let command =
        "exec \"$0\" crawl " + urls.map { "'\($0)'" }.joined(separator: " ") + " \(arguments) | head -\(lines)"
    var environment = ProcessInfo.processInfo.environment
    environment["CRAWLRUN_CRAWLER"] = binary("crawler")
    let out = LineBox()
    let err = LineBox()
    let shell = try ChildProcess(
        "/bin/sh", arguments: ["-c", command, binary("crawlrun")], environment: environment,
        stdout: .lines { out.append($0) }, stderr: .lines { err.append($0) })
    return (shell, out, err)
}
