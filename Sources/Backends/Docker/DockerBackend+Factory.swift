import Coordinator
import CrawlKit
import Foundation

extension DockerBackend {
    /// The docker backend for a job: the engine at `docker.host`, else `DOCKER_HOST` in
    /// `environment`. The engine is first asked at `prepare`.
    public struct Factory: BackendFactory {
        public var backend: Backend { .docker }
        public var environment: [String: String]

        public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
            self.environment = environment
        }

        public func defaultMaxTasks(for job: Job) -> Int { job.docker.maxTasks ?? Self.machineMaxTasks() }

        /// Inside the crawler container: the plan shows the paths the task reads and writes.
        public func plannedLocations(
            job: Job, runsDirectory: String, run: String, batch: String, attempt: Int
        ) -> TaskLocations {
            DockerBackend.locations(batch: batch, attempt: attempt)
        }

        public func make(job: Job, notes: @escaping @Sendable (String) -> Void) -> any TaskBackend {
            DockerBackend(settings: job.docker, environment: environment)
        }
    }
}
