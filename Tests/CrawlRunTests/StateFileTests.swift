import Coordinator
import CrawlKit
import Foundation
import JSONKit
import Testing

/// state.json has one spelling (the `Codable` conformances, written by JSONKit's streaming
/// encoder): a state with every field set reads back as itself, and a state.json written before
/// that (by the hand-written writer it replaced) still reads, so older runs resume.
@Suite struct StateFileTests {
    /// A state with every field of every type in it set (nothing optional left out, every
    /// phase's fields at once): `unset` proves it, so a field added later without a place here
    /// fails the test instead of going untested.
    static let everything = #"""
        {"version": 1, "run": "20261122-000000-0001", "job": "j", "backend": "fargate", "status": "running",
         "startedAt": "2026-11-22T00:00:00.000Z", "resumedAt": "2026-11-22T01:00:00.000Z",
         "updatedAt": "2026-11-22T01:00:31.000Z",
         "counts": {"urls": 6, "ok": 1, "failed": 1, "incomplete": 1},
         "owner": {"pid": 4242, "start": 123456789, "host": "h \"q\""},
         "options": {"maxTasks": 3, "retries": 2, "maxRunSeconds": 600.5, "startTimeout": 900, "launchTries": 20},
         "interruptReason": "SIGINT", "failure": {"message": "cannot append", "cause": "no space left"},
         "ledgerCounts": {"tasksStarted": 4, "retriedTasks": 1, "retriedURLs": 2, "infrastructureFailures": 1,
                          "relaunches": 3, "batchesDone": 1},
         "queue": ["0002"],
         "hostSlots": {"limit": 2, "hosts": {"0001": ["shop.example"], "0002": ["shop.example", "b.example"]}},
         "batches": [
          {"id": "0001", "urls": 2, "status": "done", "givenUp": 1, "extraAttempts": 1, "attempts": [
            {"attempt": 1, "token": "20261122-000000-0001-0001-a1", "urls": 2, "phase": "ended",
             "task": "arn:aws:ecs:us-east-1:1:task/c/1", "launchTries": 2, "launchedAt": 1800000000.125,
             "runningAt": 1800000001, "endedAt": 1800000031.5, "stopRequested": "ran longer than task.maxRunSeconds (600.5 s)",
             "records": 1, "failed": 1, "missing": 1, "stopCode": "UserInitiated", "reason": "a \"quoted\"\nreason",
             "hint": "a hint", "exitCodes": {"crawler": 137, "webdriver": null},
             "timing": {"pullStartedAt": 1800000000.5, "startedAt": 1800000001, "stoppedAt": 1800000030},
             "capacityProvider": "FARGATE_SPOT", "infrastructureProblem": "crawler was killed (SIGKILL)"}]},
          {"id": "0002", "urls": 1, "status": "pending", "givenUp": 0, "extraAttempts": 0, "attempts": [
            {"attempt": 1, "token": "20261122-000000-0001-0002-a1", "urls": 1, "phase": "queued", "launchTries": 0}]},
          {"id": "0003", "urls": 1, "status": "launching", "givenUp": 0, "extraAttempts": 0, "attempts": [
            {"attempt": 1, "token": "20261122-000000-0001-0003-a1", "urls": 1, "phase": "waiting", "launchTries": 3,
             "reason": "ThrottlingException: rate exceeded"}]}
         ]}
        """#

    /// The paths of the optionals left nil in `value`, its nested values included.
    static func unset(_ value: Any, at path: String = "") -> [String] {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return [path] }
            return unset(wrapped, at: path)
        }
        switch mirror.displayStyle {
        case .struct, .class, .enum, .tuple:
            return mirror.children.flatMap { unset($0.value, at: path + "." + ($0.label ?? "?")) }
        case .collection, .dictionary:
            return mirror.children.enumerated().flatMap { unset($0.element.value, at: path + "[\($0.offset)]") }
        default:
            return []
        }
    }

    func parsed(_ bytes: [UInt8]) throws -> JSONValue { try JSONParser.parse(bytes).value }

    @Test func aStateWithEveryFieldSetReadsBackAsItself() throws {
        let state = try JSONDecoder().decode(RunState.self, from: Data(Self.everything.utf8))
        // Every field is set: outside the attempts, and in at least one attempt (the first batch's
        // has every fact of a task that ended, the third's the reason its launch waits; the second
        // is only there to be queued). A container without an exit code is a null in exitCodes;
        // the derived ledger fields are not optional and need no check.
        let attempts = state.ledger.batches.flatMap(\.attempts)
        let unsetInEvery = attempts.dropFirst().reduce(Set(Self.unset(attempts[0]))) {
            $0.intersection(Self.unset($1))
        }
        let outside = Self.unset(state).filter { !$0.contains(".attempts[") }
        let left = (outside + unsetInEvery.sorted()).filter { !$0.contains(".exitCodes[") }
        #expect(left.isEmpty, "fields left unset: \(left)")
        #expect(attempts[0].stopRequested == .deadline(.maxRun(seconds: 600.5)))
        #expect(
            state.ledger.runPhase == .failed(RunFailure("cannot append", cause: "no space left"), interrupted: "SIGINT")
        )
        let bytes = try state.jsonBytes()
        let back = try JSONDecoder().decode(RunState.self, from: Data(bytes))
        #expect(back.ledger == state.ledger)
        #expect(back.ledger.batches == state.ledger.batches && back.ledger.failure == state.ledger.failure)
        #expect(back.owner == state.owner && back.resumedAt == state.resumedAt && back.counts == state.counts)
        #expect(try parsed(bytes) == parsed(Array(Self.everything.utf8)), "what is written is what was read")
        // Written twice (the done batch from the cache the second time): the same.
        var cache = StateEncoderProbe()
        #expect(try parsed(cache.write(state)) == parsed(cache.write(state)))
    }

    @Test func aStateWrittenBeforeReadsBackAndResumes() throws {
        let path = packageRoot + "/Tests/CrawlRunTests/Fixtures/state/fargate-interrupted-v1.json"
        let data = try #require(FileManager.default.contents(atPath: path))
        let state = try JSONDecoder().decode(RunState.self, from: data)
        #expect(state.status == .interrupted && state.resumedAt == "2026-12-07T20:42:32.851Z")
        #expect(state.ledger.interruptReason == "SIGTERM")
        let attempts = state.ledger.batches[0].attempts
        #expect(attempts.count == 2 && attempts[0].end?.exitCodes == ["crawler": nil, "webdriver": 143])
        #expect(
            attempts[0].end?.timing?.pullStartedAt == 1_796_676_152.059
                && attempts[0].end?.capacityProvider == "FARGATE")
        // The stops asked for by the run, read back from their words: the first session's failure
        // and the second's interrupt, both the run's (whatever the ledger's phase is now).
        #expect(
            attempts.map(\.stopRequested) == [
                .byRun(.failed(message: "the run's tasks could not be listed on crawlrun-rehearsal")),
                .byRun(.interrupted("SIGTERM")),
            ])
        #expect(attempts.map { AttemptOutcome($0) } == [.stopped, .stopped])
        // Written again by today's code, it says the same.
        #expect(try parsed(state.jsonBytes()) == parsed([UInt8](data)))
        var ledger = state.ledger
        let actions = ledger.resume(known: [], unrecorded: ["0001": ["http://x/"]], now: 1_796_676_200)
        #expect(actions.first == .writeRetryBatch(batch: "0001", attempt: 3, urls: ["http://x/"]))
    }
}

/// Two writes through one cache, as StateWriter makes them.
struct StateEncoderProbe {
    var encoder = JSONStreamEncoder()
    mutating func write(_ state: RunState) throws -> [UInt8] { try encoder.encode(state) }
}
