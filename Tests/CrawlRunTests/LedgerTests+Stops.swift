import Coordinator
import CrawlKit
import Foundation
import Testing

/// Who asked a task to stop, as a value: report.html colours an attempt the run stopped (an
/// interrupt, a failure) grey and one stopped by its own deadline red, by what the stop *was*,
/// never by comparing its words with the run's. (Nested, so `--filter LedgerTests` runs it.)
extension LedgerTests {
    @Suite struct Stops {
        func ledger(_ sizes: [Int], maxRunSeconds: Double = 3600) -> BatchLedger {
            BatchLedger(
                run: LedgerTests.run,
                batches: sizes.enumerated().map { (String(format: "%04d", $0.offset + 1), $0.element) },
                options: .init(maxTasks: 2, retries: 2, maxRunSeconds: maxRunSeconds, startTimeout: 600))
        }

        /// What ECS says of a task we stopped: the crawler killed, its URLs without a record.
        static func stopped(_ reason: String) -> TaskEnd {
            TaskEnd(
                stopCode: .userInitiated, reason: reason,
                containers: [
                    ContainerExit(name: "crawler", exitCode: 143), ContainerExit(name: "webdriver", exitCode: 143),
                ])
        }

        func outcome(_ l: BatchLedger, _ batch: String = "0001", attempt: Int = 1) -> AttemptOutcome? {
            l.attempt(batch: batch, attempt: attempt).map { AttemptOutcome($0) }
        }

        @Test func anAttemptStoppedByAnInterruptIsStopped() {
            var l = ledger([2])
            _ = l.start()
            _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
            #expect(l.interrupt("SIGINT") == [.stop(task: "t1", reason: "SIGINT")])
            #expect(l.runPhase == .interrupted(reason: "SIGINT"))
            #expect(l.attempt(batch: "0001", attempt: 1)?.stopRequested == .byRun(.interrupted("SIGINT")))
            _ = l.taskEnded(
                batch: "0001", attempt: 1, records: 0, missing: ["a", "b"], end: Self.stopped("SIGINT"), now: 5)
            #expect(outcome(l) == .stopped)
        }

        @Test func anAttemptStoppedByItsDeadlineIsAnInfrastructureProblem() {
            var l = ledger([2], maxRunSeconds: 100)
            _ = l.start()
            _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
            let words = "ran longer than task.maxRunSeconds (100 s)"
            #expect(l.tick(now: 100) == [.stop(task: "t1", reason: words)])
            #expect(l.attempt(batch: "0001", attempt: 1)?.stopRequested == .deadline(.maxRun(seconds: 100)))
            _ = l.taskEnded(
                batch: "0001", attempt: 1, records: 0, missing: ["a", "b"], end: Self.stopped(words), now: 101)
            #expect(outcome(l) == .infrastructure)
            #expect(l.runPhase == .running && l.attempt(batch: "0001", attempt: 2) != nil, "retried")
        }

        @Test func anAttemptStoppedByTheRunFailingIsStopped() {
            var l = ledger([2, 2])
            _ = l.start()
            _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
            let failure = RunFailure("cannot append to results.jsonl", errno: ENOSPC)
            let words = "the run failed: cannot append to results.jsonl"
            #expect(l.fail(failure) == [.stop(task: "t1", reason: words)])
            #expect(l.runPhase == .failed(failure, interrupted: nil))
            // A launch accepted after the failure is stopped at once, by the run.
            #expect(l.launched(batch: "0002", attempt: 1, task: "t2", now: 1) == [.stop(task: "t2", reason: words)])
            _ = l.taskEnded(
                batch: "0001", attempt: 1, records: 0, missing: ["a", "b"], end: Self.stopped(words), now: 5)
            _ = l.taskEnded(
                batch: "0002", attempt: 1, records: 0, missing: ["c", "d"], end: Self.stopped(words), now: 5)
            #expect(outcome(l) == .stopped && outcome(l, "0002") == .stopped)
            #expect(l.attempt(batch: "0002", attempt: 1)?.stopRequested == .byRun(.failed(message: failure.message)))
            #expect(l.close().status == .failed)
        }

