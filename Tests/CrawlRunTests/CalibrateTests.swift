import CrawlKit
import DockerBackend
import Foundation
import JSONKit
import TestSupport
import Testing

/// `crawlrun calibrate`: the choice it makes from its figures (alone), and the command on the
/// local backend's fallback and on podman's engine with Fargate's limits.
@Suite struct CalibrationTests {
    func row(_ cpu: Int, _ memory: Int, rate: Double, ok: Int) -> Calibration.Row {
        Calibration.Row(
            cpu: cpu, memory: memory, sessions: 1, tabsPerSession: 4, pages: 20, ok: ok, pagesPerSecond: rate,
            startupSeconds: 3)
    }

    @Test func theCheapestSizeWithTheBestOkRateIsRecommended() {
        // 0.25 vCPU is cheapest per page but loses pages; 1 vCPU beats 2 vCPU per page.
        let c = Calibration(
            job: "j", backend: "docker", architecture: "X86_64", measuredAt: "",
            rows: [row(256, 2048, rate: 1, ok: 17), row(1024, 2048, rate: 4, ok: 20), row(2048, 4096, rate: 5, ok: 20)])
        #expect(c.recommended?.cpu == 1024)
        // 63 s of start-up at 4 pages/s: 9 × 63 × 4 = 2,268 pages keep it at 10 %.
        #expect(Calibration.batchSize(row: row(1024, 2048, rate: 4, ok: 20), startupSeconds: 63) == 2268)
        let perThousand = row(1024, 2048, rate: 4, ok: 20).usdPerThousandPages(architecture: "X86_64")
        #expect(
            abs(perThousand - 250 * FargatePrice.perSecond(cpu: 1024, memory: 2048, architecture: "X86_64")) < 1e-12)
    }

    @Test func eachSizeGetsTheSmallestFargateMemoryHoldingItsBrowsers() {
        let sizes = Calibration.sizes(sessions: nil, tabs: nil)
        #expect(sizes.map(\.cpu) == [256, 512, 1024, 2048, 4096])
        #expect(sizes.map(\.memory) == [2048, 2048, 2048, 3072 + 1024, 8192])
    }

    @Test func planTakesSecondsPerPageFromACalibration() throws {
        var job = try Job.parse(
            Data(#"{"urls": ["http://a.example/"], "task": {"cpu": 1024, "memory": 2048}}"#.utf8), path: "job.json",
            backend: .local)
        let c = Calibration(
            job: "j", backend: "docker", architecture: "X86_64", measuredAt: "",
            rows: [row(1024, 2048, rate: 8, ok: 20)])
        #expect(c.apply(to: &job)?.cpu == 1024)
        // 1 × 4 tabs in flight at 8 pages/s: each page holds its tab 0.5 s.
        #expect(job.task.secondsPerPage == 0.5)
        #expect(Calibration.path(forJob: "/x/job.json") == "/x/job.calibration.json")
    }
}

extension Chrome {
    @Suite struct CalibrateCommandTests {
        func job(_ server: FixtureServer, _ dir: String, extra: [String: JSONValue] = [:]) throws -> String {
            var doc: [String: JSONValue] = [
                "name": .string("cal-" + UUID().uuidString.prefix(8).lowercased()),
                "urls": .array((1...8).map { .string(server.baseURL + "/page/\($0)") }),
                "crawl": ["allowPrivateNetworks": true, "fields": ["h1": "h1"]],
            ]
            for (k, v) in extra { doc[k] = v }
            return try writeJob(.object(doc), in: dir)
        }

        /// No engine: one row on the local backend, saying so; `plan` then uses it.
        @Test func withoutAnEngineItMeasuresLocallyAndPlanUsesIt() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("calibrate-local")
            let path = try job(server, dir)
            let r = try await CrawlrunProcess.run(
                ["calibrate", path, "--sample", "4"], environment: ["DOCKER_HOST": "unix://\(dir)/no-engine.sock"])
            #expect(r.code == 0, "\(r.stderr)")
            #expect(r.stderr.contains("no Docker engine reachable") && r.stderr.contains("on the local backend"))
            #expect(r.stdout.contains("measured on the local backend: no CPU or memory limits"))
            #expect(r.stdout.contains("| 100 % |") && r.stdout.contains("recommended: "))
            let saved = try JSONDecoder().decode(
                Calibration.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/job.calibration.json")))
            #expect(saved.backend == "local" && saved.rows.count == 1 && saved.rows[0].pages == 4)
            #expect((saved.rows[0].cpuSecondsPerPage ?? 0) > 0, "the run's process tree's CPU")
            let plan = try await CrawlrunProcess.run(["plan", path])
            #expect(
                plan.stdout.contains("seconds per page from the calibration \(dir)/job.calibration.json"),
                "\(plan.stdout)")
        }

        /// On podman's engine: a row per size, with the containers' CPU and memory read from the
        /// engine, and nothing left behind.
        @Test(.enabled(if: DockerTestHost.podman.unavailableReason == nil || DockerTestHost.isCI))
        func onTheDockerBackendEachSizeIsARow() async throws {
            let engine = DockerTestHost.podman
            let docker = try engine.client()
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("calibrate-docker")
            let path = try job(
                server, dir,
                extra: [
                    "task": [
                        "crawlerImage": .string(DockerTestHost.crawlerImage),
                        "sidecarImage": .string(DockerTestHost.sidecarImage), "stopTimeout": 5,
                    ],
                    "docker": ["host": .string(engine.host ?? "")],
                ])
            let r = try await CrawlrunProcess.run(["calibrate", path, "--sample", "3", "--sizes", "512,1024"])
            #expect(r.code == 0, "\(r.stdout)\n\(r.stderr)")
            #expect(r.stderr.contains("on the docker backend (CPU and memory limits as on Fargate)"))
            let saved = try JSONDecoder().decode(
                Calibration.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/job.calibration.json")))
            #expect(saved.rows.map(\.cpu) == [512, 1024] && saved.rows.allSatisfy { $0.ok == 3 })
            #expect(
                saved.rows.allSatisfy { ($0.cpuSecondsPerPage ?? 0) > 0 && ($0.peakMemoryMiB ?? 0) > 50 },
                "\(saved.rows)")
            #expect(r.stdout.contains("| 0.5 vCPU | 2048 MiB | 1 × 2 |"), "\(r.stdout)")
            let name = try readJSON(path)["name"]?.stringValue ?? ""
            for cpu in [512, 1024] {
                let left = try await docker.listContainers(labels: ["\(DockerLabels.job)=\(name)-calibrate-\(cpu)"])
                #expect(left.isEmpty, "containers left: \(left.map(\.names))")
            }
        }
    }
}
