import AWS
import Coordinator
import CrawlKit
import JSONKit

/// One batch attempt as a RunTask call, and what its answer means for the scheduler.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
public enum FargateLaunch {
    /// The tags crawlrun puts on every task: how `reattach` finds a batch attempt again.
    public static let runTag = "crawlrun:run"
    public static let jobTag = "crawlrun:job"
    public static let batchTag = "crawlrun:batch"
    public static let attemptTag = "crawlrun:attempt"

    /// The RunTask request of a batch attempt: the job's network and capacity, `startedBy` the run
    /// (ListTasks finds the run's tasks by it), crawlrun's tags and the job's, the overrides
    /// (references only) and the attempt's idempotency token.
    public static func request(_ launch: TaskLaunch, job: Job, taskDefinitionArn: String) -> RunTaskRequest {
        let f = job.fargate
        var r = RunTaskRequest(cluster: f.cluster, taskDefinition: taskDefinitionArn)
        r.network = AwsVpcConfiguration(
            subnets: f.subnets, securityGroups: f.securityGroups, assignPublicIp: f.assignPublicIp)
        r.launch =
            f.capacityProviders.isEmpty
            ? .fargate
            : .capacityProviders(
                f.capacityProviders.map {
                    CapacityProviderStrategyItem(provider: $0.provider, weight: $0.weight, base: $0.base)
                })
        r.platformVersion = f.platformVersion
        r.startedBy = launch.run
        r.tags =
            [
                ECSTag(runTag, launch.run), ECSTag(jobTag, job.name), ECSTag(batchTag, launch.batch),
                ECSTag(attemptTag, String(launch.attempt)),
            ] + f.tags.sorted { $0.key < $1.key }.map { ECSTag($0.key, $0.value) }
        r.propagateTags = .taskDefinition
        r.overrides = launch.overrides
        r.clientToken = launch.token
        return r
    }

    /// The overrides' length as ECS counts it (JSON punctuation included), or nil when within the
    /// limit: checked before the call so the message can name the batch.
    public static func overridesProblem(_ launch: TaskLaunch) -> String? {
        let length = String(decoding: launch.overrides.encoded(), as: UTF8.self).utf16.count
        guard length > TaskDefinition.overridesLimit else { return nil }
        return "batch \(launch.batch) attempt \(launch.attempt): its RunTask overrides are \(length) characters; "
            + "ECS allows \(TaskDefinition.overridesLimit)"
    }

    /// The clientToken of a launch's next RunTask. A RunTask answered with `failures[]` only
    /// started no task, and ECS may give the same answer again to the same token: its next try
    /// takes a fresh one (`-r1`, `-r2`…). So does a launch whose token ECS refuses with a
    /// ConflictException (used before with other parameters: a task definition changed between
    /// a run and its resume). Other retries keep the token, so a lost answer finds its task.
    /// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html (clientToken)
    public struct Tokens: Sendable {
        var fresh: [String: Int] = [:]
        public init() {}

        public func token(for base: String) -> String {
            guard let n = fresh[base], n > 0 else { return base }
            let suffix = "-r\(n)"
            return String(base.prefix(64 - suffix.count)) + suffix
        }

        /// The current token started no task: the next try takes a new one.
        public mutating func spent(_ base: String) { fresh[base, default: 0] += 1 }
    }

    /// The task RunTask started, or why none was: `failures[]` on a 200 (capacity: later).
    public static func outcome(_ result: RunTaskResult, launch: TaskLaunch) -> Result<ECSTask, LaunchError> {
        if let task = result.tasks.first, !task.taskArn.isEmpty { return .success(task) }
        let what = "batch \(launch.batch) attempt \(launch.attempt)"
        guard let failure = result.failures.first else {
            return .failure(.retryLater("RunTask answered without a task or a failure"))
        }
        if failure.isCapacity { return .failure(.retryLater("no Fargate capacity now: \(failure)")) }
        return .failure(.failedToStart("\(what): RunTask failed: \(failure)"))
    }

    /// A RunTask error as the ledger acts on it: later (same token) for what passes by itself,
    /// the run's end for what every launch would meet, a spent attempt otherwise.
    public static func error(_ error: AWSError, launch: TaskLaunch, job: Job) -> LaunchError {
        let what = "batch \(launch.batch) attempt \(launch.attempt)"
        let f = job.fargate
        if error.code == "ConflictException" {
            return .retryLater(
                "RunTask refused the client token (used before with other parameters: \(error.message)); trying again with a fresh one"
            )
        }
        switch error.category {
        case .throttling, .capacity, .server:
            return .retryLater("\(error.code): \(error.message)")
        case .transport:
            // The request may have reached ECS: the same token finds the task it started.
            return .retryLater("no answer to RunTask (\(error.message)); retried with the same client token")
        case .cancelled:
            return .failedToStart("\(what): the launch was cancelled")
        case .accessDenied:
            return .fatal(
                RunFailure(
                    "\(what): RunTask was denied: \(error.message)",
                    cause:
                        "the coordinator needs ecs:RunTask and ecs:TagResource on the job's tasks and iam:PassRole on its two roles: attach the policy `crawlrun iam-policy JOB` prints"
                ))
        case .credentials:
            return .fatal(
                RunFailure(
                    "\(what): AWS rejected the credentials: \(error)", cause: "crawlrun doctor JOB checks them"))
        case .clusterNotFound:
            return .fatal(
                RunFailure(
                    "\(what): the cluster \(f.cluster) does not exist in \(f.region ?? "the region")",
                    cause: "create it (aws ecs create-cluster --cluster-name \(f.cluster)) or fix fargate.cluster"))
        case .invalidParameter, .notFound:
            return .fatal(
                RunFailure(
                    "\(what): ECS refused the RunTask request: \(error)",
                    cause: "crawlrun doctor JOB checks the job's Fargate settings"))
        case .other:
            return .failedToStart("\(what): RunTask failed: \(error)")
        }
    }
}
