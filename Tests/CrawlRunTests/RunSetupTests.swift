import Coordinator
import CrawlKit
import DockerBackend
import FargateBackend
import Foundation
import JSONKit
import LocalBackend
import ProcessKit
import TestSupport
import Testing

@testable import CrawlRunCLI

/// A job from its document, for the factories (no file, nothing reached).
private func job(_ doc: JSONValue, backend: Backend?) throws -> Job {
    try Job.parse(doc.encoded(), path: "job.json", backend: backend)
}

/// `crawlrun ARGUMENTS` run from `dir` (so the default runs directory, `runs`, is `dir/runs`
/// for `run` and `plan` alike); its exit code and standard output.
private func crawlrun(
    in dir: String, _ arguments: [String], environment extra: [String: String] = [:]
) async throws
    -> (code: Int32?, stdout: String, stderr: String)
{
    var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
    environment["CRAWLRUN_CRAWLER"] = binary("crawler")
    environment["NO_COLOR"] = "1"
    let out = LineBox()
    let err = LineBox()
    let p = try ChildProcess(
        "/bin/sh", arguments: ["-c", "cd \"$0\" && exec \"$@\"", dir, binary("crawlrun")] + arguments,
        environment: environment, stdout: .lines { out.append($0) }, stderr: .lines { err.append($0) })
    let status = await p.wait(timeout: .seconds(300))
    if status == nil { await p.terminate(grace: .seconds(5)) }
    await p.outputDrained()
    return (status?.code, out.text, err.text)
}

/// Each backend's factory: its defaults and locations come from the job alone; the backend (its
/// clients, its guard process) is built only by `make`.
@Suite struct BackendFactoryTests {
    let urls: JSONValue = ["https://example.com/a", "https://example.com/b", "https://example.com/c"]

