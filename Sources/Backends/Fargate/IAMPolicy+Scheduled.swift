import CrawlKit
import JSONKit

/// The policies of a scheduled run (`crawlrun iam-policy JOB --scheduled`): the coordinator
/// task's role and EventBridge Scheduler's role, each with its trust policy.
extension IAMPolicy {
    public static func scheduledDocuments(_ job: Job) -> [(key: String, title: String, policy: JSONValue)] {
        let s = job.fargate.schedule
        return [
            (
                "coordinatorTaskRole",
                "Coordinator task role policy (attach to \(s.coordinatorRoleArn ?? "fargate.schedule.coordinatorRoleArn"))",
                coordinatorTaskRole(job)
            ),
            ("coordinatorTaskRoleTrust", "Coordinator task role trust policy", trust("ecs-tasks.amazonaws.com", job)),
            (
                "schedulerRole",
                "Scheduler role policy (attach to \(s.schedulerRoleArn ?? "fargate.schedule.schedulerRoleArn"))",
                schedulerRole(job)
            ),
            ("schedulerRoleTrust", "Scheduler role trust policy", trust("scheduler.amazonaws.com", job)),
            (
                "scheduling", "Scheduling policy (attach to the user or role that runs crawlrun schedule)",
                scheduling(job)
            ),
        ]
    }

    /// What `crawlrun run … --events` does in the coordinator task: everything the coordinator
    /// policy allows (run, watch and stop the batch tasks, pass their two roles, the job's logs
    /// and S3 prefix, which holds the uploaded job and the runs directory), and one event on the
    /// default bus when the run ends.
    /// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html
    public static func coordinatorTaskRole(_ job: Job) -> JSONValue {
        let (partition, account) = account(job)
        let region = job.fargate.region ?? "*"
        return appending(
            [
                [
                    "Sid": "RunFinishedEvent", "Effect": "Allow", "Action": ["events:PutEvents"],
                    "Resource": .string("arn:\(partition):events:\(region):\(account):event-bus/default"),
                    "Condition": ["StringEquals": ["events:source": "crawlrun"]],
                ],
                missingKeysAre404(job, partition: partition),
            ], to: coordinator(job))
    }

