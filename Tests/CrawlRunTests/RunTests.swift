import Coordinator
import CrawlKit
import Foundation
import JSONKit
import ProcessKit
import TestSupport
import Testing

/// `crawlrun` as a user starts it: the binary, its output and exit code.
struct CrawlrunProcess {
    let process: ChildProcess
    let stdout = LineBox()
    let stderr = LineBox()

    /// `directory`: where it runs (a job's folder, for relative paths); else the tests' own.
    init(
        _ arguments: [String], stdin: String? = nil, directory: String? = nil, environment extra: [String: String] = [:]
    ) throws {
        var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        environment["CRAWLRUN_CRAWLER"] = binary("crawler")
        environment["NO_COLOR"] = "1"
        let out = stdout
        let err = stderr
        var args = arguments
        if let stdin {
            // Standard input from a file, through the shell: ChildProcess gives /dev/null.
            let path = tempDir("stdin") + "/in.txt"
            try stdin.write(toFile: path, atomically: true, encoding: .utf8)
            args = ["-c", "exec \"$0\" \"$@\" < \(path)", binary("crawlrun")] + arguments
            process = try ChildProcess(
                "/bin/sh", arguments: args, environment: environment, stdout: .lines { out.append($0) },
                stderr: .lines { err.append($0) })
            return
        }
        if let directory {
            args = ["-c", "cd \"$0\" && exec \"$@\"", directory, binary("crawlrun")] + arguments
            process = try ChildProcess(
                "/bin/sh", arguments: args, environment: environment, stdout: .lines { out.append($0) },
                stderr: .lines { err.append($0) })
            return
        }
        process = try ChildProcess(
            binary("crawlrun"), arguments: args, environment: environment, stdout: .lines { out.append($0) },
            stderr: .lines { err.append($0) })
    }

    /// Runs to the end; the exit code.
    static func run(
        _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]
    ) async throws -> (
        code: Int32?, stdout: String, stderr: String
    ) {
        let p = try CrawlrunProcess(arguments, stdin: stdin, environment: environment)
        let status = await p.process.wait(timeout: .seconds(120))
        await p.process.outputDrained()
        return (status?.code, p.stdout.text, p.stderr.text)
    }
}

/// The one run directory under `runs`.
func runDirectory(_ runs: String) throws -> String {
    // `latest` and `locks/` sit beside the run directories.
    let entries = try FileManager.default.contentsOfDirectory(atPath: runs).filter(RunLayout.isRunID)
    // A thrown error, not #require: callers poll this inside `try?` while the run is being created.
    guard entries.count == 1 else { throw FixtureError("one run directory expected in \(runs), got \(entries)") }
    return runs + "/" + entries[0]
}

/// Waits until the run under `runs` has at least one record in each of `batches`' results: the
/// moment a test interrupts a run whose tasks are under way.
/// Waits until each batch has a record, in any attempt's results file (`0001.jsonl`,
/// `0001.a2.jsonl`, …: a task that failed to start is retried under the attempt's name).
func awaitRecords(in runs: String, batches: [String] = ["0001"], timeout: Duration = .seconds(30)) async -> Bool {
    await eventually(timeout: timeout) {
        guard let r = try? runDirectory(runs) else { return false }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: r + "/results")) ?? []
        return batches.allSatisfy { batch in
            files.contains { file in
                (file == batch + ".jsonl" || file.hasPrefix(batch + ".a")) && lineCount(r + "/results/" + file) >= 1
            }
        }
    }
}

func readJSON(_ path: String) throws -> JSONValue {
    try JSONValue.decode(try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeJob(_ job: JSONValue, in dir: String) throws -> String {
    let path = dir + "/job.json"
    try job.encoded().write(to: URL(fileURLWithPath: path))
    return path
}

/// Pids logged by crawlrun as it starts a container: "started … (pid N)".
func loggedPids(_ path: String) -> [pid_t] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
        guard let r = line.firstRange(of: "(pid ") else { return nil }
        return pid_t(line[r.upperBound...].prefix { $0.isNumber })
    }
}

extension Chrome {
    /// `crawlrun run` and `crawlrun crawl` end to end on the local backend: real chromedriver,
    /// the real crawler binary, the loopback fixture site. What every backend promises (a
    /// multi-batch run, a killed crawler, an unhealthy sidecar, Ctrl-C, `stop`) is asserted on
    /// local by BackendContractTests.
    @Suite struct RunTests {
        func job(
            _ urls: [String], batchSize: Int, crawl: JSONValue = [:], extra: [String: JSONValue] = [:]
        ) -> JSONValue {
            var c = crawl.objectValue ?? [:]
            c["allowPrivateNetworks"] = true
            c["retryBackoff"] = .number(0.05)
            var doc: [String: JSONValue] = [
                "name": "test", "urls": .array(urls.map { .string($0) }),
                "batching": ["batchSize": .number(Double(batchSize))], "crawl": .object(c),
            ]
            for (k, v) in extra { doc[k] = v }
            return .object(doc)
        }

        /// A sidecar that exits at once (as chromedriver does when its port was taken between
        /// our choice and its bind) is started again on another port: the task runs, no retry.
        @Test func aSidecarThatExitsAtOnceIsStartedAgain() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("quick-exit")
            let marker = dir + "/started-once"
            let script = dir + "/flaky-chromedriver"
            try """
            #!/bin/sh
            if [ ! -e '\(marker)' ]; then touch '\(marker)'; echo "bind() failed: Address already in use" >&2; exit 1; fi
            exec \(ChromeDriver.binary) "$@"
            """.write(toFile: script, atomically: true, encoding: .utf8)
            chmod(script, 0o755)
            let urls = [server.baseURL + "/page/1"]
            let jobPath = try writeJob(
                job(urls, batchSize: 1, extra: ["local": ["chromedriver": .string(script)]]), in: dir)
            let r = try await CrawlrunProcess.run(["run", jobPath, "--runs-dir", dir + "/runs"])
            #expect(r.code == 0, "\(r.stdout)\n\(r.stderr)")
            let run = try runDirectory(dir + "/runs")
            #expect(try readRecords(run + "/results.jsonl").map(\.ok) == [true])
            let log = (try? String(contentsOfFile: run + "/logs/0001/webdriver.log", encoding: .utf8)) ?? ""
            #expect(log.contains("exited at once (exit 1); starting it again on another port"), "\(log)")
            #expect(!r.stdout.contains("retry"), "\(r.stdout)")
        }

