import AWS
import Coordinator
import CrawlKit
import Foundation
import JSONKit
import Synchronization

/// The Fargate backend: a task per batch attempt on ECS Fargate, its batch and results on S3, its
/// containers' output in CloudWatch Logs (README, "Fargate"). The scheduler drives it exactly as
/// it drives the local backend; ECS's own rules live here: the clientToken that makes a retried
/// RunTask return the task it started, `failures[]`, launches paced under ECS's token buckets
/// (the ECS client's), one DescribeTasks per 100 live tasks per poll, stop codes read into
/// retry-or-give-up verdicts with a hint (`FargateStopReasons`), and StopTask for every task of
/// the run that is left when it ends.
public final class FargateBackend: TaskBackend {
    public struct Options: Sendable {
        /// How long after its launch a task DescribeTasks calls MISSING is taken for ECS's eventual
        /// consistency (asked again) rather than lost. The RunTask reference advises describing a
        /// new task "starting with a couple of seconds of wait time and increasing gradually up to
        /// five minutes": under load ECS may not know a task it started for longer than 30 s.
        /// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
        public var missingGrace = 300.0
        /// Log copying: the longest wait for a stream's tail, and the quiet period.
        public var logGrace = 30.0
        public var logSettle = 3.0
        /// How long `shutdown` waits for tasks it had to stop to reach STOPPED.
        public var shutdownWait = 60.0
        public init() {}
    }

    public let name = "fargate"
    let job: Job
    let aws: AWSServices
    let options: Options
    let notes: @Sendable (String) -> Void
    let copier: FargateLogCopier
    struct Known: Sendable {
        var batch: String
        var attempt: Int
        var launchedAt: Double
        var stopped: ECSTask?
        var ended = false
    }
    struct State: Sendable {
        var run: String?
        var taskDefinitionArn: String?
        /// Each container's CloudWatch stream prefix (`awslogs-stream-prefix`), from the definition.
        var streamPrefixes: [String: String] = [:]
        var known: [String: Known] = [:]
        var live = 0
        var tokens = FargateLaunch.Tokens()
    }
    let state = Mutex(State())
    /// For the benchmark: DescribeTasks requests and `observe` calls made, and when `shutdown`
    /// began (the scheduler had every result by then).
    let counters = Mutex((describeTasks: 0, observe: 0, shutdownAt: Double?.none))

    public init(
        job: Job, aws: AWSServices, options: Options = Options(), notes: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.job = job
        self.aws = aws
        self.options = options
        self.notes = notes
        var copy = FargateLogCopier.Options()
        copy.grace = options.logGrace
        copy.settle = options.logSettle
        copier = FargateLogCopier(
            logs: aws.logs, s3: aws.s3, group: job.fargate.logGroup, options: copy, notes: notes)
    }

    var cluster: String { job.fargate.cluster }
    public var describeTasksCalls: Int { counters.withLock { $0.describeTasks } }
    public var observeCalls: Int { counters.withLock { $0.observe } }
    public var shutdownStartedAt: Double? { counters.withLock { $0.shutdownAt } }

    /// Fast while tasks start and stop, 2 s in steady state (a stop is seen within 2 s of ECS
    /// saying so); slower only when one poll needs so many DescribeTasks calls (one per 100 live
    /// tasks) that it would use more than half of the API's 20 calls a second.
    public var pollIntervals: PollIntervals {
        let calls = Double(
            (state.withLock { $0.live } + ECSClient.describeTasksLimit - 1) / ECSClient.describeTasksLimit)
        let floor = calls / 10
        return PollIntervals(
            fast: .milliseconds(Int64(max(0.5, floor) * 1000)), steady: .milliseconds(Int64(max(2, floor) * 1000)))
    }

    // MARK: - Preparing the run

