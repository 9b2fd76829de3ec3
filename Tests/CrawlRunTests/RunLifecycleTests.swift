import Coordinator
import CrawlKit
import Foundation
import JSONKit
import ProcessKit
import TestSupport
import Testing

extension Chrome {
    /// Runs that survive their coordinator (issue 13), on the local backend: SIGKILL leaves no
    /// process, `resume` finishes the run without crawling a URL twice, and one run per job at a
    /// time. (`stop` from another shell: BackendContractTests, on every backend.)
    @Suite struct RunLifecycleTests {
        func job(_ urls: [String], name: String = "life", batchSize: Int = 4) -> JSONValue {
            [
                "name": .string(name), "urls": .array(urls.map { .string($0) }),
                "batching": ["batchSize": .number(Double(batchSize))],
                "crawl": ["allowPrivateNetworks": true, "retryBackoff": .number(0.05)],
                "task": ["stopTimeout": 5],
            ]
        }

        /// Every process group the run's tasks started (local-tasks.jsonl).
        func groups(_ run: String) -> [pid_t] {
            let text = (try? String(contentsOfFile: run + "/local-tasks.jsonl", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                (try? JSONValue.decode(Data(line.utf8)))?["group"]?.intValue.map { pid_t($0) }
            }
        }

        /// URLs each attempt's batch file holds, by attempt file name.
        func batchFiles(_ run: String) throws -> [String: [String]] {
            var out: [String: [String]] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: run + "/batches") {
                let data = try Data(contentsOf: URL(fileURLWithPath: run + "/batches/" + name))
                out[name] = try JSONDecoder().decode(BatchFile.self, from: data).urls
            }
            return out
        }

        @Test func sigkillLeavesNoProcessAndResumeFinishesWithoutCrawlingTwice() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("kill")
            let urls = (1...16).map { server.baseURL + "/slow?ms=300&n=\($0)" }
            let jobPath = try writeJob(job(urls), in: dir)
            let p = try CrawlrunProcess(["run", jobPath, "--runs-dir", dir + "/runs", "--max-tasks", "2"])
            #expect(await awaitRecords(in: dir + "/runs", batches: ["0001", "0002"]))
            let run = try runDirectory(dir + "/runs")
            kill(p.process.pid, SIGKILL)
            _ = await p.process.wait(timeout: .seconds(10))
            let started = groups(run)
            // Two tasks, two process groups each — and a third task's, when a batch ended (a batch
            // of four takes about a second) before the kill: what matters is that none outlives it.
            #expect(started.count >= 4, "two tasks at least, two process groups each: \(started)")
            #expect(
                await eventually(timeout: .seconds(15)) { started.allSatisfy { processesInGroup($0).isEmpty } },
                "no chromedriver, Chrome or crawler outlives a SIGKILLed crawlrun")
            // What the killed run's tasks had recorded before the kill.
            let before = Set(
                (try readRecords(run + "/results/0001.jsonl") + readRecords(run + "/results/0002.jsonl")).map(\.url))
            #expect(!before.isEmpty)

