import Coordinator
import CrawlKit
import Foundation
import Testing

/// The scheduler's rules, without a browser or a backend: events in, actions out.
@Suite struct LedgerTests {
    static let run = "20261122-000000-abcd"

    func ledger(_ sizes: [Int], maxTasks: Int = 2, retries: Int = 2, maxRunSeconds: Double = 3600) -> BatchLedger {
        BatchLedger(
            run: Self.run, batches: sizes.enumerated().map { (String(format: "%04d", $0.offset + 1), $0.element) },
            options: .init(maxTasks: maxTasks, retries: retries, maxRunSeconds: maxRunSeconds, startTimeout: 600))
    }

    static let done = TaskEnd(
        stopCode: .essentialContainerExited, reason: "Essential container in task exited",
        containers: [ContainerExit(name: "crawler", exitCode: 0), ContainerExit(name: "webdriver", exitCode: 143)])
    static let killed = TaskEnd(
        stopCode: .essentialContainerExited, reason: "Essential container in task exited",
        containers: [ContainerExit(name: "crawler", exitCode: 137), ContainerExit(name: "webdriver", exitCode: 143)])

    func launches(_ actions: [LedgerAction]) -> [LaunchOrder] {
        actions.compactMap { if case .launch(let o) = $0 { o } else { nil } }
    }

    @Test func launchesAtMostMaxTasksAndFillsFreedSlots() {
        var l = ledger([3, 3, 3, 3, 3], maxTasks: 2)
        let first = launches(l.start())
        #expect(first.map(\.batch) == ["0001", "0002"])
        #expect(l.launched(batch: "0001", attempt: 1, task: "t1", now: 10).isEmpty)
        #expect(l.launched(batch: "0002", attempt: 1, task: "t2", now: 10).isEmpty)
        let next = l.taskEnded(batch: "0001", attempt: 1, records: 3, missing: [], end: Self.done, now: 20)
        #expect(launches(next).map(\.batch) == ["0003"], "one slot freed, one launch")
        #expect(l.batches[0].status == .done)
        #expect(l.counts.infrastructureFailures == 0)
    }