    public func prepare(run: RunContext) async throws(RunFailure) {
        let f = job.fargate
        do {
            // The task definition has no awslogs-create-group: the group must exist before a task.
            do {
                try await aws.logs.createLogGroup(f.logGroup)
            } catch  where error.category == .accessDenied {
                // Made by someone else (the CloudFormation stack)? This caller may only read it.
                _ = try await aws.logs.describeLogStreams(group: f.logGroup, limit: 1)
            }
        } catch {
            throw RunFailure(
                "the log group \(f.logGroup) could not be ensured", cause: "\(error) (crawlrun doctor JOB checks it)")
        }
        if !f.capacityProviders.isEmpty {
            let cluster: JSONValue?
            do {
                cluster = try await aws.ecs.describeClusters([f.cluster])["clusters"]?.arrayValue?.first
            } catch {
                throw RunFailure(
                    "the cluster \(f.cluster) could not be described", cause: "\(error) (crawlrun doctor JOB checks it)"
                )
            }
            if let cluster, let problem = FargateCapacity.problem(job, cluster: cluster) {
                throw RunFailure(problem.message, cause: problem.fix)
            }
        }
        let registered: TaskDefinitionRegistry.Registered
        do {
            registered = try await TaskDefinitionRegistry.ensure(run.taskDefinition, ecs: aws.ecs)
        } catch {
            throw RunFailure(
                "the task definition could not be registered", cause: "\(error) (crawlrun doctor JOB checks it)")
        }
        let prefixes = FargateLogStreams.prefixes(run.taskDefinition)
        state.withLock {
            $0.run = run.id
            $0.taskDefinitionArn = registered.arn
            $0.streamPrefixes = prefixes
        }
        notes(
            "task definition \(registered.arn.split(separator: "/").last ?? "")"
                + (registered.reused ? " (an identical revision, reused)" : " registered"))
    }

    // MARK: - Batches and results on S3

    public func locations(run: RunContext, batch: String, attempt: Int) -> TaskLocations {
        FargateLayout.locations(job: run.job, run: run.id, batch: batch, attempt: attempt)
    }

    public func putBatch(_ bytes: [UInt8], at location: String) async throws(RunFailure) {
        let object = try Self.object(location)
        do {
            try await aws.s3.putObject(object, body: Data(bytes), contentType: "application/json")
        } catch {
            throw RunFailure("the batch file \(location) could not be stored", cause: error.description)
        }
    }

    public func readResults(at location: String) async throws(RunFailure) -> [UInt8]? {
        let object = try Self.object(location)
        do {
            return [UInt8](try await aws.s3.getObject(object))
        } catch  where error.category == .notFound {
            return nil
        } catch  where error.category == .accessDenied {
            // S3 answers 403, not 404, for a missing key when the caller may not s3:ListBucket
            // it, and the coordinator may list only the job's prefix: a ListBucket condition on
            // s3:prefix never matches a GetObject. Listing the key itself tells a task that wrote
            // nothing from a real permission problem.
            // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Permissions)
            if let listed = try? await aws.s3.listObjectsPage(bucket: object.bucket, prefix: object.key, maxKeys: 1),
                !listed.objects.contains(where: { $0.key == object.key })
            {
                return nil
            }
            throw RunFailure(
                "the results \(location) could not be read",
                cause:
                    "\(error.description): the coordinator needs s3:GetObject on the job's prefix (crawlrun iam-policy JOB)"
            )
        } catch {
            throw RunFailure("the results \(location) could not be read", cause: error.description)
        }
    }

    static func object(_ location: String) throws(RunFailure) -> S3Location {
        guard let object = S3Location(uri: location) else {
            throw RunFailure("\(location) is not an s3://BUCKET/KEY location", cause: "check fargate.bucket")
        }
        return object
    }

    // MARK: - Launching

    public func launch(_ launch: TaskLaunch) async throws(LaunchError) -> String {
        guard let arn = state.withLock({ $0.taskDefinitionArn }) else {
            throw .fatal(RunFailure("the task definition is not registered (prepare did not run)"))
        }
        if let problem = FargateLaunch.overridesProblem(launch) {
            throw .fatal(
                RunFailure(
                    problem,
                    cause:
                        "they hold only the batch's S3 keys: shorten fargate.bucket, fargate.prefix or the job's name"))
        }
        // One try: the ledger backs off and comes back with the same token.
        var once = RetryPolicy()
        once.maxAttempts = 1
        let result: RunTaskResult
        var sent = launch
        sent.token = state.withLock { $0.tokens.token(for: launch.token) }
        do {
            result = try await aws.ecs.runTask(
                FargateLaunch.request(sent, job: job, taskDefinitionArn: arn), retry: once)
        } catch {
            if error.code == "ConflictException" { state.withLock { $0.tokens.spent(launch.token) } }
            throw FargateLaunch.error(error, launch: launch, job: job)
        }
        if result.tasks.isEmpty { state.withLock { $0.tokens.spent(launch.token) } }
        switch FargateLaunch.outcome(result, launch: launch) {
        case .success(let task):
            remember(task.taskArn, batch: launch.batch, attempt: launch.attempt)
            return task.taskArn
        case .failure(let error):
            throw error
        }
    }

