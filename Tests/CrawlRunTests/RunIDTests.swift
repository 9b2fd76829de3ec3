import Coordinator
import Foundation
import TestSupport
import Testing

/// Run ids sort by start time to the millisecond: `runs` lists by them and `run --keep` deletes
/// the oldest by them (CI once saw `--keep 1` keep the older of two runs started in one second).
@Suite struct RunIDTests {
    @Test func idsSortByStartTimeWithinASecond() {
        let times = [
            "2026-11-22T11:30:44.000Z", "2026-11-22T11:30:44.001Z", "2026-11-22T11:30:44.500Z",
            "2026-11-22T11:30:44.999Z", "2026-11-22T11:30:45.000Z",
        ]
        // The largest nibble on the earlier time, the smallest on the later: still in order.
        let ids = times.enumerated().map { i, t in RunStore.id(at: t, nibble: i.isMultiple(of: 2) ? 15 : 0) }
        #expect(ids == ids.sorted(), "\(ids)")
        #expect(ids.allSatisfy(RunLayout.isRunID), "\(ids)")
        #expect(ids[0] == "20261122-113044-000f" && ids[3] == "20261122-113044-3e70")
        #expect(RunLayout.isRunID(RunStore.newID()))
    }

    @Test func keepDeletesTheOlderOfTwoRunsStartedInOneSecond() throws {
        let runs = tempDir("runid")
        let older = RunStore.id(at: "2026-11-22T11:30:44.900Z", nibble: 15)
        let newer = RunStore.id(at: "2026-11-22T11:30:44.901Z", nibble: 0)
        for id in [newer, older] {
            let store = try RunStore(runsDirectory: runs, id: id)
            try store.writeJSON(RunLayout.plan, ["job": "nightly"])
        }
        #expect(RunHistory.prune(runs, job: "nightly", keep: 1, current: newer) == [older])
        #expect(try FileManager.default.contentsOfDirectory(atPath: runs).filter(RunLayout.isRunID) == [newer])
    }

    @Test func aRunDirectoryIsNeverShared() throws {
        let runs = tempDir("runid")
        let id = RunStore.id(at: "2026-11-22T11:30:44.900Z", nibble: 3)
        _ = try RunStore(runsDirectory: runs, id: id)
        #expect(throws: RunFailure.self) { try RunStore(runsDirectory: runs, id: id) }
    }
}