        @Test func jobWhereEveryURLFails() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("allfail")
            let urls = (1...4).map { server.baseURL + "/status/500?n=\($0)" }
            let jobPath = try writeJob(job(urls, batchSize: 2, crawl: ["maxAttempts": 1]), in: dir)
            let r = try await CrawlrunProcess.run(["run", jobPath, "--runs-dir", dir + "/runs", "--json"])
            #expect(r.code == 1)
            let report = try JSONValue.decode(Data(r.stdout.utf8))
            #expect(report["counts"] == ["urls": 4, "ok": 0, "failed": 4, "incomplete": 0])
            #expect(report["errors"]?["http"]?["count"] == 4)
            #expect(report["tasks"]?["infrastructureFailures"] == 0, "crawl failures are not infrastructure failures")
            let records = try readRecords(try runDirectory(dir + "/runs") + "/results.jsonl")
            #expect(records.count == 4 && records.allSatisfy { $0.status == 500 && $0.error?.kind == .http })
        }

        @Test func crawlCommandPrintsJSONLines() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("adhoc")
            let r = try await CrawlrunProcess.run([
                "crawl", server.baseURL + "/page/1", server.baseURL + "/page/2", "--field", "h=h1", "--field",
                "tags[]=li.tag", "--allow-private-networks", "--runs-dir", dir,
            ])
            #expect(r.code == 0, "\(r.stderr)")
            let records = try r.stdout.split(separator: "\n").map {
                try JSONDecoder().decode(ResultRecord.self, from: Data($0.utf8))
            }
            #expect(records.count == 2 && records.allSatisfy { $0.ok })
            #expect(Set(records.compactMap { $0.fields["h"]?.stringValue }) == ["Page 1", "Page 2"])
            #expect(records.allSatisfy { $0.fields["tags"]?.arrayValue != nil })
            #expect(r.stderr.contains("2 ok"), "the summary goes to standard error")
            // From standard input, one per line, comments skipped.
            let piped = try await CrawlrunProcess.run(
                ["crawl", "--allow-private-networks", "--runs-dir", dir],
                stdin: "# pages\n\(server.baseURL)/page/3\n")
            #expect(piped.code == 0 && piped.stdout.split(separator: "\n").count == 1)
        }
    }
}

/// The CLI's own errors: no browser needed.
@Suite struct CLITests {
    @Test func usageErrorsExit64() async throws {
        for args in [
            ["run"], ["run", "a.json", "--max-tasks", "0"], ["bogus"], ["plan", "--nope", "x"], ["crawl", "--json"],
            ["doctor"], ["doctor", "a.json", "--fix"], ["iam-policy"],
        ] {
            let r = try await CrawlrunProcess.run(args)
            #expect(r.code == 64, "\(args)")
            #expect(r.stderr.contains("crawlrun: "))
        }
        for command in ["run", "plan", "crawl", "iam-policy", "doctor"] {
            let help = try await CrawlrunProcess.run([command, "--help"])
            #expect(help.code == 0 && help.stdout.contains("usage: crawlrun \(command)"), "\(command)")
        }
        // A job whose fargate section is wrong is checked as far as it can be, not rejected.
        let dir = tempDir("doctor")
        try #"{"urls": ["http://a.example/"], "fargate": {"region": "us-east-1", "executionRoleArn": "role"}}"#
            .write(toFile: dir + "/job.json", atomically: true, encoding: .utf8)
        let doctor = try await CrawlrunProcess.run(
            ["doctor", dir + "/job.json"],
            environment: [
                "AWS_ACCESS_KEY_ID": "", "AWS_PROFILE": "none", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                "AWS_CONFIG_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
            ])
        #expect(doctor.code == 2)
        #expect(
            doctor.stdout.contains("✗ credentials      profile none (AWS_PROFILE) is in neither"), "\(doctor.stdout)")
        #expect(doctor.stdout.contains("✗ job              fargate.subnets: required"))
        #expect(doctor.stdout.contains("✗ roles            fargate.executionRoleArn \"role\" is not"))
        #expect(doctor.stdout.contains("- cluster          skipped: no credentials"))
    }

    @Test func invalidJobExits65WithEveryProblem() async throws {
        let dir = tempDir("badjob")
        let path = dir + "/bad.json"
        try #"{"urls": ["http://a.example/", "ftp://b/"], "crawl": {"sesions": 2}, "task": {"cpu": 300}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        for command in ["run", "plan"] {
            let r = try await CrawlrunProcess.run(
                command == "run" ? ["run", path, "--runs-dir", dir + "/runs"] : ["plan", path])
            #expect(r.code == 65, "\(command)")
            #expect(r.stderr.contains("crawl.sesions"))
            #expect(r.stderr.contains("did you mean \"sessions\""))
            #expect(r.stderr.contains("task.cpu"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/runs"), "nothing launched, no run directory")
        let crawl = try await CrawlrunProcess.run(["crawl", "ftp://x/"])
        #expect(crawl.code == 65 && crawl.stderr.contains("urls[0]"))
    }
}
