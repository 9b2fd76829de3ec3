import Coordinator
import CrawlKit
import Foundation
import JSONKit
import Testing
import WebDriver

@testable import DockerBackend

/// The docker backend's decisions that need no engine: how a task definition becomes two
/// containers, how loopback URLs are reached, the job's `backend` key, `plan`'s locations.
@Suite struct DockerBackendSpecTests {
    func job(_ text: String, backend: Backend? = nil) throws -> Job {
        try Job.parse(Data(text.utf8), path: "job.json", backend: backend)
    }

    func spec(_ job: Job, loopback: HostLoopback? = nil, isPodman: Bool = true) throws -> DockerTaskSpec {
        let locations = DockerBackend.locations(batch: "0002", attempt: 3)
        let launch = TaskLaunch(
            run: "20261122-010203-abcd", batch: "0002", attempt: 3, token: "20261122-010203-abcd-0002-a3",
            taskDefinition: TaskDefinition.render(job),
            overrides: TaskDefinition.overrides(batchLocation: locations.batch, outLocation: locations.out),
            locations: locations, logDirectory: "/runs/r/logs/0002")
        return try DockerTaskSpec(
            .init(
                launch: launch, task: "crawlrun-t", job: job.name, runDirectory: "/runs/r", loopback: loopback,
                isPodman: isPodman, user: "1000:1000", healthTimeout: job.docker.healthTimeout))
    }