            let listed = try await CrawlrunProcess.run(["runs", "--runs-dir", dir + "/runs"])
            #expect(listed.stdout.contains("stopped unexpectedly"), "\(listed.stdout)")
            let resumed = try await CrawlrunProcess.run(["resume", run])
            #expect(resumed.code == 0, "\(resumed.stdout)\n\(resumed.stderr)")
            #expect(resumed.stderr.contains("resuming run"))
            let records = try readRecords(run + "/results.jsonl")
            #expect(records.count == 16 && Set(records.map(\.url)) == Set(urls), "exactly one record per URL")
            #expect(records.allSatisfy { $0.ok })
            // No URL recorded before the kill was put in a later attempt's batch.
            let later = try batchFiles(run).filter { $0.key.contains(".a") }.flatMap(\.value)
            #expect(Set(later).isDisjoint(with: before), "a URL with a record before the kill was crawled again")
            let state = try readJSON(run + "/state.json")
            #expect(state["status"] == "finished")
            let again = try await CrawlrunProcess.run(["resume", run])
            #expect(again.code == 0 && again.stdout.contains("already finished"))
        }

        @Test func oneRunPerJobAndAStaleLockIsTakenOver() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("lock")
            let urls = (1...8).map { server.baseURL + "/slow?ms=500&n=\($0)" }
            let jobPath = try writeJob(job(urls, name: "nightly", batchSize: 8), in: dir)
            let first = try CrawlrunProcess(["run", jobPath, "--runs-dir", dir + "/runs"])
            // Killed mid-run: once its state is on disk and a task has started.
            #expect(
                await eventually(timeout: .seconds(30)) {
                    guard let r = try? runDirectory(dir + "/runs") else { return false }
                    return (try? readJSON(r + "/state.json"))?["ledgerCounts"]?["tasksStarted"] == 1
                })
            let run = try runDirectory(dir + "/runs")
            let t0 = ContinuousClock.now
            let second = try await CrawlrunProcess.run(["run", jobPath, "--runs-dir", dir + "/runs"])
            #expect(ContinuousClock.now - t0 < .seconds(1), "refused at once")
            #expect(second.code == 75)
            #expect(second.stderr.contains("job nightly is already running: run \(Paths.baseName(run))"))
            #expect(second.stderr.contains("crawlrun pid \(first.process.pid)"))
            kill(first.process.pid, SIGKILL)
            _ = await first.process.wait(timeout: .seconds(10))
            let third = try await CrawlrunProcess.run(["run", jobPath, "--runs-dir", dir + "/runs", "--keep", "1"])
            #expect(third.code == 0, "the stale lock is taken over: \(third.stderr)")
            let left = try FileManager.default.contentsOfDirectory(atPath: dir + "/runs").filter(RunLayout.isRunID)
            #expect(left.count == 1 && left[0] != Paths.baseName(run), "--keep 1 deleted the older run")
        }

        /// A closed terminal (SIGHUP) stops a run as SIGTERM does (issue 9, item 8).
        @Test func sighupStopsTheRunAndLeavesNoProcess() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("hup")
            let urls = (1...8).map { server.baseURL + "/slow?ms=400&n=\($0)" }
            let jobPath = try writeJob(job(urls), in: dir)
            let p = try CrawlrunProcess(["run", jobPath, "--runs-dir", dir + "/runs", "--max-tasks", "2"])
            #expect(await awaitRecords(in: dir + "/runs"))
            kill(p.process.pid, SIGHUP)
            #expect(await p.process.wait(timeout: .seconds(20)) == .exited(130))
            let run = try runDirectory(dir + "/runs")
            #expect(groups(run).allSatisfy { processesInGroup($0).isEmpty }, "no chromedriver, Chrome or crawler left")
            #expect(try readJSON(run + "/state.json")["status"] == "interrupted")
            #expect(try readRecords(run + "/results.jsonl").count == 8, "still one record per URL")
        }

        /// `crawlrun crawl … | head -1`: a closed standard output stops the run quietly, and
        /// nothing it started outlives it (issue 9, item 8).
        @Test func aClosedStandardOutputStopsTheCrawlQuietly() async throws {
            let server = try FixtureServer()
            defer { server.stop() }
            let dir = tempDir("pipe")
            let urls = (1...12).map { server.baseURL + "/slow?ms=300&n=\($0)" }
            let (shell, out, err) = try crawlIntoHead(
                urls, "--allow-private-networks --batch-size 4 --max-tasks 2 --runs-dir '\(dir)'", lines: 1)
            #expect(await shell.wait(timeout: .seconds(60)) == .exited(0), "\(err.text)")
            #expect(out.count == 1, "head printed one record")
            let run = try runDirectory(dir)
            #expect(
                await eventually(timeout: .seconds(15)) {
                    (try? readJSON(run + "/state.json"))?["status"] == "interrupted"
                }, "the run stopped when its output closed")
            #expect(
                await eventually(timeout: .seconds(15)) { groups(run).allSatisfy { processesInGroup($0).isEmpty } },
                "nothing the crawl started is left")
            #expect(!err.text.contains("finished in"), "no summary for a closed output")
        }
    }
}
