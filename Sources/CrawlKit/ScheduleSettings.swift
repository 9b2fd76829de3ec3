import JSONKit

/// The job's `fargate.schedule` block: what a scheduled run needs beyond a Fargate run — the
/// coordinator task's role and size, the role EventBridge Scheduler acts as, and the schedule
/// group (one per project). README, "Scheduled runs on AWS".
public struct ScheduleSettings: Sendable, Equatable {
    /// The coordinator task's role: runs the job (ECS, Logs, S3, PutEvents).
    public var coordinatorRoleArn: String?
    /// The role EventBridge Scheduler assumes to RunTask the coordinator.
    public var schedulerRoleArn: String?
    /// nil: the job's crawler image, which also carries `crawlrun` (images/crawler/Dockerfile).
    public var coordinatorImage: String?
    /// 0.25 vCPU / 0.5 GB: the coordinator waits on the network most of the time.
    public var cpu = 256
    public var memory = 512
    public var group = "crawlrun"
    /// nil: `s3://BUCKET/PREFIX<job>/runs` from the fargate block.
    public var runsDir: String?
    /// Extra environment of the coordinator container (CRAWLRUN_LEASE_SECONDS, NO_COLOR, …).
    public var environment: [String: String] = [:]

    public init() {}

    static let shape: Shape = .object([
        "coordinatorRoleArn": .nonEmptyString, "schedulerRoleArn": .nonEmptyString, "coordinatorImage": .nonEmptyString,
        "cpu": .integer(min: 256, max: 4096), "memory": .integer(min: 512, max: 30720), "group": .nonEmptyString,
        "runsDir": .nonEmptyString, "environment": .map(.string),
    ])

    init(_ v: JSONValue?) {
        guard let v else { return }
        coordinatorRoleArn = v["coordinatorRoleArn"]?.stringValue
        schedulerRoleArn = v["schedulerRoleArn"]?.stringValue
        coordinatorImage = v["coordinatorImage"]?.stringValue
        cpu = v["cpu"]?.intValue ?? cpu
        memory = v["memory"]?.intValue ?? memory
        group = v["group"]?.stringValue ?? group
        runsDir = v["runsDir"]?.stringValue
        environment = v["environment"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
    }

    /// What `crawlrun schedule` needs from the block, each problem at its JSON path.
    public func problems() -> [JobProblem] {
        var out: [JobProblem] = []
        for (key, arn) in [("coordinatorRoleArn", coordinatorRoleArn), ("schedulerRoleArn", schedulerRoleArn)] {
            guard let arn else {
                out.append(JobProblem("fargate.schedule.\(key)", "required to schedule the job (an IAM role ARN)"))
                continue
            }
            if !(arn.hasPrefix("arn:") && arn.contains(":iam::") && arn.contains(":role/")) {
                out.append(
                    JobProblem(
                        "fargate.schedule.\(key)", "\"\(arn)\" is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
                )
            }
        }
        if let memory = FargateSizes.memoryChoices(cpu: cpu), !memory.contains(self.memory) {
            out.append(
                JobProblem(
                    "fargate.schedule.memory",
                    "\(self.memory) MiB is not valid with cpu \(cpu); choose \(FargateSizes.describe(memory))"))
        } else if FargateSizes.memoryChoices(cpu: cpu) == nil {
            out.append(
                JobProblem("fargate.schedule.cpu", "\(cpu) is not a Fargate size; choose 256, 512, 1024, 2048 or 4096"))
        }
        let allowed = group.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        if !allowed || group.count > 64 {
            out.append(JobProblem("fargate.schedule.group", "1 to 64 letters, digits, - _ or ., not \"\(group)\""))
        }
        return out
    }
}