    @Test func theCLIPicksOneFactoryPerBackend() {
        #expect(RunDriver.factory(for: .local) is LocalBackend.Factory)
        #expect(RunDriver.factory(for: .docker) is DockerBackend.Factory)
        #expect(RunDriver.factory(for: .fargate) is FargateBackend.Factory)
        for backend in Backend.allCases { #expect(RunDriver.factory(for: backend).backend == backend) }
    }

    @Test func localTakesItsTasksFromTheJobElseTheMachineAndWarnsWithoutAGuard() throws {
        let factory = LocalBackend.Factory(
            guardCommand: ["/nonexistent/crawlrun", "__guard"], crawlerPath: "/bin/true")
        let configured = try job(["urls": urls, "local": ["maxTasks": 3]], backend: .local)
        #expect(factory.defaultMaxTasks(for: configured) == 3)
        let plain = try job(["urls": urls], backend: .local)
        #expect(factory.defaultMaxTasks(for: plain) == LocalBackend.Factory.machineMaxTasks())
        #expect(factory.startTimeout(for: plain) == 900)
        let at = factory.plannedLocations(job: plain, runsDirectory: "/r", run: "{run}", batch: "0002", attempt: 1)
        #expect(at == TaskLocations(batch: "/r/{run}/batches/0002.json", out: "/r/{run}/results/0002.jsonl"))
        // A guard that cannot start: the run goes on, with the same warning as before.
        let notes = LineBox()
        let backend = factory.make(job: plain, notes: { notes.append($0) })
        #expect(backend.name == "local")
        #expect(notes.all.count == 1)
        #expect(notes.text.hasPrefix("warning: no guard process ("))
        #expect(notes.text.hasSuffix("a crawlrun killed with SIGKILL would leave its tasks running"))
        // No guard asked for: none started, nothing said.
        let quiet = LineBox()
        #expect(LocalBackend.Factory(guardCommand: nil).make(job: plain, notes: { quiet.append($0) }).name == "local")
        #expect(quiet.count == 0)
        #expect(try LocalBackend.Factory(guardCommand: nil).processGuard() == nil)
    }

    @Test func dockerPlansTheContainersPathsAndReachesNoEngineBeforeTheRun() throws {
        // An engine that does not exist: building the backend must not ask it anything.
        let factory = DockerBackend.Factory(environment: ["DOCKER_HOST": "unix:///nonexistent/docker.sock"])
        let configured = try job(["urls": urls, "backend": "docker", "docker": ["maxTasks": 2]], backend: nil)
        #expect(factory.defaultMaxTasks(for: configured) == 2)
        let at = factory.plannedLocations(
            job: configured, runsDirectory: "runs", run: "{run}", batch: "0001", attempt: 2)
        #expect(at == TaskLocations(batch: "/crawlrun/batches/0001.a2.json", out: "/crawlrun/results/0001.a2.jsonl"))
        #expect(factory.make(job: configured, notes: { _ in }).name == "docker")
    }

    @Test func fargateTakesTheJobsLimitsAndRegionAndCallsNoAWSBeforeTheRun() throws {
        // Every AWS call would go to a closed port: the factory and `make` make none.
        let port = try freeLoopbackPort()
        let variables = [
            "AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)", "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
        ]
        let factory = FargateBackend.Factory(variables: variables)
        let doc: JSONValue = [
            "name": "shop", "urls": urls, "backend": "fargate",
            "fargate": [
                "region": "ap-south-1", "cluster": "c", "subnets": ["subnet-1"], "bucket": "b",
                "executionRoleArn": "arn:aws:iam::123456789012:role/e",
                "taskRoleArn": "arn:aws:iam::123456789012:role/t",
                "maxConcurrentTasks": 7, "provisioningTimeout": 120,
            ],
        ]
        let fargate = try job(doc, backend: nil)
        #expect(factory.defaultMaxTasks(for: fargate) == 7)
        #expect(factory.startTimeout(for: fargate) == 120)
        #expect(factory.region(for: fargate) == "ap-south-1", "the job's region first")
        var inEnvironment = fargate
        inEnvironment.fargate.region = nil
        #expect(factory.region(for: inEnvironment) == "eu-west-1", "else the environment's")
        #expect(FargateBackend.Factory(variables: [:]).region(for: inEnvironment) == "us-east-1")
        let at = factory.plannedLocations(job: fargate, runsDirectory: "runs", run: "{run}", batch: "0001", attempt: 1)
        #expect(at.batch.hasPrefix("s3://b/") && at.batch.hasSuffix("shop/runs/{run}/batches/0001.json"))
        #expect(factory.make(job: fargate, notes: { _ in }).name == "fargate")
    }

    @Test func runSetupTakesMaxTasksFromTheOptionElseTheFactory() throws {
        let j = try job(["urls": urls, "batching": ["batchSize": 2], "local": ["maxTasks": 3]], backend: .local)
        let factory = LocalBackend.Factory(guardCommand: nil)
        #expect(try RunSetup(job: j, factory: factory).maxTasks == 3)
        let setup = try RunSetup(job: j, factory: factory, maxTasks: 5)
        #expect(setup.maxTasks == 5 && setup.ledgerOptions.maxTasks == 5)
        #expect(setup.ledgerOptions.startTimeout == 900)
        var chunks: [[UInt8]] = []
        var seen: [(Int, String, [String])] = []
        let batches = try setup.writePlan(to: { chunks.append($0) }) { seen.append(($0, $1, $2)) }
        #expect(batches.map(\.id) == ["0001", "0002"] && batches.map(\.urls) == [2, 1])
        #expect(seen.map(\.2) == [["https://example.com/a", "https://example.com/b"], ["https://example.com/c"]])
        let plan = try JSONValue.decode(Data(chunks.joined()))
        #expect(
            plan["batches"]?.arrayValue?.map { $0["urls"] }
                == [seen[0].2, seen[1].2].map { .array($0.map { .string($0) }) })
        #expect(plan["summary"]?["batches"] == 2 && plan["backend"] == "local")
    }
}

