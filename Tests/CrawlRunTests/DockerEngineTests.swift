import CrawlKit
import DockerBackend
import Foundation
import TestSupport
import Testing

/// The Docker Engine API client against a real engine: podman's service, which scripts/test.sh
/// starts (scripts/podman.sh) with the offline images. Skipped, saying why, where none answers.
/// Every container carries a label unique to its test and is removed by it; each test ends by
/// listing that label and finding nothing. Containers never join the host's network: pages on
/// the host's loopback are reached through slirp4netns' alias 10.0.2.2, and nothing else.
extension Chrome {
    @Suite(
        .enabled(
            if: DockerTestHost.unavailableReason == nil,
            Comment(rawValue: DockerTestHost.unavailableReason ?? "")))
    struct DockerEngineTests {
        let docker: DockerClient
        let label = "crawlrun.test=\(UUID().uuidString.prefix(8))"

        init() throws { docker = try DockerTestHost.client() }

        @Test func pingAndVersion() async throws {
            try await docker.ping()
            let version = try await docker.version()
            #expect(!version.version.isEmpty)
            // Every engine CrawlRun supports serves the API version this client speaks.
            #expect(
                version.minAPIVersion.isEmpty
                    || version.minAPIVersion.compare("1.41", options: .numeric) != .orderedDescending)
        }

