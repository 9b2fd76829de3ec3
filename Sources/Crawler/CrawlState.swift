import CrawlKit
import Synchronization

/// Set once by SIGTERM/SIGINT: stop taking URLs.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    /// True the first time only.
    func set() -> Bool { !flag.exchange(true, ordering: .relaxed) }
}

/// Hands out the batch's URLs, in order, to the workers.
actor URLQueue {
    private let items: [WorkItem]
    private var next = 0
    init(_ items: [WorkItem]) { self.items = items }
    var isEmpty: Bool { next >= items.count }
    func take() -> WorkItem? {
        guard next < items.count else { return nil }
        defer { next += 1 }
        return items[next]
    }
}

/// Counts records and prints a progress line every 10 records or 5 seconds.
actor Progress {
    let total: Int
    let log: Log
    private(set) var ok = 0
    private(set) var failed = 0
    private var kinds: [ErrorKind: Int] = [:]
    private let start = ContinuousClock.now
    private var lastLine = ContinuousClock.now

    init(total: Int, log: Log) {
        self.total = total
        self.log = log
    }

    var recorded: Int { ok + failed }

    func count(_ record: ResultRecord) {
        if record.ok {
            ok += 1
        } else {
            failed += 1
            if let kind = record.error?.kind { kinds[kind, default: 0] += 1 }
        }
        let now = ContinuousClock.now
        if recorded % 10 == 0 || now - lastLine >= .seconds(5) {
            lastLine = now
            log.info("progress \(recorded)/\(total) (ok \(ok), failed \(failed)) \(rate()) pages/s")
        }
    }

    func rate() -> String {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard seconds > 0 else { return "0.0" }
        let tenths = Int((Double(recorded) / seconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    func summary() -> String {
        let top = kinds.sorted { $0.value > $1.value }.map { "\($0.key.rawValue) \($0.value)" }
        return "ok \(ok), failed \(failed)" + (top.isEmpty ? "" : " [\(top.joined(separator: ", "))]")
            + ", \(rate()) pages/s"
    }
}