        /// The old rule compared the attempt's stop words with the run's interrupt reason: a deadline
        /// stop whose words happened to be an interrupt's counted as the user's, and an attempt
        /// stopped by an earlier session's interrupt no longer did once the run was resumed.
        @Test func theStopsWordsDecideNothing() {
            var l = ledger([2], maxRunSeconds: 100)
            _ = l.start()
            _ = l.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
            let words = "ran longer than task.maxRunSeconds (100 s)"
            _ = l.tick(now: 100)
            #expect(l.interrupt(words).isEmpty, "the task was already asked to stop")
            _ = l.taskEnded(
                batch: "0001", attempt: 1, records: 0, missing: ["a", "b"], end: Self.stopped(words), now: 101)
            #expect(outcome(l) == .infrastructure, "a deadline stop stays a deadline stop, whatever the interrupt said")

            var m = ledger([2])
            _ = m.start()
            _ = m.launched(batch: "0001", attempt: 1, task: "t1", now: 0)
            _ = m.interrupt("SIGTERM")
            _ = m.taskEnded(batch: "0001", attempt: 1, records: 0, missing: ["a", "b"], end: Self.stopped("x"), now: 5)
            _ = m.close()
            _ = m.resume(known: [], unrecorded: ["0001": ["a", "b"]], now: 10)
            #expect(m.runPhase == .running)
            #expect(outcome(m) == .stopped, "still stopped by the run after a resume")
        }

        @Test func aRelaunchWaitingWhenTheRunEndsIsStoppedNotFailedToStart() {
            var l = ledger([2])
            _ = l.start()
            _ = l.launchFailed(batch: "0001", attempt: 1, error: .retryLater("Throttling"), urls: ["a", "b"], now: 0)
            #expect(l.attempt(batch: "0001", attempt: 1)?.waitReason == "Throttling")
            _ = l.interrupt("SIGINT")
            #expect(l.launchDue(batch: "0001", attempt: 1, urls: ["a", "b"], now: 1).isEmpty)
            let a = l.attempt(batch: "0001", attempt: 1)
            #expect(a?.stopRequested == .byRun(.interrupted("SIGINT")) && a?.end?.stopCode == .taskFailedToStart)
            #expect(a?.waitReason == nil && a?.task == nil && a?.seconds == 0)
            #expect(outcome(l) == .stopped)

            var m = ledger([2])
            _ = m.start()
            _ = m.launchFailed(
                batch: "0001", attempt: 1, error: .failedToStart("no such image"), urls: ["a", "b"], now: 0)
            #expect(outcome(m) == .failedToStart)
        }

        @Test func aFailureAndAnInterruptAreOnePhase() {
            var l = ledger([1])
            _ = l.interrupt("SIGINT")
            _ = l.fail(RunFailure("cannot write state.json", cause: "disk full"))
            #expect(
                l.runPhase == .failed(RunFailure("cannot write state.json", cause: "disk full"), interrupted: "SIGINT"))
            #expect(l.interruptReason == "SIGINT" && l.failure?.message == "cannot write state.json")
            #expect(l.fail(RunFailure("another")).isEmpty && l.failure?.message == "cannot write state.json")
            #expect(l.runPhase.stop == .interrupted("SIGINT"), "a task launched now is stopped for the interrupt")
            var m = ledger([1])
            _ = m.fail(RunFailure("first"))
            _ = m.interrupt("SIGTERM")
            #expect(m.runPhase == .failed(RunFailure("first"), interrupted: "SIGTERM"))
            #expect(m.interrupt("SIGINT").isEmpty && m.interruptReason == "SIGTERM")
        }

        /// state.json keeps a stop as its words: each reads back as itself.
        @Test func aStopRequestReadsBackFromItsWords() {
            let stops: [BatchLedger.StopRequest] = [
                .byRun(.interrupted("SIGINT")), .byRun(.interrupted("crawlrun stop")),
                .byRun(.failed(message: "cannot append to results.jsonl")), .deadline(.start(seconds: 600)),
                .deadline(.maxRun(seconds: 600.5)), .deadline(.maxRun(seconds: 3600)),
            ]
            for stop in stops { #expect(BatchLedger.StopRequest(words: stop.description) == stop) }
            // Words of no deadline's shape are an interrupt's.
            #expect(
                BatchLedger.StopRequest(words: "ran longer than task.maxRunSeconds")
                    == .byRun(.interrupted("ran longer than task.maxRunSeconds")))
        }

        /// A failure keeps its cause as a value (code asks what it was) and writes its words.
        @Test func aRunFailureKeepsItsCauseTyped() throws {
            struct Refused: Error, CustomStringConvertible {
                var code: String
                var description: String { "\(code): refused" }
            }
            let f = RunFailure("cannot take the lease", error: Refused(code: "PreconditionFailed"))
            #expect((f.cause?.error as? Refused)?.code == "PreconditionFailed")
            #expect(f.description == "cannot take the lease: PreconditionFailed: refused")
            #expect(
                RunFailure("cannot write x", errno: ENOSPC).description == "cannot write x: No space left on device")
            var l = ledger([1])
            _ = l.fail(f)
            let back = try JSONDecoder().decode(BatchLedger.self, from: JSONEncoder().encode(l))
            #expect(back.failure == RunFailure("cannot take the lease", cause: "PreconditionFailed: refused"))
            #expect(back.failure?.cause?.error == nil, "state.json keeps the words")
        }
    }
}