    @Test func aTaskIsTheTaskDefinitionsTwoContainers() throws {
        let j = try job(
            #"{"name": "shop", "urls": ["https://example.com/"], "task": {"cpu": 1024, "memory": 3072, "stopTimeout": 7, "#
                + #""crawlerImage": "me/crawler:1", "sidecarImage": "me/sidecar:1", "environment": {"X": "y"}}}"#)
        let s = try spec(j)
        #expect(s.sidecar.image == "me/sidecar:1" && s.crawler.image == "me/crawler:1")
        #expect(s.sidecar.name == "crawlrun-t-webdriver" && s.crawler.name == "crawlrun-t-crawler")
        // Environment: the definition's, then the overrides' (the batch and results inside the mount).
        #expect(s.crawler.environment["CRAWL_BATCH"] == "/crawlrun/batches/0002.a3.json")
        #expect(s.crawler.environment["CRAWL_OUT"] == "/crawlrun/results/0002.a3.jsonl")
        #expect(s.crawler.environment["WEBDRIVER_URL"] == "http://127.0.0.1:4444")
        #expect(s.crawler.environment["X"] == "y")
        #expect(s.sidecar.environment["SE_NODE_MAX_SESSIONS"] == "1")
        // Each may use the task's CPU; the memory limits add up to the task's.
        #expect(s.sidecar.host.nanoCPUs == 1_000_000_000 && s.crawler.host.nanoCPUs == 1_000_000_000)
        #expect(
            (s.sidecar.host.memoryBytes ?? 0) + (s.crawler.host.memoryBytes ?? 0) == 3072 * 1024 * 1024)
        #expect(s.crawler.host.memoryBytes == HostSettings.memoryBytes(mebibytes: 128))
        #expect(s.sidecar.host.initProcess && s.crawler.host.initProcess)
        #expect(s.sidecarStopTimeout == 7 && s.crawlerStopTimeout == 7)
        #expect(s.crawler.user == "1000:1000")
        #expect(
            s.crawler.host.binds == [
                Bind(source: "/runs/r/batches", target: "/crawlrun/batches", readOnly: true),
                Bind(source: "/runs/r/results", target: "/crawlrun/results"),
            ])
        #expect(s.sidecar.host.binds.isEmpty)
        // ECS's health check, and CrawlRun's deadline for it: startPeriod + retries × interval.
        #expect(s.sidecar.healthCheck?.test.first == "CMD-SHELL")
        #expect(s.healthTimeout == .seconds(60))
        #expect(s.crawler.healthCheck == nil)
        for (spec, container) in [(s.sidecar, "webdriver"), (s.crawler, "crawler")] {
            #expect(
                spec.labels == [
                    DockerLabels.run: "20261122-010203-abcd", DockerLabels.job: "shop", DockerLabels.task: "crawlrun-t",
                    DockerLabels.batch: "0002", DockerLabels.attempt: "3", DockerLabels.container: container,
                ])
        }
        // No loopback URL: the engine's own network, as on Fargate.
        #expect(s.sidecar.host.networkMode == nil && s.sidecar.host.extraHosts.isEmpty)
    }

    @Test func theHostLoopbackNetworkIsChosenPerEngine() throws {
        let j = try job(#"{"urls": ["http://127.0.0.1:8080/"], "docker": {"healthTimeout": 5}}"#)
        let podman = try spec(j, loopback: .podman, isPodman: true)
        #expect(podman.sidecar.host.networkMode == .slirp4netns(allowHostLoopback: true))
        #expect(podman.healthTimeout == .seconds(5))
        // Docker Engine: the run's own network, whose gateway the relays listen on.
        let engine = try spec(
            j, loopback: HostLoopback(alias: "172.18.0.1", network: "crawlrun-r-loopback"), isPodman: false)
        #expect(engine.sidecar.host.networkMode == .named("crawlrun-r-loopback"))
        #expect(engine.sidecar.host.extraHosts.isEmpty)
        let desktop = try spec(j, loopback: .desktop, isPodman: false)
        #expect(desktop.sidecar.host.networkMode == nil)
        #expect(desktop.sidecar.host.extraHosts == ["host.docker.internal:host-gateway"])
    }

    /// The relays listen on the ports the batch's loopback URLs name, and on no other.
    @Test func theLoopbackPortsOfABatch() {
        var crawl = CrawlOptions()
        crawl.allowPrivateNetworks = true
        let batch = BatchFile(
            batch: "0001",
            urls: [
                "http://127.0.0.1:8080/a", "https://example.com:9999/", "http://localhost/", "https://[::1]/x",
                "http://127.0.0.1:8080/b",
            ], crawl: crawl)
        #expect(HostLoopback.ports(of: batch) == [8080, 80, 443])
    }

    @Test func loopbackURLsAreMappedInTheBrowserOnly() throws {
        #expect(HostLoopback.isLoopback("http://127.0.0.1:8080/a"))
        #expect(HostLoopback.isLoopback("http://LOCALHOST/"))
        #expect(HostLoopback.isLoopback("http://[::1]:9/"))
        #expect(!HostLoopback.isLoopback("http://127.0.0.2/") && !HostLoopback.isLoopback("https://example.com/"))

        var crawl = CrawlOptions()
        crawl.allowPrivateNetworks = true
        let batch = BatchFile(batch: "0001", urls: ["https://example.com/", "http://localhost:8080/x"], crawl: crawl)
        #expect(HostLoopback.isNeeded(by: batch))
        var blocked = batch
        blocked.crawl.allowPrivateNetworks = false
        #expect(!HostLoopback.isNeeded(by: blocked), "the crawler refuses those URLs anyway")
        var firefox = batch
        firefox.crawl.browserName = "firefox"
        #expect(!HostLoopback.isNeeded(by: firefox))
        #expect(!HostLoopback.isNeeded(by: BatchFile(batch: "0001", urls: ["https://example.com/"], crawl: crawl)))

        let mapped = HostLoopback.podman.applied(to: batch)
        #expect(mapped.urls == batch.urls, "the URLs stay as written")
        let rules = "MAP 127.0.0.1 10.0.2.2, MAP ::1 10.0.2.2, MAP localhost 10.0.2.2"
        #expect(mapped.crawl.browserArgs == CrawlOptions.defaultChromeArgs + ["--host-resolver-rules=" + rules])
        #expect(HostLoopback.podman.applied(to: mapped) == mapped, "applied once")
        var own = batch
        own.crawl.browserArgs = ["--headless=new", "--host-resolver-rules=MAP example.test 127.0.0.1"]
        #expect(
            HostLoopback.podman.applied(to: own).crawl.browserArgs == [
                "--headless=new", "--host-resolver-rules=\(rules), MAP example.test 127.0.0.1",
            ])
    }

    @Test func theJobsBackendKeyIsValidatedAndOverridden() throws {
        #expect(try job(#"{"urls": ["https://example.com/"], "backend": "docker"}"#).backend == .docker)
        #expect(try job(#"{"urls": ["https://example.com/"], "backend": "docker"}"#, backend: .local).backend == .local)
        #expect(try job(#"{"urls": ["https://example.com/"]}"#).backend == .local)
        let error = #expect(throws: JobError.self) {
            try job(#"{"urls": ["https://example.com/"], "backend": "dokcer", "docker": {"host": "/var/run/d.sock"}}"#)
        }
        let places = error?.problems.map(\.place) ?? []
        #expect(places.contains("backend") && places.contains("docker.host"), "\(String(describing: error))")
        #expect(error?.description.contains("did you mean \"docker\"") == true)
    }

    @Test func planShowsTheLocationsInsideTheContainer() async throws {
        let dir = tempDir("docker-plan")
        let path = try writeJob(["urls": ["https://example.com/a"], "backend": "docker"], in: dir)
        let r = try await CrawlrunProcess.run(["plan", path, "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        let plan = try JSONValue.decode(Data(r.stdout.utf8))
        #expect(plan["backend"] == "docker")
        let overrides = plan["batches"]?.arrayValue?.first?["overrides"]?["containerOverrides"]?.arrayValue?.first
        let environment = overrides?["environment"]?.arrayValue?.map { $0["value"]?.stringValue ?? "" }
        #expect(environment == ["/crawlrun/batches/0001.json", "/crawlrun/results/0001.jsonl"])
    }

    @Test func taskIDsAreContainerNames() {
        #expect(DockerBackend.taskID(token: "20261122-010203-abcd-0001-a2") == "crawlrun-20261122-010203-abcd-0001-a2")
        #expect(DockerBackend.taskID(token: "a/b c") == "crawlrun-a-b-c")
    }

    /// chromedriver 156 reports a renderer killed for memory with the error code "tab crashed".
    @Test func aCrashedTabIsALostSession() {
        #expect(WebDriverError(code: .init(wire: "tab crashed"), message: "tab crashed").isSessionLost)
        #expect(!WebDriverError(code: .init(wire: "no such element"), message: "x").isSessionLost)
    }
}
