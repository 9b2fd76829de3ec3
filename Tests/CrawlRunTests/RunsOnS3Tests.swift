import AWS
import Coordinator
import CrawlKit
import Foundation
import JSONKit
import S3Runs
import Synchronization
import TestSupport
import Testing

/// `--runs-dir s3://BUCKET/PREFIX` parsed once, and the lease rules, alone.
@Suite struct RunsLocationTests {
    @Test func aRunsDirectoryIsAFolderOrAnS3Prefix() throws {
        #expect(try RunsLocation.parse("runs") == .disk("runs"))
        #expect(try RunsLocation.parse("s3://crawl-runs/team/runs/") == .s3(bucket: "crawl-runs", prefix: "team/runs"))
        #expect(try RunsLocation.parse("s3://crawl-runs") == .s3(bucket: "crawl-runs", prefix: ""))
        for bad in [
            "s3://", "s3:/x", "s3:x", "gs://bucket/runs", "s3://Bad_Bucket/runs", "s3://b/runs", "s3://ok-bucket/a//b",
        ] {
            #expect(throws: RunsLocation.Problem.self, "\(bad)") { try RunsLocation.parse(bad) }
            do {
                _ = try RunsLocation.parse(bad)
            } catch {
                #expect(error.message.contains("--runs-dir") && error.message.contains(bad), "\(error.message)")
            }
        }
        let run = try #require(try RunsLocation.parseRun("s3://crawl-runs/runs/20261207-101500-0a1b"))
        #expect(run.location == .s3(bucket: "crawl-runs", prefix: "runs") && run.id == "20261207-101500-0a1b")
        #expect(try RunsLocation.parseRun("runs/20261207-101500-0a1b") == nil)
        #expect(throws: RunsLocation.Problem.self) { try RunsLocation.parseRun("s3://crawl-runs/runs") }
        #expect(RunLayout.key(prefix: "runs", run: "R", RunLayout.state) == "runs/R/state.json")
        #expect(RunLayout.leaseKey(prefix: "", job: "shop") == "locks/shop.json")
    }

    @Test func leaseRules() {
        let live = JobLease(
            job: "j", run: "R", owner: "crawlrun pid 1 on a", token: "t1", acquiredAt: "", expiresAt: 200)
        #expect(JobLease.decide(found: nil, exists: false, now: 100, token: "t2") == .create)
        #expect(JobLease.decide(found: live, exists: true, now: 100, token: "t2") == .held(live))
        #expect(JobLease.decide(found: live, exists: true, now: 100, token: "t1") == .ours)
        #expect(JobLease.decide(found: live, exists: true, now: 300, token: "t2") == .takeOver(previous: live))
        #expect(JobLease.decide(found: nil, exists: true, now: 100, token: "t2") == .takeOver(previous: nil))
        #expect(live.renewed(now: 500, seconds: 60).expiresAt == 560)
    }
}

/// moto_server with a bucket, and the environment a crawlrun needs to use it.
struct S3Peer {
    let moto: MotoServer
    let env: [String: String]
    let s3: S3Client
    static let bucket = "crawl-runs"

    static func start(leaseSeconds: Int = 60) async throws -> S3Peer {
        let moto = try await MotoServer.start()
        let env = [
            "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "AKIDRUNS", "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_REGION": "us-east-1", "CRAWLRUN_LEASE_SECONDS": String(leaseSeconds),
        ]
        let s3 = AWSServices(region: "us-east-1", variables: env).s3
        _ = try await s3.send("PUT", bucket, key: "", operation: "CreateBucket")
        return S3Peer(moto: moto, env: env, s3: s3)
    }

    func keys(_ prefix: String) async throws -> [String] {
        try await s3.listObjects(bucket: Self.bucket, prefix: prefix).map(\.key)
    }

    func object(_ key: String) async throws -> Data {
        try await s3.getObject(S3Location(bucket: Self.bucket, key: key))
    }

    func records(_ key: String) async throws -> [ResultRecord] {
        try String(decoding: try await object(key), as: UTF8.self).split(separator: "\n").map {
            try JSONDecoder().decode(ResultRecord.self, from: Data($0.utf8))
        }
    }

