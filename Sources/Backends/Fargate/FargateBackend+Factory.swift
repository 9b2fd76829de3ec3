import AWS
import Coordinator
import CrawlKit
import Foundation

extension FargateBackend {
    /// The Fargate backend for a job: ECS, CloudWatch Logs and S3 clients in the job's region
    /// (else the environment's, else us-east-1) with the environment's credentials. Nothing is
    /// asked of AWS before `preflight`.
    public struct Factory: BackendFactory {
        public var backend: Backend { .fargate }
        public var variables: [String: String]

        public init(variables: [String: String] = ProcessInfo.processInfo.environment) {
            self.variables = variables
        }

        public func defaultMaxTasks(for job: Job) -> Int { job.fargate.maxConcurrentTasks }

        /// Fargate's own provisioning timeout, from the job.
        public func startTimeout(for job: Job) -> Double { job.fargate.provisioningTimeout }

        /// On S3, under the job's prefix.
        public func plannedLocations(
            job: Job, runsDirectory: String, run: String, batch: String, attempt: Int
        ) -> TaskLocations {
            FargateLayout.locations(job: job, run: run, batch: batch, attempt: attempt)
        }

        public func region(for job: Job) -> String {
            job.fargate.region ?? AWSEnvironment(variables).region() ?? "us-east-1"
        }

        public func make(job: Job, notes: @escaping @Sendable (String) -> Void) -> any TaskBackend {
            FargateBackend(job: job, aws: AWSServices(region: region(for: job), variables: variables), notes: notes)
        }
    }
}