extension Chrome {
    /// plan.json is `crawlrun plan --json`'s document: one plan, built in one place (RunSetup).
    @Suite struct PlanDocumentTests {
        @Test func theLocalRunsPlanIsPlanJSON() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("plan-doc")
            let doc: JSONValue = [
                "name": "plan-doc", "urls": .array((1...3).map { .string(server.baseURL + "/page/\($0)") }),
                "batching": ["batchSize": 2], "crawl": ["allowPrivateNetworks": true],
                "politeness": ["requestsPerSecondPerHost": 50],
            ]
            _ = try writeJob(doc, in: dir)
            let run = try await crawlrun(in: dir, ["run", "job.json", "--quiet"])
            #expect(run.code == 0, "\(run.stderr)")
            let plan = try await crawlrun(in: dir, ["plan", "job.json", "--json"])
            #expect(plan.code == 0, "\(plan.stderr)")
            let printed = try JSONValue.decode(Data(plan.stdout.utf8))
            let kept = try readJSON(try runDirectory(dir + "/runs") + "/plan.json")
            #expect(kept == printed)
            #expect(kept["backend"] == "local" && kept["batches"]?.arrayValue?.count == 2)
            #expect(kept["hosts"]?.arrayValue?.count == 1, "the politeness table is in both")
            let first = kept["batches"]?.arrayValue?.first
            let environment = first?["overrides"]?["containerOverrides"]?.arrayValue?.first?["environment"]
            #expect(environment?.arrayValue?.first?["value"] == "runs/{run}/batches/0001.json")
        }

        @Test func theFargateRunsPlanIsPlanJSON() async throws {
            let job = try await RehearsedJob.start(urls: { base in (1...3).map { base + "/page/\($0)" } }, batchSize: 2)
            var clean = false
            defer { if !clean { Task { _ = await job.stop() } } }
            let r = try await job.run(["--quiet"])
            #expect(r.code == 0, "\(r.stderr)")
            let plan = try await CrawlrunProcess.run(
                ["plan", job.copy, "--backend", "fargate", "--json"], environment: job.env)
            #expect(plan.code == 0, "\(plan.stderr)")
            let printed = try JSONValue.decode(Data(plan.stdout.utf8))
            let kept = try readJSON(r.run + "/plan.json")
            #expect(kept == printed)
            #expect(kept["backend"] == "fargate" && kept["estimate"]?["concurrency"] != nil)
            let batch = kept["batches"]?.arrayValue?.first?["overrides"]?["containerOverrides"]?.arrayValue?.first
            #expect(batch?["environment"]?.arrayValue?.first?["value"]?.stringValue?.hasPrefix("s3://") == true)
            clean = await job.stop()
            #expect(clean, "no task process outlived the rehearsal")
        }
    }
}

/// `resume` reads plan.json's head only (the task definition), not every URL back.
@Suite struct PlanHeadTests {
    @Test func theHeadIsTheDocumentWithoutItsBatchesAndAnOldPlanIsReadWhole() throws {
        let urls: [JSONValue] = (1...5000).map { .string("https://example.com/p\($0)?q=%22batches%22:[") }
        let j = try job(["urls": .array(urls), "batching": ["batchSize": 100]], backend: .local)
        let setup = try RunSetup(job: j, factory: LocalBackend.Factory(guardCommand: nil))
        let dir = tempDir("plan-head")
        var bytes: [UInt8] = []
        try setup.writePlan(to: { bytes += $0 })
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/plan.json"))
        #expect(bytes.count > 1 << 17, "longer than two reads")
        var whole = try JSONValue.decode(Data(bytes)).objectValue ?? [:]
        whole["batches"] = nil
        #expect(try RunSetup.planHead(at: dir + "/plan.json") == .object(whole))
        #expect(whole["taskDefinition"] == setup.taskDefinition)
        // Before plan.json was plan --json's document: batch sizes first, read whole.
        let old: JSONValue = ["batches": [["id": "0001", "urls": 3]], "job": "x", "taskDefinition": ["family": "f"]]
        try old.encoded().write(to: URL(fileURLWithPath: dir + "/old.json"))
        #expect(try RunSetup.planHead(at: dir + "/old.json") == old)
        #expect(throws: FileProblem.self) { try RunSetup.planHead(at: dir + "/missing.json") }
    }
}