    /// The job's lease (`runs/locks/<job>.json`) is read before it exists: S3 answers a GetObject
    /// of a missing key 404 only to a caller that may s3:ListBucket the bucket, and a ListBucket
    /// statement conditioned on s3:prefix does not count (a GetObject has no prefix): otherwise
    /// 403, which reads as "denied", and the first scheduled run could never start.
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Permissions)
    static func missingKeysAre404(_ job: Job, partition: String) -> JSONValue {
        [
            "Sid": "MissingKeysAre404", "Effect": "Allow", "Action": ["s3:ListBucket"],
            "Resource": .string("arn:\(partition):s3:::\(job.fargate.bucket ?? "BUCKET")"),
        ]
    }

    /// EventBridge Scheduler starts the coordinator task: RunTask of its family on the job's
    /// cluster, and PassRole for the coordinator's two roles (task and execution).
    /// https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role
    public static func schedulerRole(_ job: Job) -> JSONValue {
        let f = job.fargate
        let (partition, account) = account(job)
        let region = f.region ?? "*"
        let cluster = "arn:\(partition):ecs:\(region):\(account):cluster/\(f.cluster)"
        let family = "arn:\(partition):ecs:\(region):\(account):task-definition/\(CoordinatorTask.family(job)):*"
        let roles = [f.schedule.coordinatorRoleArn, f.executionRoleArn].compactMap { $0 }.map(JSONValue.string)
        return [
            "Version": "2012-10-17",
            "Statement": [
                [
                    "Sid": "RunTheCoordinatorTask", "Effect": "Allow", "Action": ["ecs:RunTask"],
                    "Resource": .string(family), "Condition": ["ArnEquals": ["ecs:cluster": .string(cluster)]],
                ],
                [
                    "Sid": "PassTheCoordinatorsRoles", "Effect": "Allow", "Action": ["iam:PassRole"],
                    "Resource": .array(roles),
                    "Condition": ["StringEquals": ["iam:PassedToService": "ecs-tasks.amazonaws.com"]],
                ],
            ],
        ]
    }

    /// `crawlrun schedule`: the job's schedule in its group, the coordinator task definition
    /// (registered with the coordinator's roles, so PassRole), the upload (the coordinator
    /// policy's S3 statement), `run-now`'s RunTask, and PassRole of the scheduler's role to the
    /// scheduler. ListSchedules takes no resource-level permission.
    /// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridgescheduler.html
    public static func scheduling(_ job: Job) -> JSONValue {
        let f = job.fargate
        let (partition, account) = account(job)
        let region = f.region ?? "*"
        let group = f.schedule.group
        let cluster = "arn:\(partition):ecs:\(region):\(account):cluster/\(f.cluster)"
        let family = "arn:\(partition):ecs:\(region):\(account):task-definition/\(CoordinatorTask.family(job)):*"
        let taskRoles = [f.schedule.coordinatorRoleArn, f.executionRoleArn].compactMap { $0 }.map(JSONValue.string)
        return [
            "Version": "2012-10-17",
            "Statement": [
                [
                    "Sid": "TheJobsSchedule", "Effect": "Allow",
                    "Action": [
                        "scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:GetSchedule",
                        "scheduler:DeleteSchedule",
                    ],
                    "Resource": .string(
                        "arn:\(partition):scheduler:\(region):\(account):schedule/\(group)/\(job.name)"),
                ],
                [
                    "Sid": "TheScheduleGroup", "Effect": "Allow",
                    "Action": ["scheduler:CreateScheduleGroup", "scheduler:GetScheduleGroup"],
                    "Resource": .string("arn:\(partition):scheduler:\(region):\(account):schedule-group/\(group)"),
                ],
                ["Sid": "ListSchedules", "Effect": "Allow", "Action": ["scheduler:ListSchedules"], "Resource": "*"],
                // `schedule list` reads the job's lease, which is missing between runs.
                missingKeysAre404(job, partition: partition),
                [
                    "Sid": "RunTheCoordinatorNow", "Effect": "Allow", "Action": ["ecs:RunTask"],
                    "Resource": .string(family), "Condition": ["ArnEquals": ["ecs:cluster": .string(cluster)]],
                ],
                [
                    "Sid": "PassTheSchedulersRole", "Effect": "Allow", "Action": ["iam:PassRole"],
                    "Resource": .string(f.schedule.schedulerRoleArn ?? "*"),
                    "Condition": ["StringEquals": ["iam:PassedToService": "scheduler.amazonaws.com"]],
                ],
                [
                    "Sid": "PassTheCoordinatorsRoles", "Effect": "Allow", "Action": ["iam:PassRole"],
                    "Resource": .array(taskRoles),
                    "Condition": ["StringEquals": ["iam:PassedToService": "ecs-tasks.amazonaws.com"]],
                ],
            ],
        ]
    }

    /// Who may assume the role; Scheduler's is limited to the job's account (confused deputy).
    static func trust(_ service: String, _ job: Job) -> JSONValue {
        var statement: [String: JSONValue] = [
            "Effect": "Allow", "Principal": ["Service": .string(service)], "Action": "sts:AssumeRole",
        ]
        let (_, account) = account(job)
        if account != "*" { statement["Condition"] = ["StringEquals": ["aws:SourceAccount": .string(account)]] }
        return ["Version": "2012-10-17", "Statement": [.object(statement)]]
    }

    /// `crawlrun iam-policy JOB --scheduled [--json]`: the run's three policies, then these.
    public static func printedScheduled(_ job: Job, json: Bool) -> String {
        let docs = documents(job) + scheduledDocuments(job)
        if json {
            return String(
                decoding: JSONValue.object(Dictionary(uniqueKeysWithValues: docs.map { ($0.key, $0.policy) }))
                    .encoded(),
                as: UTF8.self)
        }
        return docs.map { "# \($0.title)\n\($0.policy.prettyPrinted())" }.joined(separator: "\n\n")
    }
}