    /// Waits until the run under `runs/` has uploaded a piece of its results; its id.
    func awaitResultPiece() async -> String? {
        let found = Mutex<String?>(nil)
        _ = await eventually(timeout: .seconds(60)) {
            guard let run = try? await runID() else { return false }
            guard ((try? await keys("runs/\(run)/\(RunLayout.resultPieces)/")) ?? []).count >= 1 else { return false }
            found.withLock { $0 = run }
            return true
        }
        return found.withLock { $0 }
    }

    /// The one run under `runs/`.
    func runID() async throws -> String? {
        Set(try await keys("runs/").compactMap { $0.split(separator: "/").dropFirst().first.map(String.init) })
            .filter(RunLayout.isRunID).first
    }
}

extension Chrome {
    /// Runs on S3 (issue 21 items 1–2) on the local backend against moto_server: the same files
    /// as on disk, one live run per job through the lease, an expired lease's run resumed without
    /// crawling a recorded URL again, `stop` and `runs` from another process.
    @Suite struct RunsOnS3Tests {
        func job(_ urls: [String], name: String, batchSize: Int = 2) -> JSONValue {
            [
                "name": .string(name), "urls": .array(urls.map { .string($0) }),
                "batching": ["batchSize": .number(Double(batchSize))],
                "crawl": ["allowPrivateNetworks": true, "retryBackoff": .number(0.05)], "task": ["stopTimeout": 5],
            ]
        }

