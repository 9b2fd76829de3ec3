import AWS
import Coordinator
import CrawlKit
import FargateBackend
import Foundation
import JSONKit
import Testing

/// How a stopped Fargate task is read: each ECS stop as DescribeTasks reports it (shapes from the
/// stopped-task error pages), and the verdict the ledger acts on.
@Suite struct FargateStopReasonsTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var stopCode: String
        var stoppedReason: String
        var crawler: (exit: Int?, reason: String?)
        var sidecar: (exit: Int?, reason: String?)
        var assignPublicIp = false
        var retryable: Bool
        /// Words the hint must hold; nil: no hint.
        var hint: String?
        var testDescription: String { name }
    }

    static let pull =
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref selenium/standalone-chrome:4.27.0: failed to do request: Head \"https://registry-1.docker.io/v2/\": dial tcp 44.1.2.3:443: i/o timeout"

    static let cases: [Case] = [
        Case(
            name: "crawler done", stopCode: "EssentialContainerExited",
            stoppedReason: "Essential container in task exited", crawler: (0, nil), sidecar: (143, nil),
            retryable: true,
            hint: nil),
        Case(
            name: "pull timeout in a private subnet", stopCode: "TaskFailedToStart", stoppedReason: pull,
            crawler: (nil, pull), sidecar: (nil, pull), retryable: true,
            hint: "no route to the registry: NAT gateway, VPC endpoints for ECR and S3, or assignPublicIp"),
        Case(
            name: "pull timeout with a public IP", stopCode: "TaskFailedToStart", stoppedReason: pull,
            crawler: (nil, pull), sidecar: (nil, pull), assignPublicIp: true, retryable: true,
            hint: "route 0.0.0.0/0 to an internet gateway"),
        Case(
            name: "image not found", stopCode: "TaskFailedToStart",
            stoppedReason:
                "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 1234.dkr.ecr.us-east-1.amazonaws.com/crawler:2.0: not found",
            crawler: (nil, nil), sidecar: (nil, nil), retryable: false, hint: "task.crawlerImage"),
        Case(
            name: "log group missing", stopCode: "TaskFailedToStart",
            stoppedReason:
                "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist.",
            crawler: (nil, nil), sidecar: (nil, nil), retryable: false, hint: "fargate.logGroup"),
        Case(
            name: "secrets unreachable", stopCode: "TaskFailedToStart",
            stoppedReason:
                "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post \"https://api.ecr.us-east-1.amazonaws.com/\": dial tcp 10.0.0.1:443: i/o timeout",
            crawler: (nil, nil), sidecar: (nil, nil), retryable: true, hint: "no route to the registry"),
        Case(
            name: "network interface", stopCode: "TaskFailedToStart",
            stoppedReason: "Timeout waiting for network interface provisioning to complete.", crawler: (nil, nil),
            sidecar: (nil, nil), retryable: true, hint: "free IP addresses"),
        Case(
            name: "Spot interruption", stopCode: "SpotInterruption", stoppedReason: "Your Spot Task was interrupted.",
            crawler: (75, nil), sidecar: (143, nil), retryable: true, hint: "FARGATE_SPOT"),
        Case(
            name: "Spot interruption after the crawler finished", stopCode: "SpotInterruption",
            stoppedReason: "Your Spot Task was interrupted.", crawler: (0, nil), sidecar: (143, nil),
            retryable: true, hint: nil),
        Case(
            name: "out of memory", stopCode: "EssentialContainerExited",
            stoppedReason: "Essential container in task exited",
            crawler: (137, nil), sidecar: (137, "OutOfMemoryError: Container killed due to memory usage"),
            retryable: true, hint: "raise task.memory"),
        Case(
            name: "sidecar never healthy", stopCode: "TaskFailedToStart",
            stoppedReason: "Task failed container health checks", crawler: (nil, nil), sidecar: (1, nil),
            retryable: true, hint: "never became healthy"),
        // Issue 19 item 13: Docker Hub's rate limit is its own failure, not a missing route.
        Case(
            name: "Docker Hub rate limit", stopCode: "TaskFailedToStart",
            stoppedReason:
                "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/selenium/standalone-chrome/manifests/sha256:abc: 429 Too Many Requests - Server message: toomanyrequests: You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit",
            crawler: (nil, nil), sidecar: (nil, nil), retryable: true, hint: "toomanyrequests"),
        // Issue 19 item 8: what the ECS agent reports when the sidecar's startTimeout passes
        // (dependencygraph/graph.go, task_manager.go handleTerminalDependencyError).
        Case(
            name: "sidecar never healthy within its startTimeout", stopCode: "EssentialContainerExited",
            stoppedReason: "Essential container in task exited",
            crawler: (
                143,
                "CannotStartContainerError: dependency graph: container ordering dependency [webdriver(selenium/standalone-chrome:4.27.0-20241225) (RUNNING->RUNNING)] for target [crawler(crawlrun/crawler:latest) (PULLED->RUNNING)] has timed out."
            ), sidecar: (143, nil), retryable: true, hint: "startTimeout of 120 s"),
        Case(
            name: "crawler killed", stopCode: "EssentialContainerExited",
            stoppedReason: "Essential container in task exited", crawler: (137, nil), sidecar: (143, nil),
            retryable: true, hint: "SIGKILL"),
        Case(
            name: "crawler without an exit code", stopCode: "EssentialContainerExited",
            stoppedReason: "Essential container in task exited", crawler: (nil, nil), sidecar: (1, nil),
            retryable: true, hint: "sidecar exited (1)"),
        Case(
            name: "bad batch input", stopCode: "EssentialContainerExited",
            stoppedReason: "Essential container in task exited", crawler: (65, nil), sidecar: (143, nil),
            retryable: false, hint: "s3:GetObject"),
        Case(
            name: "results not written", stopCode: "EssentialContainerExited",
            stoppedReason: "Essential container in task exited", crawler: (73, nil), sidecar: (143, nil),
            retryable: true, hint: "s3:PutObject"),
        Case(
            name: "our provisioning timeout", stopCode: "UserInitiated",
            stoppedReason: "still not running 600 s after its launch", crawler: (nil, nil), sidecar: (nil, nil),
            retryable: true, hint: "fargate.provisioningTimeout"),
        Case(
            name: "stopped by us", stopCode: "UserInitiated", stoppedReason: "SIGINT", crawler: (75, nil),
            sidecar: (143, nil), retryable: true, hint: nil),
        Case(
            name: "an unknown stop code", stopCode: "SomethingNew", stoppedReason: "host maintenance",
            crawler: (143, nil), sidecar: (143, nil), retryable: true, hint: nil),
    ]

    static func named(_ name: String) -> Case {
        guard let c = cases.first(where: { $0.name == name }) else { fatalError("no case \(name)") }
        return c
    }

    static func task(_ c: Case) -> ECSTask {
        func container(_ name: String, _ exit: Int?, _ reason: String?) -> JSONValue {
            var o: [String: JSONValue] = ["name": .string(name), "lastStatus": "STOPPED"]
            if let exit { o["exitCode"] = .number(Double(exit)) }
            if let reason { o["reason"] = .string(reason) }
            return .object(o)
        }
        return ECSTask(
            [
                "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/crawlers/0123abcd", "lastStatus": "STOPPED",
                "stopCode": .string(c.stopCode), "stoppedReason": .string(c.stoppedReason),
                "pullStartedAt": .number(1_700_000_000.5), "startedAt": 1_700_000_010,
                "stoppedAt": .number(1_700_000_100.25),
                "capacityProviderName": "FARGATE_SPOT",
                "containers": [
                    container("webdriver", c.sidecar.exit, c.sidecar.reason),
                    container("crawler", c.crawler.exit, c.crawler.reason),
                ],
            ])
    }

    @Test(arguments: cases) func verdict(_ c: Case) {
        let end = FargateStopReasons.end(of: Self.task(c), assignPublicIp: c.assignPublicIp)
        #expect(end.retryable == c.retryable, "\(c.name): \(end.reason)")
        if let hint = c.hint {
            #expect(end.hint?.contains(hint) == true, "\(c.name): \(end.hint ?? "no hint")")
        } else {
            #expect(end.hint == nil, "\(c.name): \(end.hint ?? "")")
        }
        #expect(end.stopCode == StopCode(rawValue: c.stopCode) ?? .unknown)
        #expect(end.exitCode(of: "crawler") == c.crawler.exit.map { Int32($0) }, "an absent exit code stays absent")
        #expect(
            end.timing
                == TaskTiming(pullStartedAt: 1_700_000_000.5, startedAt: 1_700_000_010, stoppedAt: 1_700_000_100.25))
        #expect(end.capacityProvider == "FARGATE_SPOT")
    }

    /// A task whose crawler finished its batch (exit 0, every record there) is no infrastructure
    /// failure, whatever stopped the task after it: a Spot reclaim or our own stop of a task that
    /// had just ended its work. Missing records still make it one.
    @Test(arguments: ["EssentialContainerExited", "SpotInterruption", "UserInitiated"])
    func aFinishedCrawlerIsNoInfrastructureFailure(stopCode: String) {
        let c = Case(
            name: stopCode, stopCode: stopCode, stoppedReason: "stopped", crawler: (0, nil), sidecar: (143, nil),
            retryable: true)
        let end = FargateStopReasons.end(of: Self.task(c), assignPublicIp: false)
        #expect(end.hint == nil)
        #expect(BatchLedger.infrastructureProblem(end, missing: 0) == nil)
        #expect(BatchLedger.infrastructureProblem(end, missing: 2)?.contains("2 URLs without a record") == true)
    }

    @Test func theReasonNamesWhatEachContainerSaid() {
        let pulled = FargateStopReasons.end(
            of: Self.task(Self.named("pull timeout in a private subnet")), assignPublicIp: false)
        #expect(pulled.reason == Self.pull, "the same words once, not once per container")
        let oom = FargateStopReasons.end(of: Self.task(Self.named("out of memory")), assignPublicIp: false)
        #expect(
            oom.reason
                == "Essential container in task exited; webdriver: OutOfMemoryError: Container killed due to memory usage (webdriver exited 137, crawler exited 137)"
        )
        let ok = FargateStopReasons.end(of: Self.task(Self.named("crawler done")), assignPublicIp: false)
        #expect(BatchLedger.infrastructureProblem(ok, missing: 0) == nil, "a crawler that exited 0 did its job")
        let killed = FargateStopReasons.end(of: Self.task(Self.named("crawler killed")), assignPublicIp: false)
        #expect(BatchLedger.infrastructureProblem(killed, missing: 3) == "crawler was killed (SIGKILL)")
    }

    @Test func phasesFollowLastStatus() {
        func phase(_ status: String, started: Bool = false) -> TaskPhase {
            var o: [String: JSONValue] = ["taskArn": "arn:t", "lastStatus": .string(status)]
            if started { o["startedAt"] = 1 }
            return FargateStopReasons.phase(of: ECSTask(.object(o)), assignPublicIp: false)
        }
        #expect(["PROVISIONING", "PENDING", "ACTIVATING"].allSatisfy { phase($0) == .starting })
        #expect(phase("RUNNING") == .running)
        #expect(phase("STOPPING") == .starting, "stopped before it ever ran")
        #expect(phase("DEPROVISIONING", started: true) == .running)
        if case .stopped = phase("STOPPED") {} else { Issue.record("STOPPED is stopped") }
    }

    /// Issue 19 item 13: Docker Hub's toomanyrequests waits before the next attempt; a missing
    /// route does not.
    @Test func aRateLimitedPullWaitsBeforeItsNextAttempt() {
        let limited = FargateStopReasons.verdict(
            .init(
                stopCode: "TaskFailedToStart",
                text:
                    "CannotPullContainerError: … 429 Too Many Requests - Server message: toomanyrequests: You have reached your unauthenticated pull rate limit"
            ))
        #expect(limited.rule == "registry rate limit" && limited.verdict.retryAfter == 300)
        let noRoute = FargateStopReasons.verdict(.init(stopCode: "TaskFailedToStart", text: Self.pull))
        #expect(noRoute.rule == "no route to the registry" && noRoute.verdict.retryAfter == nil)
    }
}
