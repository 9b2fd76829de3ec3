import CrawlKit
import DockerBackend
import Foundation
import HTTP
import JSONKit
import LoopbackRelay
import ProcessKit
import TestSupport
import Testing

/// `crawlrun run --backend docker` end to end, each test on both engines (`DockerTestHost`):
/// podman's Docker Engine API and Docker Engine, which scripts/test.sh starts with the offline
/// images. The real crawlrun and images, Chrome in the sidecar image, pages served on this
/// machine's loopback and reached only through each engine's way there (podman: slirp4netns'
/// host-loopback alias; Docker Engine: the run's internal network and its relays). Where the
/// engines differ, the test says which. An engine that does not answer is left out, saying why,
/// except under CI=true, where its tests fail. Each test's job has a name of its own, which every
/// container of its runs carries as a label; each test ends by listing that label (and the run's
/// networks) and finding nothing. What every backend promises (a multi-batch run, a killed crawler,
/// an unhealthy sidecar, Ctrl-C, `stop`) is asserted on docker by BackendContractTests.
extension Chrome {
    @Suite(
        .enabled(
            if: DockerTestHost.noEngineReason == nil,
            Comment(rawValue: DockerTestHost.noEngineReason ?? "")))
    struct DockerBackendTests {

        /// An image the engine does not have and cannot pull ends the run before any task, with
        /// the image's name and the command that builds it.
        @Test(arguments: DockerTestHost.engines) func aMissingImageIsNamedWithHowToBuildIt(
            _ engine: DockerTestHost.Engine
        ) async throws {
            let t = try On(engine)
            try await t.leavingNothing {
                let dir = tempDir("docker-noimage")
                // A localhost/ name: the pull tries 127.0.0.1:443 and nothing beyond this machine.
                let missing = "localhost/crawlrun-no-such-crawler:0"
                let jobPath = try writeJob(
                    t.job(["http://127.0.0.1:9/a"], batchSize: 1, task: ["crawlerImage": .string(missing)]), in: dir)
                let r = try await CrawlrunProcess.run([
                    "run", jobPath, "--backend", "docker", "--runs-dir", dir + "/runs",
                ])
                #expect(r.code == 2, "\(r.stdout)\n\(r.stderr)")
                #expect(r.stdout.contains("the crawler image \(missing) is not on the Docker engine"), "\(r.stdout)")
                #expect(r.stdout.contains("docker build -f images/crawler/Dockerfile -t \(missing) ."), "\(r.stdout)")
                let records = try readRecords(try runDirectory(dir + "/runs") + "/results.jsonl")
                #expect(records.count == 1 && records.first?.error?.kind == .incomplete)
            }
        }

        /// The task's memory is a hard limit for the browser: a page that allocates past it ends
        /// as a browser-crash record, and the pages after it are crawled on a new session.
        @Test(arguments: DockerTestHost.engines) func theTasksMemoryLimitIsEnforced(
            _ engine: DockerTestHost.Engine
        ) async throws {
            let t = try On(engine)
            try await t.leavingNothing {
                // 32 MiB at a time, up to 4 GiB: past the sidecar's 1920 MiB (2048 − the crawler's 128).
                let hog = FixturePagesForDocker.hog
                let server = try FixtureServer { request in
                    request.url.hasPrefix("/hog")
                        ? HTTPResponse(status: 200, headers: [("Content-Type", "text/html")], body: Data(hog.utf8))
                        : nil
                }
                defer { server.stop() }
                let dir = tempDir("docker-memory")
                let urls = [server.baseURL + "/page/1", server.baseURL + "/hog", server.baseURL + "/page/2"]
                let jobPath = try writeJob(
                    t.job(urls, batchSize: 3, crawl: ["maxAttempts": 1], task: ["cpu": 1024, "memory": 2048]), in: dir)
                let r = try await CrawlrunProcess.run([
                    "run", jobPath, "--backend", "docker", "--runs-dir", dir + "/runs",
                ])
                #expect(r.code == 1, "\(r.stdout)\n\(r.stderr)")
                let records = try readRecords(try runDirectory(dir + "/runs") + "/results.jsonl")
                #expect(records.first { $0.url.hasSuffix("/hog") }?.error?.kind == .browserCrash, "\(records)")
                #expect(records.filter(\.ok).map(\.url).sorted() == [urls[0], urls[2]], "the crawl went on")
            }
        }

