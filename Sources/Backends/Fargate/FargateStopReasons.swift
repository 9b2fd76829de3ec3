import AWS
import Coordinator
import CrawlKit

/// How a stopped Fargate task ended, in the scheduler's terms: ECS's stop code and reasons read
/// into a `TaskEnd` whose `retryable` says whether another attempt can help and whose `hint`
/// says what a user can do. Success is judged by the crawler container alone: the sidecar ends
/// with 143 after the SIGTERM that follows the crawler's exit.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html
public enum FargateStopReasons {
    /// What the rules look at: the task's stop code, its stopped reason and its containers'
    /// reasons in one text, the two containers' exit codes, and the job's network choice.
    public struct Facts: Sendable {
        public var stopCode: String?
        public var text: String
        public var crawlerExit: Int?
        public var sidecarExit: Int?
        public var assignPublicIp: Bool

        public init(
            stopCode: String?, text: String, crawlerExit: Int? = nil, sidecarExit: Int? = nil,
            assignPublicIp: Bool = false
        ) {
            self.stopCode = stopCode
            self.text = text
            self.crawlerExit = crawlerExit
            self.sidecarExit = sidecarExit
            self.assignPublicIp = assignPublicIp
        }

        func says(_ words: String...) -> Bool { says(words) }
        func says(_ words: [String]) -> Bool { words.contains { text.localizedCaseInsensitiveContains($0) } }
    }

    /// A rule's verdict: another attempt may help or not, and the user's fix.
    public struct Verdict: Sendable, Equatable {
        public var retryable: Bool
        public var hint: String?
        /// Seconds before the next attempt; nil: at once.
        public var retryAfter: Double? = nil
    }