        @Test func aMissingImageIsNilAndCannotBeCreated() async throws {
            let missing = "localhost/crawlrun-no-such-image:0"
            #expect(try await docker.inspectImage(missing) == nil)
            let image = try #require(try await docker.inspectImage(DockerTestHost.crawlerImage))
            #expect(image.labels["org.crawlrun.inputs"] != nil)
            let error = await #expect(throws: DockerError.self) {
                try await docker.createContainer(ContainerSpec(image: missing))
            }
            #expect(error?.code == .notFound)
            #expect(error?.description.contains(missing) == true)
        }

        /// A task as the docker backend will run it: the sidecar with an init process on
        /// slirp4netns, health-checked by us; the crawler in the sidecar's network namespace,
        /// crawling a page served on this machine's loopback; batch and results through a bind mount.
        @Test func aTaskCrawlsAPageThroughTheSidecarsLocalhost() async throws {
            try await cleaningUp {
                let site = try FixtureServer()
                defer { site.stop() }
                let dir = tempDir("docker-task")
                var options = CrawlOptions()
                options.allowPrivateNetworks = true  // 10.0.2.2 is a private address
                _ = try writeBatch(
                    BatchFile(batch: "0001", urls: ["http://10.0.2.2:\(site.port)/page/3"], crawl: options), in: dir)

                var sidecarSpec = ContainerSpec(image: DockerTestHost.sidecarImage)
                sidecarSpec.labels = labels("webdriver")
                sidecarSpec.stopTimeout = 10
                sidecarSpec.healthCheck = HealthCheck(
                    test: ["CMD-SHELL", "curl -sf http://localhost:4444/status | grep -q '\"ready\": *true'"],
                    interval: .seconds(1), timeout: .seconds(3), retries: 10, startPeriod: .seconds(1))
                sidecarSpec.host.initProcess = true
                sidecarSpec.host.networkMode = .slirp4netns(allowHostLoopback: true)
                sidecarSpec.host.nanoCPUs = HostSettings.nanoCPUs(ecsCPUUnits: 2048)
                sidecarSpec.host.memoryBytes = HostSettings.memoryBytes(mebibytes: 2048)
                let sidecar = try await docker.createContainer(sidecarSpec)
                try await docker.startContainer(sidecar)
                let healthy = await eventually(timeout: .seconds(30)) {
                    try await docker.runHealthCheck(sidecar) == .healthy
                }
                #expect(healthy, "chromedriver in the sidecar never answered its health check")

                var crawlerSpec = ContainerSpec(image: DockerTestHost.crawlerImage)
                crawlerSpec.labels = labels("crawler")
                crawlerSpec.environment = [
                    "CRAWL_BATCH": "/run/crawl/batch.json", "CRAWL_OUT": "/run/crawl/results.jsonl",
                    "WEBDRIVER_URL": "http://127.0.0.1:4444", "CRAWL_WAIT_TIMEOUT": "20",
                ]
                // The caller's uid, as the backend will run it: results in the run directory are theirs.
                crawlerSpec.user = "\(getuid()):\(getgid())"
                crawlerSpec.host.initProcess = true
                crawlerSpec.host.networkMode = .container(sidecar)
                crawlerSpec.host.binds = [Bind(source: dir, target: "/run/crawl")]
                let crawler = try await docker.createContainer(crawlerSpec)
                try await docker.startContainer(crawler)
                #expect(try await docker.waitContainer(crawler, timeout: .seconds(120)) == 0)

                let records = try readRecords(dir + "/results.jsonl")
                #expect(records.count == 1)
                #expect(records.first?.ok == true && records.first?.title == "Page 3" && records.first?.status == 200)
                #expect(site.hits("/page/3") >= 1)

                var lines: [LogLine] = []
                for try await line in docker.logs(crawler, follow: true, timestamps: true) { lines.append(line) }
                #expect(lines.last?.text.contains("crawler: done 1/1") == true)
                #expect(lines.allSatisfy { $0.timestamp != nil })
                #expect(!lines.contains { $0.text.utf8.contains(0) }, "a frame header leaked into the text")
                let state = try await docker.inspectContainer(crawler).state
                #expect(state.status == "exited" && state.exitCode == 0 && state.finishedAt != nil)

                // With an init process, chromedriver stops on SIGTERM at once (143), not at the timeout.
                let stopStart = ContinuousClock.now
                try await docker.stopContainer(sidecar, timeout: 10)
                #expect(ContinuousClock.now - stopStart < .seconds(5))
                #expect(try await docker.inspectContainer(sidecar).state.exitCode == 143)

                #expect(Set(try await docker.listContainers(labels: [label]).map(\.id)) == [sidecar, crawler])
            }
        }

        /// The slim sidecar's chromedriver is reachable on the task's localhost only, and refuses
        /// what a crawled page's own script would send it (a foreign Origin). The same image told
        /// `--allowed-ips=` answers on the task's interface, and to any Origin: the probes see
        /// the difference.
        @Test func theSlimSidecarAnswersTheTasksLocalhostOnly() async throws {
            try await cleaningUp {
                // slirp4netns gives a container 10.0.2.100 on its own interface.
                let outside = "--connect-timeout 2 http://10.0.2.100:4444/status"
                let cases: [(command: [String]?, outside: String, foreignOrigin: String)] = [
                    (nil, "000", "403"), (["chromedriver", "--port=4444", "--allowed-ips="], "200", "200"),
                ]
                for (command, fromOutside, foreignOrigin) in cases {
                    var spec = ContainerSpec(image: DockerTestHost.sidecarImage)
                    spec.labels = labels("webdriver")
                    spec.command = command
                    spec.host.initProcess = true
                    spec.host.networkMode = .slirp4netns(allowHostLoopback: false)
                    let id = try await docker.createContainer(spec)
                    try await docker.startContainer(id)
                    @Sendable func status(_ curlArguments: String) async throws -> String {
                        try await docker.exec(
                            id, command: ["sh", "-c", "curl -s -o /dev/null -w '%{http_code}' \(curlArguments)"]
                        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    }
                    let ready = await eventually(timeout: .seconds(20)) {
                        try await status("http://127.0.0.1:4444/status") == "200"
                    }
                    #expect(ready)
                    let what = "\(command ?? ["the image's CMD"])"
                    let origin = try await status("-H 'Origin: http://evil.example' http://127.0.0.1:4444/status")
                    #expect(origin == foreignOrigin, "\(what)")
                    #expect(try await status(outside) == fromOutside, "\(what)")
                }
            }
        }

        /// The offline image's crawler runs (static Swift runtime, libcurl present) as its own
        /// unprivileged user, and waits for a sidecar that never comes: exit 69 once its wait
        /// timeout passes.
        @Test func theCrawlerImageStartsAndWaitsForItsSidecar() async throws {
            try await cleaningUp {
                let dir = tempDir("docker-wait")
                _ = try writeBatch(BatchFile(batch: "0001", urls: ["http://10.0.2.2:9/"]), in: dir)
                // The image's user (10001) writes its results file here.
                try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: dir)
                var spec = ContainerSpec(image: DockerTestHost.crawlerImage)
                spec.labels = labels("crawler")
                spec.environment = [
                    "CRAWL_BATCH": "/run/crawl/batch.json", "CRAWL_OUT": "/run/crawl/results.jsonl",
                    "CRAWL_WAIT_TIMEOUT": "1",
                ]
                spec.host.networkMode = NetworkMode.none
                spec.host.binds = [Bind(source: dir, target: "/run/crawl")]
                let id = try await docker.createContainer(spec)
                try await docker.startContainer(id)
                let code = try await docker.waitContainer(id, timeout: .seconds(60))
                let log = try await text(of: id)
                #expect(code == 69, "\(log)")
                #expect(log.contains("waiting for WebDriver at http://127.0.0.1:4444"))
                #expect(try await docker.inspectContainer(id).state.exitCode == 69)
            }
        }

        /// Followed logs arrive while the container runs, stdout and stderr apart, and end when
        /// it exits.
        @Test func followedLogsArriveLiveAndEndWithTheContainer() async throws {
            try await cleaningUp {
                var spec = ContainerSpec(image: DockerTestHost.baseImage)
                spec.labels = labels("talker")
                // The last line waits for a file that only appears once the first line was read.
                spec.entrypoint = [
                    "sh", "-c", "echo first; echo oops >&2; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo last",
                ]
                spec.host.networkMode = NetworkMode.none
                let id = try await docker.createContainer(spec)
                try await docker.startContainer(id)
                var lines: [LogLine] = []
                for try await line in docker.logs(id, follow: true, timestamps: true) {
                    lines.append(line)
                    if line.text == "first" {
                        #expect(try await docker.inspectContainer(id).state.running)
                        _ = try await docker.exec(id, command: ["touch", "/tmp/go"])
                    }
                }
                #expect(lines.map(\.text) == ["first", "oops", "last"])
                #expect(lines.map(\.stream) == [.stdout, .stderr, .stdout])
                #expect(try await docker.inspectContainer(id).state.running == false)
            }
        }

        @Test func killGives137AndASecondKillSaysNotRunning() async throws {
            try await cleaningUp {
                let id = try await sleeper()
                try await docker.killContainer(id, signal: "SIGKILL")
                #expect(try await docker.waitContainer(id) == 137)
                let again = await #expect(throws: DockerError.self) { try await docker.killContainer(id) }
                #expect(again?.code == .notRunning)
            }
        }

        @Test func aWaitIsAbandonedWhenItsTaskIsCancelled() async throws {
            try await cleaningUp {
                let id = try await sleeper()
                let waiting = Task { try await docker.waitContainer(id) }
                // Nothing observable says the request has reached the engine: give it the time
                // it takes (a few ms), so that the cancel hits a wait in flight.
                try await Task.sleep(for: .milliseconds(200))
                let start = ContinuousClock.now
                waiting.cancel()
                await #expect(throws: CancellationError.self) { try await waiting.value }
                #expect(ContinuousClock.now - start < .seconds(3))
                #expect(try await docker.inspectContainer(id).state.running)
            }
        }

        @Test func execReportsOutputAndExitCode() async throws {
            try await cleaningUp {
                let id = try await sleeper()
                let result = try await docker.exec(id, command: ["sh", "-c", "echo out; echo err >&2; exit 3"])
                #expect(result == ExecResult(exitCode: 3, stdout: "out\n", stderr: "err\n"))
            }
        }

        /// The task's memory is a hard limit: past it the kernel kills the process (137); under a
        /// larger limit the same command succeeds. (podman 4.3 on cgroup v1 leaves `OOMKilled`
        /// false: the exit code is what tells.)
        @Test func theMemoryLimitIsEnforced() async throws {
            try await cleaningUp {
                for (mebibytes, expected) in [(32, 137), (256, 0)] {
                    var spec = ContainerSpec(image: DockerTestHost.baseImage)
                    spec.labels = labels("memory")
                    spec.entrypoint = ["sh", "-c", "head -c 64m /dev/zero | tail > /dev/null"]
                    spec.host.networkMode = NetworkMode.none
                    spec.host.memoryBytes = HostSettings.memoryBytes(mebibytes: mebibytes)
                    let id = try await docker.createContainer(spec)
                    try await docker.startContainer(id)
                    #expect(
                        try await docker.waitContainer(id, timeout: .seconds(60)) == expected, "limit \(mebibytes) MiB")
                }
            }
        }

        // MARK: helpers

        func labels(_ container: String) -> [String: String] {
            let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
            return [parts[0]: parts[1], "crawlrun.container": container]
        }

        /// A running container that does nothing, on no network.
        func sleeper() async throws -> String {
            var spec = ContainerSpec(image: DockerTestHost.baseImage)
            spec.labels = labels("sleeper")
            spec.entrypoint = ["sleep", "300"]
            spec.host.initProcess = true
            spec.host.networkMode = NetworkMode.none
            let id = try await docker.createContainer(spec)
            try await docker.startContainer(id)
            return id
        }

        func text(of id: String) async throws -> String {
            var lines: [String] = []
            for try await line in docker.logs(id, follow: false, timestamps: false) { lines.append(line.text) }
            return lines.joined(separator: "\n")
        }

        /// Runs `body`, then removes this test's containers, even when `body` throws, and checks
        /// that none is left.
        func cleaningUp(_ body: () async throws -> Void) async throws {
            do {
                try await body()
            } catch {
                try? await removeAll()
                throw error
            }
            try await removeAll()
            #expect(try await docker.listContainers(labels: [label]).isEmpty)
        }

        func removeAll() async throws {
            try await docker.removeContainers(labels: [label])
        }
    }
}