        @Test func aRunOnS3HasTheFilesARunOnDiskHas() async throws {
            let peer = try await S3Peer.start()
            defer { Task { await peer.moto.stop() } }
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("s3same")
            let urls = (1...4).map { server.baseURL + "/slow?ms=10&n=\($0)" }
            let jobPath = try writeJob(job(urls, name: "same"), in: dir)
            let onDisk = try await CrawlrunProcess.run(
                ["run", jobPath, "--runs-dir", dir + "/runs"], environment: peer.env)
            #expect(onDisk.code == 0, "\(onDisk.stderr)")
            let onS3 = try await CrawlrunProcess.run(
                ["run", jobPath, "--runs-dir", "s3://\(S3Peer.bucket)/runs"], environment: peer.env)
            #expect(onS3.code == 0, "\(onS3.stderr)")
            let id = try #require(try await peer.runID())
            #expect(
                onS3.stdout.contains("s3://\(S3Peer.bucket)/runs/\(id)"),
                "the summary names the run on S3: \(onS3.stdout)")
            let run = try runDirectory(dir + "/runs")
            let local = Set(
                try FileManager.default.subpathsOfDirectory(atPath: run).filter { path in
                    var isDirectory: ObjCBool = false
                    _ = FileManager.default.fileExists(atPath: run + "/" + path, isDirectory: &isDirectory)
                    // The local backend's own working files: the tasks' raw results and process groups.
                    return !isDirectory.boolValue && !path.hasPrefix(RunLayout.attemptResults + "/")
                        && path != RunLayout.localTasks
                })
            let remote = Set(try await peer.keys("runs/\(id)/").map { String($0.dropFirst("runs/\(id)/".count)) })
            #expect(
                remote == local, "on S3 only: \(remote.subtracting(local)); on disk only: \(local.subtracting(remote))")
            let records = try await peer.records("runs/\(id)/results.jsonl")
            #expect(records.count == 4 && Set(records.map(\.url)) == Set(urls) && records.allSatisfy(\.ok))
            let state = try JSONValue.decode(try await peer.object("runs/\(id)/state.json"))
            #expect(state["status"] == "finished")
            #expect(try await peer.keys("runs/locks/").isEmpty, "the lease is released at the end")
            #expect(!FileManager.default.fileExists(atPath: "s3:"), "no local folder named s3:")
        }

        /// SIGKILL mid-run: a second coordinator exits 75 naming the live owner; once the lease
        /// expires, `run` takes it over and resumes the same run; no recorded URL crawled again.
        @Test func anExpiredLeaseIsTakenOverAndItsRunResumed() async throws {
            let peer = try await S3Peer.start(leaseSeconds: 4)
            defer { Task { await peer.moto.stop() } }
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("s3lease")
            let urls = (1...12).map { server.baseURL + "/slow?ms=300&n=\($0)" }
            let jobPath = try writeJob(job(urls, name: "lease", batchSize: 4), in: dir)
            let runsDir = "s3://\(S3Peer.bucket)/runs"
            let first = try CrawlrunProcess(
                ["run", jobPath, "--runs-dir", runsDir, "--max-tasks", "1"], environment: peer.env)
            // Records of the first batch on S3 (a piece of results.jsonl), then the kill.
            let id = await peer.awaitResultPiece()
            kill(first.process.pid, SIGKILL)
            _ = await first.process.wait(timeout: .seconds(10))
            let run = try #require(id)
            var before: Set<String> = []
            for key in try await peer.keys("runs/\(run)/\(RunLayout.resultPieces)/") {
                before.formUnion(try await peer.records(key).map(\.url))
            }
            #expect(!before.isEmpty)

            let busy = try await CrawlrunProcess.run(["run", jobPath, "--runs-dir", runsDir], environment: peer.env)
            #expect(busy.code == 75, "\(busy.stderr)")
            #expect(
                busy.stderr.contains("already running: run \(run) (crawlrun pid \(first.process.pid)"), "\(busy.stderr)"
            )
            let resumeBusy = try await CrawlrunProcess.run(["resume", runsDir + "/" + run], environment: peer.env)
            #expect(resumeBusy.code == 75, "a live lease: resume waits its turn too: \(resumeBusy.stderr)")

            try await Task.sleep(for: .seconds(4))
            let taken = try await CrawlrunProcess.run(["run", jobPath, "--runs-dir", runsDir], environment: peer.env)
            #expect(taken.code == 0, "\(taken.stderr)")
            #expect(taken.stderr.contains("resuming run \(run)"), "\(taken.stderr)")
            #expect(try await peer.runID() == run, "no second run")
            let records = try await peer.records("runs/\(run)/results.jsonl")
            #expect(records.count == 12 && Set(records.map(\.url)) == Set(urls), "exactly one record per URL")
            var later: [String] = []
            for key in try await peer.keys("runs/\(run)/batches/") where key.contains(".a") {
                later += try JSONDecoder().decode(BatchFile.self, from: try await peer.object(key)).urls
            }
            #expect(Set(later).isDisjoint(with: before), "a URL recorded before the kill was crawled again")
            #expect(try await peer.keys("runs/\(run)/\(RunLayout.resultPieces)/").isEmpty)
        }

        @Test func twoCoordinatorsAtOnceOneRuns() async throws {
            let peer = try await S3Peer.start()
            defer { Task { await peer.moto.stop() } }
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("s3two")
            let urls = (1...2).map { server.baseURL + "/slow?ms=500&n=\($0)" }
            let jobPath = try writeJob(job(urls, name: "two"), in: dir)
            let args = ["run", jobPath, "--runs-dir", "s3://\(S3Peer.bucket)/runs"]
            async let a = CrawlrunProcess.run(args, environment: peer.env)
            async let b = CrawlrunProcess.run(args, environment: peer.env)
            let (ra, rb) = try await (a, b)
            let codes = [ra.code, rb.code].compactMap { $0 }.sorted()
            #expect(codes == [0, 75], "\(ra.stderr)\n\(rb.stderr)")
            let loser = ra.code == 75 ? ra : rb
            #expect(loser.stderr.contains("job two is already running: run 2"), "\(loser.stderr)")
            #expect(
                Set(
                    try await peer.keys("runs/").compactMap { $0.split(separator: "/").dropFirst().first }.filter {
                        RunLayout.isRunID(String($0))
                    }
                ).count == 1)
        }

        /// `stop s3://…/RUN-ID` from another process; `runs --runs-dir s3://…` from any machine.
        @Test func stopFromAnotherProcessThenListThenResume() async throws {
            let peer = try await S3Peer.start()
            defer { Task { await peer.moto.stop() } }
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("s3stop")
            let urls = (1...8).map { server.baseURL + "/slow?ms=400&n=\($0)" }
            let jobPath = try writeJob(job(urls, name: "halt"), in: dir)
            let runsDir = "s3://\(S3Peer.bucket)/runs"
            let p = try CrawlrunProcess(
                ["run", jobPath, "--runs-dir", runsDir, "--max-tasks", "1"], environment: peer.env)
            let id = await peer.awaitResultPiece()
            let run = try #require(id)
            let stop = try await CrawlrunProcess.run(["stop", runsDir + "/" + run], environment: peer.env)
            #expect(stop.code == 0, "\(stop.stderr)")
            #expect(stop.stdout.contains("run \(run) stopped (interrupted)"), "\(stop.stdout)")
            let status = await p.process.wait(timeout: .seconds(30))
            #expect(status?.code == 130)
            let listed = try await CrawlrunProcess.run(["runs", "--runs-dir", runsDir], environment: peer.env)
            #expect(
                listed.code == 0 && listed.stdout.contains(run) && listed.stdout.contains("interrupted"),
                "\(listed.stdout)")
            let resumed = try await CrawlrunProcess.run(["resume", runsDir + "/" + run], environment: peer.env)
            #expect(resumed.code == 0, "\(resumed.stderr)")
            let records = try await peer.records("runs/\(run)/results.jsonl")
            #expect(records.count == 8 && Set(records.map(\.url)) == Set(urls) && records.allSatisfy(\.ok))
            let again = try await CrawlrunProcess.run(["runs", "--runs-dir", runsDir, "--json"], environment: peer.env)
            #expect(again.stdout.contains("\"status\":\"finished\""), "\(again.stdout)")
        }

        @Test func badRunsDirectoriesAreOneMessageAndWriteNothing() async throws {
            let peer = try await S3Peer.start()
            defer { Task { await peer.moto.stop() } }
            let dir = tempDir("s3bad")
            let jobPath = try writeJob(job(["http://127.0.0.1:9/x"], name: "bad"), in: dir)
            for value in ["s3://", "s3:/x"] {
                let r = try await CrawlrunProcess.run(["run", jobPath, "--runs-dir", value], environment: peer.env)
                #expect(r.code == 64 && r.stderr.contains("--runs-dir \(value)"), "\(r.stderr)")
            }
            let r = try await CrawlrunProcess.run(
                ["run", jobPath, "--runs-dir", "s3://no-such-bucket/runs"], environment: peer.env)
            #expect(r.code == 2 && r.stderr.contains("the bucket no-such-bucket does not exist"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one message: \(r.stderr)")
            let listed = try await peer.s3.send("GET", "", key: "", operation: "ListBuckets")
            #expect(!String(decoding: listed.body, as: UTF8.self).contains("no-such-bucket"), "nothing created")
            #expect(try await peer.keys("").isEmpty, "nothing written")
            #expect(!FileManager.default.fileExists(atPath: "s3:"))
        }
    }
}