    /// The rules, first match wins. Each is a predicate on the facts and its verdict.
    static let rules: [(name: String, matches: @Sendable (Facts) -> Bool, verdict: @Sendable (Facts) -> Verdict)] = [
        // First: a crawler that finished its batch did its job, whatever stopped the task after
        // it (a Spot reclaim, our stop of a task that had just ended); no hint to act on.
        ("crawler done", { $0.crawlerExit == 0 }, { _ in Verdict(retryable: true, hint: nil) }),
        // The sidecar's startTimeout passed before it was HEALTHY: the agent stops the crawler
        // (143, "CannotStartContainerError: dependency graph: container ordering dependency
        // [webdriver…] for target [crawler…] has timed out.") and the task ends.
        (
            "sidecar never healthy",
            { $0.says("dependency graph") && $0.says("has timed out", "timed out") },
            { _ in sidecarNeverHealthy }
        ),
        // Docker Hub's pull rate limit (10 anonymous pulls an hour per address; every task pulls
        // its images, tasks behind one NAT share it): not a route problem, and it passes with time.
        // https://docs.docker.com/docker-hub/usage/
        (
            "registry rate limit",
            {
                $0.says("CannotPullContainerError")
                    && $0.says("toomanyrequests", "pull rate limit", "429 Too Many Requests")
            },
            { _ in
                Verdict(
                    retryable: true,
                    hint:
                        "the registry refused the pull (toomanyrequests: Docker Hub allows 10 anonymous pulls an hour per address): serve the images from the account's ECR, a pull-through cache rule or a copy (crawlrun doctor JOB checks; README, \"Images from ECR\")",
                    retryAfter: registryRateLimitBackoff
                )
            }
        ),
        (
            "image missing or not allowed",
            { $0.says("CannotPullContainerError") && $0.says(imageRefused) },
            { _ in
                Verdict(
                    retryable: false,
                    hint:
                        "the image cannot be pulled: check that task.crawlerImage and task.sidecarImage exist with that tag, and that the execution role may pull them (AmazonECSTaskExecutionRolePolicy)"
                )
            }
        ),
        (
            "no route to the registry", { $0.says("CannotPullContainerError") },
            { Verdict(retryable: true, hint: noRoute($0)) }
        ),
        (
            "execution role denied",
            { $0.says("ResourceInitializationError") && $0.says("AccessDenied") },
            { _ in
                Verdict(
                    retryable: false,
                    hint:
                        "ECS was denied with the execution role: attach the execution role policy `crawlrun iam-policy JOB` prints to fargate.executionRoleArn"
                )
            }
        ),
        (
            "log group missing",
            { $0.says("ResourceInitializationError") && $0.says("log group", "ResourceNotFoundException") },
            { _ in
                Verdict(
                    retryable: false,
                    hint:
                        "the task's log group does not exist: create fargate.logGroup (crawlrun run and crawlrun doctor JOB create it)"
                )
            }
        ),
        (
            "resources not reachable",
            { $0.says("ResourceInitializationError") && $0.says("timeout", "deadline exceeded", "dial tcp") },
            { Verdict(retryable: true, hint: noRoute($0)) }
        ),
        (
            "resource initialization",
            { $0.says("ResourceInitializationError") },
            { _ in
                Verdict(
                    retryable: true,
                    hint:
                        "ECS could not prepare the task (network interface, logs, secrets): crawlrun doctor JOB checks the set-up"
                )
            }
        ),
        (
            "network interface",
            { $0.says("network interface provisioning") },
            { _ in
                Verdict(
                    retryable: true,
                    hint:
                        "no network interface in time: the subnets may be out of free IP addresses or the account at its ENI quota; add subnets or lower fargate.maxConcurrentTasks"
                )
            }
        ),
        (
            "Spot interruption", { $0.stopCode == "SpotInterruption" },
            { _ in
                Verdict(
                    retryable: true,
                    hint:
                        "FARGATE_SPOT took the capacity back; a FARGATE base or weight in fargate.capacityProviders makes this rarer"
                )
            }
        ),
        (
            "out of memory", { $0.says("OutOfMemoryError", "OutOfMemory") },
            { _ in
                Verdict(
                    retryable: true, hint: "a container ran out of memory: raise task.memory or lower crawl.sessions")
            }
        ),
        (
            "sidecar unhealthy", { $0.stopCode == "TaskFailedToStart" && $0.says("health check") },
            { _ in sidecarNeverHealthy }
        ),
        (
            "provisioning timeout", { $0.stopCode == "UserInitiated" && $0.says("still not running") },
            { _ in
                Verdict(
                    retryable: true,
                    hint:
                        "Fargate did not start the task within fargate.provisioningTimeout: capacity may be short in the subnets' zones (more subnets in other zones help)"
                )
            }
        ),
        (
            "bad batch input", { $0.crawlerExit.map { Int32($0) } == CrawlerExitCode.badInput.rawValue },
            { _ in
                Verdict(
                    retryable: false,
                    hint:
                        "the crawler could not read its batch: the task role needs s3:GetObject on the run's batches (crawlrun iam-policy JOB prints the policy)"
                )
            }
        ),
        (
            "results not written", { $0.crawlerExit.map { Int32($0) } == CrawlerExitCode.outputFailed.rawValue },
            { _ in
                Verdict(
                    retryable: true,
                    hint:
                        "the crawler could not write its results: the task role needs s3:PutObject on the run's results (crawlrun iam-policy JOB prints the policy)"
                )
            }
        ),
        (
            "crawler killed", { $0.crawlerExit == 137 && $0.stopCode != "UserInitiated" },
            { _ in
                Verdict(retryable: true, hint: "the crawler was killed (SIGKILL): out of memory? raise task.memory")
            }
        ),
        (
            "sidecar exited",
            { f in
                f.stopCode == "EssentialContainerExited" && f.sidecarExit.map { $0 != 143 && $0 != 0 } == true
                    && f.crawlerExit != 0
            },
            { f in
                Verdict(
                    retryable: true,
                    hint:
                        "the WebDriver sidecar exited (\(f.sidecarExit.map(String.init) ?? "?")) first: the browser may have crashed or run out of memory"
                )
            }
        ),
    ]

    /// Docker Hub's anonymous limit refills over the hour (10 pulls): the next attempt waits.
    public static let registryRateLimitBackoff = 300.0

    static let sidecarNeverHealthy = Verdict(
        retryable: true,
        hint:
            "the WebDriver sidecar never became healthy (ECS gave up after its startTimeout of \(TaskDefinition.sidecarStartTimeout) s): check task.sidecarImage, and task.memory for the browser"
    )