    private func remember(_ arn: String, batch: String, attempt: Int) {
        state.withLock { s in
            if s.known[arn] == nil { s.live += 1 }
            s.known[arn] = Known(batch: batch, attempt: attempt, launchedAt: Timestamp.epochSeconds())
        }
    }

    // MARK: - Watching

    public func observe(_ tasks: [String]) async -> [String: TaskPhase] {
        counters.withLock {
            $0.observe += 1
            $0.describeTasks += (tasks.count + ECSClient.describeTasksLimit - 1) / ECSClient.describeTasksLimit
        }
        let described: DescribeTasksResult
        do {
            described = try await aws.ecs.describeTasks(cluster: cluster, tasks: tasks)
        } catch {
            return Dictionary(tasks.map { ($0, TaskPhase.lostContact(error.description)) }) { a, _ in a }
        }
        var phases: [String: TaskPhase] = [:]
        let now = Timestamp.epochSeconds()
        for failure in described.failures {
            guard let arn = failure.arn else { continue }
            let launchedAt = state.withLock { $0.known[arn]?.launchedAt } ?? 0
            if !failure.isMissing {
                phases[arn] = .lostContact(failure.description)
            } else if now - launchedAt < options.missingGrace {
                phases[arn] = .lostContact("ECS does not list it yet (MISSING)")
            } else {
                phases[arn] = .missing
                ended(arn, as: nil)
            }
        }
        for task in described.tasks {
            let phase = FargateStopReasons.phase(of: task, assignPublicIp: job.fargate.assignPublicIp)
            phases[task.taskArn] = phase
            if case .stopped = phase { ended(task.taskArn, as: task) }
        }
        for arn in tasks where phases[arn] == nil { phases[arn] = .lostContact("not in DescribeTasks' answer") }
        return phases
    }

    /// A task is over: stopped (its last description kept for the log copy) or MISSING.
    private func ended(_ arn: String, as task: ECSTask?) {
        state.withLock { s in
            guard var known = s.known[arn] else { return }
            if !known.ended { s.live -= 1 }
            known.ended = true
            known.stopped = task ?? known.stopped
            s.known[arn] = known
        }
    }

    /// A task whose crawler exited 0 has its uploaded log copied (one S3 GET); any other task,
    /// or a missing upload, each container's CloudWatch stream (`FargateLogCopier`).
    public func collectLogs(task arn: String, into directory: String) async throws(RunFailure) {
        let (known, run) = state.withLock { ($0.known[arn], $0.run) }
        var task = known?.stopped
        if task == nil {
            task = try? await aws.ecs.describeTasks(cluster: cluster, tasks: [arn]).tasks.first
        }
        guard let task else {
            let file = ContainerLog(path: directory + "/\(TaskDefinition.crawlerName).log")
            file.note("task \(arn): ECS no longer knows it (MISSING): its logs could not be located")
            file.close()
            return
        }
        let prefixes = state.withLock { $0.streamPrefixes }
        var uploaded: S3Location?
        if task.container(TaskDefinition.crawlerName)?.exitCode == 0, let known, let run {
            let results = FargateLayout.locations(job: job, run: run, batch: known.batch, attempt: known.attempt).out
            uploaded = S3Location(uri: CrawlerLogLocation.beside(results: results))
        }
        await copier.enqueue(task, into: directory, streamPrefixes: prefixes, uploaded: uploaded)
    }

    // MARK: - Stopping

    public func stop(task: String, reason: String) async throws(RunFailure) {
        do {
            try await aws.ecs.stopTask(cluster: cluster, task: task, reason: reason)
        } catch  where error.category == .invalidParameter && error.message.contains("not found") {
            // Gone already: nothing to stop.
        } catch {
            throw RunFailure("StopTask failed", cause: error.description)
        }
    }
}
