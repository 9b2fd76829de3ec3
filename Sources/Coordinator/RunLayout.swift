import CrawlKit
import Foundation

/// The run directory (DESIGN.md, "Run directory"), and the only place that spells its paths:
///
/// ```
/// runs/<run-id>/
///   job.json  urls.txt (the job's urlsFile, when it has one)  plan.json  state.json  results.jsonl  report.json  report.html
///   logs/<batch>/<container>.log
///   batches/<batch>[.aN].json      each attempt's batch file
///   results/<batch>[.aN].jsonl     each attempt's raw results (local and docker backends)
/// ```
public struct RunLayout: Sendable, Equatable {
    public let runsDirectory: String
    public let id: String
    public var directory: String { runsDirectory + "/" + id }

    public init(runsDirectory: String, id: String) {
        self.runsDirectory = runsDirectory
        self.id = id
    }

    /// A layout for a run directory given by its path (`resume RUN_DIR`, `runs/latest` too).
    public init(directory: String) {
        var path =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: directory)).map {
                $0.hasPrefix("/")
                    ? $0 : Paths.directory(of: directory).isEmpty ? $0 : Paths.directory(of: directory) + "/" + $0
            } ?? directory
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let parent = Paths.directory(of: path)
        self.init(runsDirectory: parent.isEmpty ? "." : parent, id: Paths.baseName(path))
    }

    public static let job = "job.json"
    /// A copy of the job's `urlsFile` as run: the job's own path to it is relative to where the
    /// job was, or to another machine's disk, so `resume` reads this copy instead.
    public static let urlList = "urls.txt"
    public static let plan = "plan.json"
    public static let state = "state.json"
    public static let results = "results.jsonl"
    public static let report = "report.json"
    public static let reportPage = "report.html"
    public static let logs = "logs"
    public static let batches = "batches"
    public static let attemptResults = "results"
    /// `<runs>/locks/<job>.lock`: one live run per job (`RunLock`).
    public static let locks = "locks"
    /// `<runs>/latest`: a symbolic link to the newest run.
    public static let latest = "latest"

    /// Whether a name in the runs directory is a run's (`YYYYMMDD-HHMMSS-xxxx`).
    public static func isRunID(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard u.count == 20, u[8] == UInt8(ascii: "-"), u[15] == UInt8(ascii: "-") else { return false }
        return u.enumerated().allSatisfy { i, c in
            i == 8 || i == 15 || (i < 15 ? (48...57).contains(c) : (48...57).contains(c) || (97...102).contains(c))
        }
    }

    /// The local backend's process groups, one JSON line each (for `resume` and `stop`).
    public static let localTasks = "local-tasks.jsonl"
    /// Sub-directories created with the run.
    public static let directories = [logs, batches, attemptResults]

    public var jobPath: String { path(Self.job) }
    public var urlListPath: String { path(Self.urlList) }
    public var planPath: String { path(Self.plan) }
    public var statePath: String { path(Self.state) }
    public var resultsPath: String { path(Self.results) }
    public var reportPath: String { path(Self.report) }
    public var reportPagePath: String { path(Self.reportPage) }
    public var logsPath: String { path(Self.logs) }
    public var localTasksPath: String { path(Self.localTasks) }

    public func path(_ name: String) -> String { directory + "/" + name }

    /// `logs/<batch>`: every attempt of a batch appends to the same container logs.
    public func logDirectory(batch: String) -> String { logsPath + "/" + batch }

    /// `batches/<batch>[.aN].json`, relative to the run directory.
    public static func batchName(_ batch: String, attempt: Int) -> String {
        "\(batches)/\(attemptName(batch, attempt: attempt)).json"
    }

    /// `results/<batch>[.aN].jsonl`, relative to the run directory.
    public static func resultsName(_ batch: String, attempt: Int) -> String {
        "\(attemptResults)/\(attemptName(batch, attempt: attempt)).jsonl"
    }

    /// `<batch>` for the first attempt, `<batch>.aN` for attempt N: the name a batch attempt has
    /// wherever it is stored (the run directory, a container's mount, an S3 prefix).
    public static func attemptName(_ batch: String, attempt: Int) -> String {
        attempt > 1 ? "\(batch).a\(attempt)" : batch
    }

    public func batchPath(_ batch: String, attempt: Int) -> String { path(Self.batchName(batch, attempt: attempt)) }
    public func attemptResultsPath(_ batch: String, attempt: Int) -> String {
        path(Self.resultsName(batch, attempt: attempt))
    }
}

/// The same layout under an S3 prefix: a run's file `name` is `<prefix>/<run-id>/<name>`, the
/// job's lease `<prefix>/locks/<job>.json`. Names come from `RunLayout` alone.
extension RunLayout {
    /// `<prefix>/<rest>`, or `<rest>` at the bucket's root.
    public static func key(prefix: String, _ rest: String) -> String { prefix.isEmpty ? rest : prefix + "/" + rest }

    /// The key of a run's file.
    public static func key(prefix: String, run: String, _ name: String) -> String {
        key(prefix: prefix, run + "/" + name)
    }

    /// The job's lease on S3 (`JobLease`): JSON, written with S3's conditional writes.
    public static func leaseKey(prefix: String, job: String) -> String {
        key(prefix: prefix, locks + "/" + job + ".json")
    }

    /// While a run on S3 is live, the results merged since results.jsonl was last written whole
    /// go up every few seconds as numbered pieces `results.jsonl.d/<n>.jsonl`; results.jsonl
    /// followed by them, in order, is the run's results. The end of a run (and a resume) writes
    /// results.jsonl whole again and deletes the pieces.
    public static let resultPieces = "results.jsonl.d"
    public static func resultPieceName(_ n: Int) -> String {
        resultPieces + "/" + String(n).leftPadded(to: 8) + ".jsonl"
    }

    /// `crawlrun stop s3://…/RUN-ID` from any machine: this object asks the run's coordinator to
    /// stop (it looks every few seconds), as SIGTERM does on one machine.
    public static let stopRequest = "stop-request.json"
}
