import CrawlKit

/// The run directory (DESIGN.md, "Run directory"), and the only place that spells its paths:
///
/// ```
/// runs/<run-id>/
///   job.json  plan.json  state.json  results.jsonl  report.json  report.html
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

    /// A layout for a run directory given by its path (`resume RUN_DIR`).
    public init(directory: String) {
        var path = directory
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let parent = Paths.directory(of: path)
        self.init(runsDirectory: parent.isEmpty ? "." : parent, id: Paths.baseName(path))
    }

    public static let job = "job.json"
    public static let plan = "plan.json"
    public static let state = "state.json"
    public static let results = "results.jsonl"
    public static let report = "report.json"
    public static let reportPage = "report.html"
    public static let logs = "logs"
    public static let batches = "batches"
    public static let attemptResults = "results"
    /// Sub-directories created with the run.
    public static let directories = [logs, batches, attemptResults]

    public var jobPath: String { path(Self.job) }
    public var planPath: String { path(Self.plan) }
    public var statePath: String { path(Self.state) }
    public var resultsPath: String { path(Self.results) }
    public var reportPath: String { path(Self.report) }
    public var reportPagePath: String { path(Self.reportPage) }
    public var logsPath: String { path(Self.logs) }

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