/// results.jsonl past 8 MiB goes up in multipart parts read from the local file, and the pieces
/// uploaded while the run was live are deleted (moto_server).
@Suite struct S3RunMirrorTests {
    @Test func largeResultsGoUpInPartsAndThePiecesGo() async throws {
        let peer = try await S3Peer.start()
        defer { Task { await peer.moto.stop() } }
        let scratch = tempDir("s3mirror")
        let layout = RunLayout(runsDirectory: scratch, id: "20261207-120000-0001")
        let mirror = S3RunMirror(
            s3: peer.s3, bucket: S3Peer.bucket, prefix: "runs", layout: layout, interval: .milliseconds(100))
        let store = try RunStore(runsDirectory: scratch, id: layout.id, mirror: mirror)
        let line = Array(#"{"url":"http://example.test/\#(String(repeating: "x", count: 200))"}"#.utf8) + [10]
        try store.appendResults(line)
        #expect(
            await eventually(timeout: .seconds(10)) {
                ((try? await peer.keys("runs/\(layout.id)/\(RunLayout.resultPieces)/")) ?? []).count == 1
            })
        // 10 MiB more: two parts at the end.
        let block = Array([[UInt8]](repeating: line, count: 5000).joined())
        for _ in 0..<(10 << 20) / block.count { try store.appendResults(block) }
        try await store.finishMirror()
        let local = try Data(contentsOf: URL(fileURLWithPath: layout.resultsPath))
        #expect(local.count > S3RunMirror.chunkSize)
        #expect(try await peer.object("runs/\(layout.id)/results.jsonl") == local)
        #expect(try await peer.keys("runs/\(layout.id)/\(RunLayout.resultPieces)/").isEmpty)
    }
}
