import Coordinator
import CrawlKit
import Foundation
import JSONKit
import TestSupport
import Testing

extension Chrome {
    /// Issue 13 on the Fargate rehearsal: crawlrun SIGKILLed mid-run while its tasks go on; some
    /// stop while it is down; `crawlrun resume` collects those, adopts the one still running,
    /// launches what was never launched — and no batch twice.
    @Suite struct FargateResumeTests {
        @Test func resumeAfterSIGKILLCollectsAdoptsAndNeverLaunchesTwice() async throws {
            // 0001, 0002: quick pages (they stop while crawlrun is down); 0003: slow pages (still
            // running at the resume); 0004: never launched before the kill (three at once).
            let job = try await RehearsedJob.start(
                urls: { base in
                    [base + "/page/1", base + "/page/2", base + "/page/3", base + "/page/4"]
                        + [base + "/slow?ms=6000&n=1", base + "/slow?ms=6000&n=2"]
                        + [base + "/page/5", base + "/page/6"]
                }, batchSize: 2, crawl: ["pageLoadTimeout": 30])
            var clean = false
            defer { if !clean { Task { _ = await job.stop() } } }
            let rehearsal = job.rehearsal
            let p = try CrawlrunProcess(
                ["run", job.copy, "--backend", "fargate", "--runs-dir", job.dir + "/fargate-runs", "--max-tasks", "3"],
                environment: job.env)
            let three = await eventually(timeout: .seconds(60)) {
                let tasks = try await rehearsal.tasks()
                return tasks.count == 3 && tasks.allSatisfy { $0["lastStatus"] == "RUNNING" }
            }
            #expect(three, "three tasks running")
            let run = try runDirectory(job.dir + "/fargate-runs")
            // The state on disk names the three tasks (written before crawlrun dies).
            #expect(
                await eventually(timeout: .seconds(10)) {
                    (try? readJSON(run + "/state.json"))?["ledgerCounts"]?["tasksStarted"] == 3
                })
            kill(p.process.pid, SIGKILL)
            _ = await p.process.wait(timeout: .seconds(10))
            // While crawlrun is down, the quick batches finish; the slow one goes on.
            let someStopped = await eventually(timeout: .seconds(60)) {
                let tasks = try await rehearsal.tasks()
                return tasks.filter { $0["lastStatus"] == "STOPPED" }.count == 2
            }
            #expect(someStopped, "two tasks stopped while crawlrun was down")
            let listed = try await CrawlrunProcess.run(["runs", "--runs-dir", job.dir + "/fargate-runs"])
            #expect(listed.stdout.contains("stopped unexpectedly"))

            let resumed = try await CrawlrunProcess.run(["resume", run], environment: job.env)
            #expect(resumed.code == 0, "\(resumed.stdout)\n\(resumed.stderr)")
            #expect(
                resumed.stderr.contains("1 running (adopted), 2 stopped (collected)"), "\(resumed.stderr)")
            let tasks = try await rehearsal.tasks()
            let perBatch = Dictionary(grouping: tasks) { task in
                task["tags"]?.arrayValue?.first { $0["key"] == "crawlrun:batch" }?["value"]?.stringValue ?? "?"
            }
            #expect(
                tasks.count == 4 && perBatch.count == 4 && perBatch.values.allSatisfy { $0.count == 1 },
                "one task per batch: \(perBatch.mapValues(\.count))")
            let records = try readRecords(run + "/results.jsonl")
            #expect(records.count == 8 && Set(records.map(\.url)).count == 8, "exactly one record per URL")
            #expect(records.allSatisfy { $0.ok }, "\(records.filter { !$0.ok }.map { $0.error?.message ?? "" })")
            #expect(try await job.aws.ecs.listTasks(cluster: job.cluster, desiredStatus: .running).isEmpty)
            #expect(try readJSON(run + "/state.json")["status"] == "finished")
            clean = true
            #expect(await job.stop())
        }

        /// Issue 19 item 8b: a run whose one task waits for a sidecar that never becomes healthy,
        /// its crawlrun SIGKILLed; `resume` cannot list the run's tasks (ListTasks denied). It
        /// must not hang: exit 2 within seconds with the cause, the task state.json names stopped.
        /// Resumed again, the new task waits for the sidecar; SIGTERM ends `resume` promptly.
        @Test func resumeThatCannotListTasksEndsAndStopsThemAndSIGTERMEndsResume() async throws {
            let job = try await RehearsedJob.start(urls: { [$0 + "/page/1"] }, batchSize: 1)
            var clean = false
            defer { if !clean { Task { _ = await job.stop() } } }
            let rehearsal = job.rehearsal
            try await rehearsal.fault("sidecarNeverHealthy", count: 2)
            let p = try CrawlrunProcess(
                ["run", job.copy, "--backend", "fargate", "--runs-dir", job.dir + "/fargate-runs"],
                environment: job.env)
            #expect(
                await eventually(timeout: .seconds(30)) {
                    try await rehearsal.tasks().first?["lastStatus"] == "PENDING"
                })
            let run = try runDirectory(job.dir + "/fargate-runs")
            #expect(
                await eventually(timeout: .seconds(10)) {
                    (try? readJSON(run + "/state.json"))?["ledgerCounts"]?["tasksStarted"] == 1
                })
            kill(p.process.pid, SIGKILL)
            _ = await p.process.wait(timeout: .seconds(10))

            try await rehearsal.fault("listTasksDenied", count: 10)
            let started = ContinuousClock.now
            let resumed = try await CrawlrunProcess.run(["resume", run], environment: job.env)
            let took = ContinuousClock.now - started
            #expect(resumed.code == 2, "\(resumed.stdout)\n\(resumed.stderr)")
            #expect(took < .seconds(30), "resume took \(took)")
            #expect(
                (resumed.stdout + resumed.stderr).contains("the run's tasks could not be listed")
                    && (resumed.stdout + resumed.stderr).contains("AccessDenied"),
                "\(resumed.stdout)\n\(resumed.stderr)")
            let stops = try await rehearsal.calls()["ecs:StopTask"] ?? 0
            #expect(stops >= 1, "the task state.json names was stopped")
            #expect(
                await eventually(timeout: .seconds(10)) {
                    try await rehearsal.tasks().allSatisfy { $0["lastStatus"] == "STOPPED" }
                })
            #expect(try readJSON(run + "/state.json")["status"] == "failed")

            // Resumed again: a new attempt, whose sidecar never becomes healthy either; SIGTERM.
            try await rehearsal.control("DELETE", "faults")
            try await rehearsal.fault("sidecarNeverHealthy")
            let again = try CrawlrunProcess(["resume", run], environment: job.env)
            #expect(
                await eventually(timeout: .seconds(30)) {
                    let tasks = try await rehearsal.tasks()
                    return tasks.count == 2 && tasks.last?["lastStatus"] == "PENDING"
                })
            let signalled = ContinuousClock.now
            kill(again.process.pid, SIGTERM)
            let status = await again.process.wait(timeout: .seconds(60))
            await again.process.outputDrained()
            #expect(status?.code == 130, "\(again.stdout.text)\n\(again.stderr.text)")
            #expect(ContinuousClock.now - signalled < .seconds(20), "SIGTERM ended resume promptly")
            #expect(try await job.aws.ecs.listTasks(cluster: job.cluster, desiredStatus: .running).isEmpty)
            clean = true
            #expect(await job.stop())
        }
    }
}
