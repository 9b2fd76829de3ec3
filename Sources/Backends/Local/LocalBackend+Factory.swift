import Coordinator
import CrawlKit
import ProcessKit

extension LocalBackend {
    /// The local backend for a job: the `crawler` beside crawlrun, and a guard process that stops
    /// the run's process groups if crawlrun dies, SIGKILL included.
    public struct Factory: BackendFactory {
        public var backend: Backend { .local }
        /// The command that runs `Lifeline.guardMain` (crawlrun's hidden `__guard`); nil: no guard.
        public var guardCommand: [String]?
        public var crawlerPath: String

        public init(guardCommand: [String]?, crawlerPath: String = LocalBackend.defaultCrawlerPath()) {
            self.guardCommand = guardCommand
            self.crawlerPath = crawlerPath
        }

        public func defaultMaxTasks(for job: Job) -> Int { job.local.maxTasks ?? Self.machineMaxTasks() }

        /// Starts the guard process; nil when there is no guard command.
        public func processGuard() throws -> Lifeline? {
            try guardCommand.map { try Lifeline(command: $0) }
        }

        /// A guard that cannot start is a warning, not a failure: the run goes on without it.
        public func make(job: Job, notes: @escaping @Sendable (String) -> Void) -> any TaskBackend {
            var lifeline: Lifeline?
            do {
                lifeline = try processGuard()
            } catch {
                notes(
                    "warning: no guard process (\(error)); a crawlrun killed with SIGKILL would leave its tasks running"
                )
            }
            return LocalBackend(
                crawlerPath: crawlerPath, settings: job.local, stopTimeout: .seconds(job.task.stopTimeout),
                lifeline: lifeline)
        }
    }
}
