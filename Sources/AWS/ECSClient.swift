import HTTP
import JSONKit

/// Amazon ECS: the operations CrawlRun uses, typed for the Fargate backend.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/Welcome.html
public struct ECSClient: Sendable {
    public var client: JSONProtocolClient
    /// ECS throttles per account and Region in token buckets per group of actions, so each group
    /// waits in its own bucket here and a burst of launches never delays a DescribeTasks poll
    /// (ECS-NOTES.md, "API rate limits"; https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html).
    /// Each attempt of a call takes a token of its group; the client's own bucket (cluster and
    /// task-definition reads: burst 50, 20 a second) serves every other action.
    let taskWrites = TokenBucket(capacity: 100, refillPerSecond: 40)  // RunTask, StopTask
    let taskReads = TokenBucket(capacity: 100, refillPerSecond: 20)  // DescribeTasks, ListTasks
    let registrations = TokenBucket(capacity: 20, refillPerSecond: 1)  // RegisterTaskDefinition
    /// Fargate's own limits, lower than RunTask's API bucket: RunTask calls for Fargate tasks,
    /// 20 a second burst and sustained; tasks launched, 100 at once then 20 a second (On-Demand
    /// and Spot counted apart; one bucket here is the stricter). Every RunTask takes a call token
    /// and one token per task: a burst of launches is paced rather than throttled.
    /// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/throttling.html
    let fargateRunTaskCalls = TokenBucket(capacity: 20, refillPerSecond: 20)
    let fargateLaunches = TokenBucket(capacity: 100, refillPerSecond: 20)
    /// DescribeTasks takes at most 100 tasks per call.
    public static let describeTasksLimit = 100

    public init(region: String, environment: AWSEnvironment, credentials: CredentialChain, http: any HTTPTransport) {
        let endpoint = environment.endpoint(service: "ECS", host: "ecs.\(region).amazonaws.com").url
        client = JSONProtocolClient(
            service: "ecs", targetPrefix: "AmazonEC2ContainerServiceV20141113", region: region, endpoint: endpoint,
            credentials: credentials, http: http, bucket: TokenBucket(capacity: 50, refillPerSecond: 20))
    }

    public func registerTaskDefinition(_ definition: JSONValue) async throws(AWSError) -> JSONValue {
        try await client.call("RegisterTaskDefinition", definition, bucket: registrations)
    }

    public func describeTaskDefinition(_ family: String) async throws(AWSError) -> JSONValue {
        try await client.call("DescribeTaskDefinition", ["taskDefinition": .string(family)])
    }

    public func describeClusters(_ clusters: [String]) async throws(AWSError) -> JSONValue {
        try await client.call("DescribeClusters", ["clusters": .array(clusters.map { .string($0) })])
    }

    /// Starts the request's tasks. The request is validated first (nothing is sent when it breaks
    /// a limit); `failures` must be read even when no error is thrown. `retry` replaces the
    /// client's policy (a caller with its own back-off, such as the batch ledger, tries once).
    public func runTask(_ request: RunTaskRequest, retry: RetryPolicy? = nil) async throws(AWSError) -> RunTaskResult {
        try request.validate()
        try await fargateRunTaskCalls.take(for: "ecs RunTask")
        for _ in 0..<request.count { try await fargateLaunches.take(for: "ecs RunTask") }
        let out = try await client.call("RunTask", request.json, bucket: taskWrites, retry: retry)
        return RunTaskResult(
            tasks: (out["tasks"]?.arrayValue ?? []).map(ECSTask.init), failures: ECSFailure.list(out["failures"]))
    }

    /// Every task of `tasks`, in calls of at most 100 (the API's limit). Unknown tasks come back as
    /// failures with reason `MISSING`. Tags are included only when asked (a larger answer).
    public func describeTasks(
        cluster: String, tasks: [String], includeTags: Bool = false
    ) async throws(AWSError) -> DescribeTasksResult {
        var result = DescribeTasksResult(tasks: [], failures: [])
        var start = 0
        while start < tasks.count {
            let chunk = tasks[start..<min(start + Self.describeTasksLimit, tasks.count)]
            start += chunk.count
            var input: [String: JSONValue] = ["cluster": .string(cluster), "tasks": .array(chunk.map { .string($0) })]
            if includeTags { input["include"] = ["TAGS"] }
            let out = try await client.call("DescribeTasks", .object(input), bucket: taskReads)
            result.tasks += (out["tasks"]?.arrayValue ?? []).map(ECSTask.init)
            result.failures += ECSFailure.list(out["failures"])
        }
        return result
    }

    /// The ARNs of the cluster's tasks, every page. Without `desiredStatus` ECS lists the tasks
    /// it wants RUNNING. "When you specify startedBy as the filter, it must be the only filter
    /// that you use": real ECS refuses `startedBy` with `desiredStatus` or `family`, so this
    /// refuses it before sending (a run's stopped tasks are found by their ARNs instead).
    /// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html
    public func listTasks(
        cluster: String, startedBy: String? = nil, desiredStatus: ECSTaskStatus? = nil, family: String? = nil
    ) async throws(AWSError) -> [String] {
        if startedBy != nil, desiredStatus != nil || family != nil {
            throw AWSError(
                .invalidRequest,
                "ListTasks: startedBy must be the only filter (ECS refuses it with desiredStatus or family)")
        }
        var arns: [String] = []
        var token: String?
        var seen: Set<String> = []
        repeat {
            var input: [String: JSONValue] = ["cluster": .string(cluster), "maxResults": 100]
            if let startedBy { input["startedBy"] = .string(startedBy) }
            if let desiredStatus { input["desiredStatus"] = .string(desiredStatus.rawValue) }
            if let family { input["family"] = .string(family) }
            if let token { input["nextToken"] = .string(token) }
            let out = try await client.call("ListTasks", .object(input), bucket: taskReads)
            arns += (out["taskArns"]?.arrayValue ?? []).compactMap(\.stringValue)
            token = out["nextToken"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            // A peer that hands back a token it gave before would loop for ever.
            if let t = token, !seen.insert(t).inserted { token = nil }
        } while token != nil
        return arns
    }

    /// Stops a task (SIGTERM, then SIGKILL after the container's stopTimeout). The reason, which
    /// ECS caps at 255 characters, is shortened rather than refused: a stop must not fail on it.
    @discardableResult
    public func stopTask(cluster: String, task: String, reason: String) async throws(AWSError) -> ECSTask {
        let out = try await client.call(
            "StopTask",
            ["cluster": .string(cluster), "task": .string(task), "reason": .string(Self.stopReason(reason))],
            bucket: taskWrites)
        return ECSTask(out["task"] ?? [:])
    }

    static func stopReason(_ reason: String) -> String {
        reason.count <= 255 ? reason : String(reason.prefix(254)) + "…"
    }
}
