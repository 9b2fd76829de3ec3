import CrawlKit
import Foundation
import JSONKit

/// The run directory (DESIGN.md, "Run directory"):
/// `runs/<run-id>/` with `job.json`, `plan.json`, `state.json` (atomic), `results.jsonl`
/// (merged, one record per input URL), `logs/<batch>/<container>.log` and `report.json`; the
/// batch files and each attempt's raw results are kept beside them in `batches/` and `results/`.
public final class RunStore: @unchecked Sendable {
    public let id: String
    public let directory: String
    private let resultsFD: Int32
    private let lock = NSLock()

    public init(runsDirectory: String, id: String = RunStore.newID()) throws(RunFailure) {
        self.id = id
        directory = runsDirectory + "/" + id
        for sub in ["", "/logs", "/batches", "/results"] {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory + sub, withIntermediateDirectories: true)
            } catch {
                throw RunFailure("cannot create the run directory \(directory + sub)", cause: "\(error)")
            }
        }
        resultsFD = open(directory + "/results.jsonl", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard resultsFD >= 0 else {
            throw RunFailure("cannot write \(directory)/results.jsonl", cause: String(cString: strerror(errno)))
        }
    }

    deinit { close(resultsFD) }

    public var resultsPath: String { directory + "/results.jsonl" }
    public var logsPath: String { directory + "/logs" }
    public var reportPath: String { directory + "/report.json" }

    /// `YYYYMMDD-HHMMSS-xxxx` (UTC, then random hex): sorts by start time, fits ECS's
    /// 36-character `startedBy`.
    public static func newID() -> String {
        let t = Timestamp.now()
        let digits = t.filter(\.isNumber)
        let stamp = String(digits.prefix(8)) + "-" + String(digits.dropFirst(8).prefix(6))
        return stamp + "-" + String(UInt16.random(in: 0...UInt16.max), radix: 16).leftPadded(to: 4)
    }

    /// Writes `name` atomically: a temporary file in the same directory, then rename(2).
    public func writeAtomically(_ name: String, _ bytes: [UInt8]) throws(RunFailure) {
        let path = directory + "/" + name
        let temp = path + ".tmp"
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: temp))
        } catch {
            throw RunFailure("cannot write \(temp)", cause: "\(error)")
        }
        guard rename(temp, path) == 0 else {
            throw RunFailure("cannot replace \(path)", cause: String(cString: strerror(errno)))
        }
    }

    public func writeJSON(_ name: String, _ value: JSONValue) throws(RunFailure) {
        var bytes = value.encoded()
        bytes.append(10)
        try writeAtomically(name, [UInt8](bytes))
    }

    /// Appends merged records (whole lines) to results.jsonl.
    public func appendResults(_ bytes: [UInt8]) throws(RunFailure) {
        lock.lock()
        defer { lock.unlock() }
        guard writeAll(resultsFD, bytes) else {
            throw RunFailure("cannot append to \(resultsPath)", cause: String(cString: strerror(errno)))
        }
    }

    /// The batch file of one attempt, kept in the run directory whatever the backend.
    public func batchPath(_ batch: String, attempt: Int) -> String {
        directory + "/batches/\(batch)\(attempt > 1 ? ".a\(attempt)" : "").json"
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