        /// crawlrun killed (SIGKILL) leaves its containers running; `resume` finds them by label,
        /// adopts them, finishes the run and removes them.
        @Test(arguments: DockerTestHost.engines) func resumeAdoptsTheRunsContainers(
            _ engine: DockerTestHost.Engine
        ) async throws {
            let t = try On(engine)
            try await t.leavingNothing {
                let server = try FixtureServer()
                defer { server.stop() }
                let urls = t.slowBatch(server)
                let run = try await t.runThenSIGKILL(urls, dir: tempDir("docker-resume"))
                let resumed = try await CrawlrunProcess.run(["resume", run])
                #expect(resumed.code == 0, "\(resumed.stdout)\n\(resumed.stderr)")
                #expect(resumed.stderr.contains("1 running (adopted)"), "\(resumed.stderr)")
                let records = try readRecords(run + "/results.jsonl")
                #expect(records.count == 8 && Set(records.map(\.url)) == Set(urls) && records.allSatisfy(\.ok))
                let report = try readJSON(run + "/report.json")
                #expect(report["tasks"]?["retries"] == 0, "the adopted task finished its batch")
                let log = (try? String(contentsOfFile: run + "/logs/0001/crawler.log", encoding: .utf8)) ?? ""
                #expect(log.contains("crawler: done 8/8"))
            }
        }

        /// `crawlrun stop` for a run whose crawlrun was killed: its containers are found by
        /// label, stopped and removed; `resume` then retries what they had not recorded.
        @Test(arguments: DockerTestHost.engines) func stopRemovesTheContainersOfARunWhoseCrawlrunIsGone(
            _ engine: DockerTestHost.Engine
        ) async throws {
            let t = try On(engine)
            try await t.leavingNothing {
                let server = try FixtureServer()
                defer { server.stop() }
                let urls = t.slowBatch(server)
                let run = try await t.runThenSIGKILL(urls, dir: tempDir("docker-stop"))
                let stop = try await CrawlrunProcess.run(["stop", run])
                #expect(
                    stop.code == 0 && stop.stdout.contains("1 task found, 1 stopped here"),
                    "\(stop.stdout)\(stop.stderr)")
                #expect(try await t.containers().isEmpty, "stop leaves no container of the run")
                let resumed = try await CrawlrunProcess.run(["resume", run])
                #expect(resumed.code == 0, "\(resumed.stdout)\n\(resumed.stderr)")
                let records = try readRecords(run + "/results.jsonl")
                #expect(records.count == 8 && Set(records.map(\.url)) == Set(urls) && records.allSatisfy(\.ok))
            }
        }

        // MARK: helpers

        /// One test on one engine: its client, its job's name, and what its runs leave.
        struct On {
            let engine: DockerTestHost.Engine
            let docker: DockerClient
            let name = "docker-" + UUID().uuidString.prefix(8).lowercased()

            init(_ engine: DockerTestHost.Engine) throws {
                self.engine = engine
                docker = try engine.client()
            }

            /// A job for the offline images; two vCPUs and 4 GiB (the whole machine) keep Chrome quick.
            func job(
                _ urls: [String], batchSize: Int, crawl: JSONValue = [:], task: JSONValue = [:],
                extra: [String: JSONValue] = [:]
            ) -> JSONValue {
                var c = crawl.objectValue ?? [:]
                c["allowPrivateNetworks"] = true
                c["retryBackoff"] = .number(0.05)
                var t: [String: JSONValue] = [
                    "crawlerImage": .string(DockerTestHost.crawlerImage),
                    "sidecarImage": .string(DockerTestHost.sidecarImage),
                    "cpu": 2048, "memory": 4096, "stopTimeout": 5,
                ]
                for (k, v) in task.objectValue ?? [:] { t[k] = v }
                var doc: [String: JSONValue] = [
                    "name": .string(name), "urls": .array(urls.map { .string($0) }),
                    "batching": ["batchSize": .number(Double(batchSize))], "crawl": .object(c), "task": .object(t),
                ]
                for (k, v) in extra { doc[k] = v }
                // The engine under test, for this run and its `resume` and `stop` (they read the job).
                var docker = doc["docker"]?.objectValue ?? [:]
                docker["host"] = .string(engine.host ?? "")
                doc["docker"] = .object(docker)
                return .object(doc)
            }

