import CrawlKit
import Foundation

/// Checks each task's results against its batch and keeps the run's promise: exactly one record
/// per input URL. A record for a URL outside the batch, a second record for a URL, and a line cut
/// short by a killed crawler are dropped (the URL counts as missing and is retried). URLs given up
/// on get an `incomplete` record saying why.
public struct ResultMerger: Sendable {
    /// URLs with a record, per batch not finished yet (dropped when the batch is).
    private var recorded: [String: Set<String>] = [:]
    public private(set) var counts: RecordCounts
    /// Error kinds seen: how many, and the first URL as an example with its record's message.
    public private(set) var errors: [String: ErrorCount] = [:]
    /// Per field of the job: on how many of the pages read it matched. A field that matched on
    /// none is most likely a typo in its selector (`p.prise`), which the records alone show only
    /// as `null` everywhere.
    public private(set) var fields: [String: FieldCount] = [:]

    public struct ErrorCount: Sendable, Equatable {
        public var count: Int
        public var example: String
        public var message: String = ""
    }

    public struct FieldCount: Sendable, Equatable {
        /// Pages whose record carries the field (the page was read), and those where it matched.
        public var pages = 0
        public var matched = 0
    }

    public struct Merged: Sendable {
        /// The accepted records, as lines for results.jsonl.
        public var lines: [UInt8] = []
        public var ok = 0
        public var failed = 0
        public var records: Int { ok + failed }
        /// URLs of the attempt still without a record.
        public var missing: [String] = []
    }

    public init(urls: Int) { counts = RecordCounts(urls: urls) }

    /// Merges one attempt's raw results (JSON Lines, nil when the task wrote none). The crawler
    /// names artifacts relative to its results file (`artifacts/<batch>/<n>.png`); `artifactBase`
    /// is where that file is seen from the run directory (`results/`, or the folder of the S3
    /// object), so the merged record's paths resolve from the run directory.
    public mutating func merge(batch: String, urls: [String], results: [UInt8]?, artifactBase: String = "") -> Merged {
        var out = Merged()
        var seen = recorded[batch] ?? []
        let wanted = Set(urls)
        let decoder = JSONDecoder()
        for line in (results ?? []).split(separator: 10) {
            guard var record = try? decoder.decode(ResultRecord.self, from: Data(line)),
                wanted.contains(record.url), seen.insert(record.url).inserted
            else { continue }
            if !artifactBase.isEmpty, let artifacts = record.artifacts {
                record.artifacts = artifacts.mapValues {
                    $0.hasPrefix("/") || $0.contains("://") ? $0 : artifactBase + $0
                }
            }
            out.lines += record.jsonLine()
            countFields(record)
            if record.ok {
                out.ok += 1
            } else {
                out.failed += 1
                if let error = record.error { count(error.kind.rawValue, record.url, 1, error.message) }
            }
        }
        counts.ok += out.ok
        counts.failed += out.failed
        out.missing = urls.filter { !seen.contains($0) }
        recorded[batch] = seen
        return out
    }

    /// `incomplete` records for URLs given up on (those of `urls` without a record yet).
    public mutating func giveUp(
        batch: String, urls: [String], attempts: Int, reason: String
    ) -> (
        lines: [UInt8], count: Int
    ) {
        var seen = recorded[batch] ?? []
        var lines: [UInt8] = []
        var n = 0
        for url in urls where seen.insert(url).inserted {
            lines += ResultRecord(
                url: url, ok: false, error: RecordError(kind: .incomplete, message: reason), attempts: attempts,
                batch: batch, startedAt: Timestamp.now(), ms: 0
            ).jsonLine()
            n += 1
            if n == 1 { count(ErrorKind.incomplete.rawValue, url, 0, reason) }
        }
        if n > 0 { errors[ErrorKind.incomplete.rawValue, default: ErrorCount(count: 0, example: "")].count += n }
        counts.incomplete += n
        recorded[batch] = seen
        return (lines, n)
    }

    /// The URLs of `urls` still without a record in `batch` (needs the batch's recorded set: one
    /// merged in this run, or read back by `load`).
    public func unrecorded(batch: String, of urls: [String]) -> [String] {
        let seen = recorded[batch] ?? []
        return urls.filter { !seen.contains($0) }
    }

    /// The batch is finished: its URLs are no longer looked up.
    public mutating func finished(batch: String) { recorded[batch] = nil }

    /// Reads back a results.jsonl (resume): the counts, the error kinds and which URLs of the
    /// unfinished batches already have a record.
    public mutating func load(_ bytes: [UInt8], unfinished: Set<String>) {
        let decoder = JSONDecoder()
        for line in bytes.split(separator: 10) {
            guard let record = try? decoder.decode(ResultRecord.self, from: Data(line)) else { continue }
            if unfinished.contains(record.batch) { recorded[record.batch, default: []].insert(record.url) }
            countFields(record)
            if record.ok {
                counts.ok += 1
            } else if let error = record.error, error.kind == .incomplete {
                counts.incomplete += 1
                count(ErrorKind.incomplete.rawValue, record.url, 1, error.message)
            } else {
                counts.failed += 1
                if let error = record.error { count(error.kind.rawValue, record.url, 1, error.message) }
            }
        }
    }

    private mutating func count(_ kind: String, _ url: String, _ n: Int, _ message: String) {
        errors[kind, default: ErrorCount(count: 0, example: url, message: message)].count += n
    }

    /// A field matched when its value is not null (one element) or not empty (`all`); records of
    /// pages never read (no fields) do not count.
    private mutating func countFields(_ record: ResultRecord) {
        for (name, value) in record.fields {
            var f = fields[name] ?? FieldCount()
            f.pages += 1
            if value != .null && value != .array([]) { f.matched += 1 }
            fields[name] = f
        }
    }
}
