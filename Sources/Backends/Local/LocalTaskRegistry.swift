import Coordinator
import CrawlKit
import Foundation
import ProcessKit
import Synchronization

/// The local backend's memory of a run: every process group a task started, with its leader's
/// start time, appended to the run directory as it happens (`RunLayout.localTasks`). After a
/// crash of crawlrun, `resume` and `stop` find the groups there, make sure each still alive is
/// ours (same pid, same start time), and stop it.
final class LocalTaskRegistry: Sendable {
    struct Entry: Codable, Sendable, Equatable {
        var task: String
        var batch: String
        var attempt: Int
        var group: Int32
        var start: UInt64
    }

    private let path: String
    private let lock = Mutex(())

    init(layout: RunLayout) { path = layout.localTasksPath }

    func record(task: String, batch: String, attempt: Int, group: pid_t) {
        let entry = Entry(
            task: task, batch: batch, attempt: attempt, group: group, start: Lifeline.startTime(of: group) ?? 0)
        guard var line = try? JSONEncoder().encode(entry) else { return }
        line.append(10)
        lock.withLock { _ in
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return }
            writeAll(fd, [UInt8](line))
            close(fd)
        }
    }

    func entries() -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: 10).compactMap { try? JSONDecoder().decode(Entry.self, from: Data($0)) }
    }

    /// Whether the group's leader is alive and is the process recorded.
    static func isOurs(_ e: Entry) -> Bool {
        guard let now = Lifeline.startTime(of: e.group) else { return false }
        return e.start == 0 || now == e.start
    }

    /// Stops every recorded group still alive and ours (SIGTERM, then SIGKILL after `grace`);
    /// returns the tasks that had something to stop.
    static func stop(_ entries: [Entry], grace: Duration) async -> Set<String> {
        let live = entries.filter(isOurs)
        for e in live { _ = kill(-e.group, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, live.contains(where: { kill(-$0.group, 0) == 0 }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for e in live { _ = kill(-e.group, SIGKILL) }
        return Set(live.map(\.task))
    }
}