    @Test func retriesOnlyTheMissingURLsWithANewToken() {
        var l = ledger([4], maxTasks: 1, retries: 2)
        let first = launches(l.start())[0]
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
        let actions = l.taskEnded(
            batch: "0001", attempt: 1, records: 2, missing: ["u3", "u4"], end: Self.killed, now: 5)
        #expect(actions.first == .writeRetryBatch(batch: "0001", attempt: 2, urls: ["u3", "u4"]))
        let retry = launches(actions)
        #expect(retry.count == 1 && retry[0].attempt == 2 && retry[0].urls == 2)
        #expect(
            retry[0].token != first.token
                && retry[0].token == BatchLedger.token(run: Self.run, batch: "0001", attempt: 2))
        #expect(l.counts.retriedTasks == 1 && l.counts.retriedURLs == 2)
        #expect(
            l.attempt(batch: "0001", attempt: 1)?.end?.infrastructureProblem == "crawler was killed (SIGKILL)",
            "a killed crawler is an infrastructure failure")
        #expect(l.counts.infrastructureFailures == 1)
    }

    /// Issue 19 item 13: a pull refused by a registry's rate limit retries after a long
    /// back-off, holding its slot, instead of at once (which would only be refused again).
    @Test func aRateLimitedPullRetriesAfterItsBackoff() {
        var l = ledger([2, 2], maxTasks: 1, retries: 2)
        _ = l.start()
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
        let limited = TaskEnd(
            stopCode: .taskFailedToStart, reason: "CannotPullContainerError: … toomanyrequests", hint: "use ECR",
            retryAfter: 300)
        let actions = l.taskEnded(batch: "0001", attempt: 1, records: 0, missing: ["u1", "u2"], end: limited, now: 5)
        #expect(actions.first == .writeRetryBatch(batch: "0001", attempt: 2, urls: ["u1", "u2"]))
        #expect(launches(actions).isEmpty, "no launch at once, not even batch 0002: the slot is held")
        guard case .relaunchAfter(let seconds, let order)? = actions.last else {
            Issue.record("expected a relaunch after the back-off: \(actions)")
            return
        }
        #expect(seconds == 300 && order.attempt == 2)
        #expect(launches(l.launchDue(batch: "0001", attempt: 2, urls: ["u1", "u2"], now: 305)).map(\.attempt) == [2])
    }

    @Test func givesUpAfterTheRetriesWithTheReason() {
        var l = ledger([2], maxTasks: 1, retries: 1)
        _ = l.start()
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
        _ = l.taskEnded(batch: "0001", attempt: 1, records: 1, missing: ["u2"], end: Self.killed, now: 1)
        _ = l.launched(batch: "0001", attempt: 2, task: "t2", now: 2)
        let actions = l.taskEnded(batch: "0001", attempt: 2, records: 0, missing: ["u2"], end: Self.killed, now: 3)
        guard case .giveUp(let batch, let attempt, let urls, let reason)? = actions.first else {
            Issue.record("expected a give-up, got \(actions)")
            return
        }
        #expect(batch == "0001" && attempt == 2 && urls == ["u2"])
        #expect(reason == "no result after 2 attempts: crawler was killed (SIGKILL)")
        #expect(l.batches[0].status == .exhausted && l.isIdle)
    }

    @Test func crawlFailuresAreNotInfrastructureFailures() {
        var l = ledger([2], maxTasks: 1)
        _ = l.start()
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
        // Both URLs recorded (as ok: false, the merger's business): the task did its job.
        _ = l.taskEnded(batch: "0001", attempt: 1, records: 2, missing: [], end: Self.done, now: 1)
        #expect(l.counts.infrastructureFailures == 0)
        #expect(BatchLedger.infrastructureProblem(Self.done, missing: 0) == nil)
        let noExit = TaskEnd(
            stopCode: .essentialContainerExited, reason: "Essential container in task exited",
            containers: [ContainerExit(name: "crawler", exitCode: nil)])
        #expect(
            BatchLedger.infrastructureProblem(noExit, missing: 0)?.contains("no exit code") == true,
            "an absent exit code is a failure, never success")
    }

    @Test func interruptStopsRunningTasksAndLaunchesNothingMore() {
        var l = ledger([1, 1, 1], maxTasks: 2)
        _ = l.start()
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
        let stops = l.interrupt("SIGINT")
        #expect(stops == [.stop(task: "t1", reason: "SIGINT")])
        #expect(l.interrupt("SIGTERM").isEmpty, "a second interrupt changes nothing")
        // The launch in flight comes back: it is stopped at once.
        #expect(l.launched(batch: "0002", attempt: 1, task: "t2", now: 1) == [.stop(task: "t2", reason: "SIGINT")])
        let after = l.taskEnded(batch: "0001", attempt: 1, records: 0, missing: ["u"], end: Self.killed, now: 2)
        #expect(launches(after).isEmpty, "no retry after an interrupt")
        _ = l.taskEnded(batch: "0002", attempt: 1, records: 1, missing: [], end: Self.done, now: 2)
        #expect(l.isIdle)
        let closing = l.close()
        #expect(closing.status == .interrupted && closing.unfinished == ["0001", "0003"])
    }

    @Test func aTaskPastMaxRunSecondsIsStoppedOnce() {
        var l = ledger([2], maxTasks: 1, retries: 1, maxRunSeconds: 100)
        _ = l.start()
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 1000)
        l.observed(batch: "0001", attempt: 1, running: true, now: 1001)
        #expect(l.nextDeadline() == 1100)
        #expect(l.tick(now: 1099).isEmpty)
        #expect(l.tick(now: 1100) == [.stop(task: "t1", reason: "ran longer than task.maxRunSeconds (100 s)")])
        #expect(l.tick(now: 1200).isEmpty, "asked once")
        // Its URLs without a record go to a new attempt.
        let actions = l.taskEnded(batch: "0001", attempt: 1, records: 1, missing: ["u2"], end: Self.killed, now: 1101)
        #expect(launches(actions).map(\.attempt) == [2])
    }

    @Test func aTaskThatNeverStartsIsStoppedAfterTheStartTimeout() {
        var l = ledger([1], maxTasks: 1)
        _ = l.start()
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
        #expect(l.tick(now: 599).isEmpty)
        #expect(l.tick(now: 600) == [.stop(task: "t1", reason: "still not running 600 s after its launch")])
    }

    @Test func launchRefusedLaterKeepsItsTokenAndSpendsNoRetry() {
        var l = ledger([2], maxTasks: 1, retries: 0)
        let first = launches(l.start())[0]
        let again = l.launchFailed(
            batch: "0001", attempt: 1, error: .retryLater("ThrottlingException: Rate exceeded"), urls: ["a", "b"],
            now: 0)
        guard case .relaunchAfter(let seconds, let order)? = again.first else {
            Issue.record("expected a relaunch, got \(again)")
            return
        }
        #expect(seconds == 1 && order == first, "same attempt, same token")
        #expect(l.launchDue(batch: "0001", attempt: 1, urls: ["a", "b"], now: 1) == [.launch(first)])
        let second = l.launchFailed(
            batch: "0001", attempt: 1, error: .retryLater("Capacity is unavailable at this time"), urls: ["a", "b"],
            now: 2)
        #expect(second == [.relaunchAfter(seconds: 2, first)], "the back-off doubles")
        _ = l.launchDue(batch: "0001", attempt: 1, urls: ["a", "b"], now: 4)
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 5)
        _ = l.taskEnded(batch: "0001", attempt: 1, records: 2, missing: [], end: Self.done, now: 9)
        #expect(l.batches[0].status == .done && l.counts.retriedTasks == 0 && l.counts.relaunches == 2)
    }

    @Test func launchFailedToStartSpendsAnAttempt() {
        var l = ledger([2], maxTasks: 1, retries: 1)
        _ = l.start()
        let actions = l.launchFailed(
            batch: "0001", attempt: 1, error: .failedToStart("webdriver never became healthy"), urls: ["a", "b"], now: 0
        )
        #expect(launches(actions).map(\.attempt) == [2])
        #expect(
            l.attempt(batch: "0001", attempt: 1)?.end?.infrastructureProblem
                == "task failed to start: webdriver never became healthy")
    }

    @Test func aFatalLaunchErrorEndsTheRun() {
        var l = ledger([1, 1, 1], maxTasks: 2)
        _ = l.start()
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
        let actions = l.launchFailed(
            batch: "0002", attempt: 1,
            error: .fatal(RunFailure("access denied", cause: "attach the coordinator policy")), urls: ["x"], now: 1)
        #expect(actions.contains(.stop(task: "t1", reason: "the run failed: access denied")))
        #expect(launches(actions).isEmpty)
        _ = l.taskEnded(batch: "0001", attempt: 1, records: 1, missing: [], end: Self.done, now: 2)
        #expect(l.isIdle)
        let closing = l.close()
        #expect(closing.status == .failed && closing.unfinished == ["0002", "0003"])
        #expect(l.failure == RunFailure("access denied", cause: "attach the coordinator policy"))
    }

    @Test func aTaskEndThatEveryAttemptWouldRepeatEndsTheRun() {
        var l = ledger([1, 1], maxTasks: 1)
        _ = l.start()
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
        let noImage = TaskEnd(
            stopCode: .taskFailedToStart, reason: "CannotPullContainerError: repository not found",
            hint: "build and push the image (README, \"Images\")", retryable: false)
        let actions = l.taskEnded(batch: "0001", attempt: 1, records: 0, missing: ["u"], end: noImage, now: 1)
        #expect(launches(actions).isEmpty)
        #expect(l.failure?.cause == .words("build and push the image (README, \"Images\")"))
    }

    @Test func theLedgerIsTheStateAndReadsBack() throws {
        var l = ledger([3, 3, 3], maxTasks: 1)
        _ = l.start()
        _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
        let after = launches(
            l.taskEnded(batch: "0001", attempt: 1, records: 2, missing: ["u3"], end: Self.killed, now: 1))
        #expect(after.map(\.batch) == ["0002"], "a retry waits behind the batches already queued")
        let data = try JSONEncoder().encode(l)
        var back = try JSONDecoder().decode(BatchLedger.self, from: data)
        #expect(back == l)
        // The copy goes on as the original would: same launches, same tokens, same order.
        var original = l
        for var copy in [original, back] {
            _ = copy.launched(batch: "0002", attempt: 1, task: "t2", now: 2)
            let next = launches(
                copy.taskEnded(batch: "0002", attempt: 1, records: 3, missing: [], end: Self.done, now: 3))
            #expect(next.map(\.batch) == ["0003"] && next[0].token == "\(Self.run)-0003-a1")
        }
        _ = original.launched(batch: "0002", attempt: 1, task: "t2", now: 2)
        _ = back.launched(batch: "0002", attempt: 1, task: "t2", now: 2)
        #expect(back == original)
        let json = String(decoding: data, as: UTF8.self)
        #expect(json.contains("\"token\":\"\(Self.run)-0001-a2\""), "the retry's token is on disk before its launch")
    }
}