            /// Every container of this test's runs, running or not.
            func containers(_ more: [String] = []) async throws -> [ContainerSummary] {
                try await docker.listContainers(labels: ["\(DockerLabels.job)=\(name)"] + more)
            }

            /// Runs `body`; whatever it leaves is removed and the test fails if anything was left.
            func leavingNothing(_ body: () async throws -> Void) async throws {
                do {
                    try await body()
                } catch {
                    _ = try? await docker.removeContainers(labels: ["\(DockerLabels.job)=\(name)"])
                    _ = try? await docker.removeNetworks(labels: ["\(DockerLabels.job)=\(name)"])
                    throw error
                }
                let left = try await containers()
                #expect(left.isEmpty, "containers left behind: \(left.map(\.names))")
                _ = try? await docker.removeContainers(labels: ["\(DockerLabels.job)=\(name)"])
                // Docker Engine: the runs' networks go with them (their relays are containers, above).
                let networks = try await docker.removeNetworks(labels: ["\(DockerLabels.job)=\(name)"])
                #expect(networks.isEmpty, "networks left behind: \(networks)")
            }

            /// Starts `crawlrun run` of one batch on docker, kills it with SIGKILL once the crawler has
            /// recorded a URL, checks that its task runs on, and returns the run directory.
            /// A fast page (its record says the task is under way), then seven that answer after 3 s:
            /// the task outlives its crawlrun's SIGKILL by seconds even on a loaded machine (CI's
            /// 400 ms pages once finished before `stop` came).
            func slowBatch(_ server: FixtureServer) -> [String] {
                [server.baseURL + "/page/1"] + (2...8).map { server.baseURL + "/slow?ms=3000&n=\($0)" }
            }

            func runThenSIGKILL(_ urls: [String], dir: String) async throws -> String {
                let jobPath = try writeJob(job(urls, batchSize: urls.count), in: dir)
                let p = try CrawlrunProcess(["run", jobPath, "--backend", "docker", "--runs-dir", dir + "/runs"])
                #expect(await awaitRecords(in: dir + "/runs", timeout: .seconds(60)))
                kill(p.process.pid, SIGKILL)
                _ = await p.process.wait(timeout: .seconds(10))
                let running = try await containers().filter { $0.state == "running" }
                #expect(running.filter(\.isTask).count == 2, "the task runs on")
                // Docker Engine: and so does the relay its browser reaches the pages through.
                #expect(running.count == (engine.isPodman ? 2 : 3))
                return try runDirectory(dir + "/runs")
            }

            /// An image whose entrypoint sleeps: a sidecar that runs and never answers its health check.
            func sleeperImage() async throws -> String {
                var spec = ContainerSpec(image: DockerTestHost.baseImage)
                spec.entrypoint = ["sleep", "600"]
                spec.labels = [DockerLabels.job: name]
                spec.host.networkMode = NetworkMode.none
                let id = try await docker.createContainer(spec)
                let repository = "localhost/crawlrun-test-sleeper"
                _ = try await docker.commitContainer(id, repository: repository, tag: name)
                try await docker.removeContainer(id)
                return repository + ":" + name
            }
        }
    }
}

extension ContainerSummary {
    /// A task's sidecar or crawler, not a relay.
    var isTask: Bool { labels[DockerLabels.task] != nil }
}

enum FixturePagesForDocker {
    static let hog = """
        <!doctype html><title>Hog</title><script>
        const kept = [];
        for (let i = 0; i < 128; i++) { const b = new Uint8Array(32 * 1024 * 1024); b.fill(1); kept.push(b); }
        document.title = "Survived";
        </script>
        """
}