    /// Words of a pull refused for good (the image or tag does not exist, or the role may not
    /// pull it), as registries and ECS put them.
    static let imageRefused = [
        "not found", "manifest unknown", "repository does not exist", "pull access denied", "access denied",
        "403 Forbidden", "unauthorized", "no basic auth credentials",
    ]

    /// The hint for a task that could not reach ECR or S3 from its subnet: the commonest first-run
    /// failure (README, "AWS set-up"; `crawlrun doctor` checks the routes).
    static func noRoute(_ f: Facts) -> String {
        f.assignPublicIp
            ? "no route to the registry: with assignPublicIp the subnet needs a route 0.0.0.0/0 to an internet gateway; else a NAT gateway or VPC endpoints for ECR and S3 (crawlrun doctor JOB checks the subnets)"
            : "no route to the registry: NAT gateway, VPC endpoints for ECR and S3, or assignPublicIp (crawlrun doctor JOB checks the subnets)"
    }

    /// The verdict for these facts: the first matching rule's, else "worth another attempt".
    public static func verdict(_ facts: Facts) -> (rule: String?, verdict: Verdict) {
        for rule in rules where rule.matches(facts) { return (rule.name, rule.verdict(facts)) }
        return (nil, Verdict(retryable: true, hint: nil))
    }

    /// A STOPPED task as the scheduler's `TaskEnd`.
    public static func end(of task: ECSTask, assignPublicIp: Bool) -> TaskEnd {
        let crawler = task.container(TaskDefinition.crawlerName)
        let sidecar = task.container(TaskDefinition.sidecarName)
        let stopped = task.stoppedReason ?? task.stopCode?.rawValue ?? "stopped"
        var reason = stopped
        var said: Set<String> = [stopped]
        // The containers' own words when they add to the task's (a pull error, an OOM kill).
        for c in task.containers {
            guard let text = c.reason, !stopped.contains(text), said.insert(text).inserted else { continue }
            reason += "; \(c.name): \(text)"
        }
        let reasons = task.containers.compactMap(\.reason)
        let exits = task.containers.compactMap { c in c.exitCode.map { "\(c.name) exited \($0)" } }
        if task.stopCode == .essentialContainerExited, !exits.isEmpty {
            reason += " (" + exits.joined(separator: ", ") + ")"
        }
        let facts = Facts(
            stopCode: task.stopCode?.rawValue, text: ([stopped] + reasons).joined(separator: "\n"),
            crawlerExit: crawler?.exitCode, sidecarExit: sidecar?.exitCode, assignPublicIp: assignPublicIp)
        let verdict = verdict(facts).verdict
        return TaskEnd(
            stopCode: task.stopCode.flatMap { StopCode(rawValue: $0.rawValue) } ?? .unknown, reason: reason,
            containers: task.containers.map {
                ContainerExit(name: $0.name, exitCode: $0.exitCode.map { Int32(clamping: $0) }, reason: $0.reason)
            },
            timing: TaskTiming(
                pullStartedAt: task.pullStartedAt?.timeIntervalSince1970,
                startedAt: task.startedAt?.timeIntervalSince1970, stoppedAt: task.stoppedAt?.timeIntervalSince1970),
            // A task started with the FARGATE launch type runs on FARGATE's (on-demand) capacity.
            capacityProvider: task.capacityProviderName ?? (task.launchType == "FARGATE" ? "FARGATE" : nil),
            hint: verdict.hint, retryable: verdict.retryable, retryAfter: verdict.retryAfter)
    }

    /// Where a task is, from its lastStatus. A task that is stopping counts as running only once
    /// it has run (a task stopped while still provisioning is still "starting").
    public static func phase(of task: ECSTask, assignPublicIp: Bool) -> TaskPhase {
        switch task.lastStatus {
        case .stopped?: return .stopped(end(of: task, assignPublicIp: assignPublicIp))
        case .running?: return .running
        case .deactivating?, .stopping?, .deprovisioning?: return task.startedAt == nil ? .starting : .running
        default: return .starting
        }
    }
}
