import AWS
import CrawlKit
import JSONKit

/// The three least-privilege IAM policies a Fargate run needs: the coordinator's (whoever runs
/// `crawlrun`), the task role's (the crawler) and the execution role's (ECS pulling the images
/// and writing the logs). Resources are the job's own: its task definition family, cluster, two
/// roles, log group, ECR repositories and S3 prefix. `documents` is what `crawlrun iam-policy`
/// prints, and what the CloudFormation template and the tests compare with.
/// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
public enum IAMPolicy {
    /// Partition and account from the job's role ARNs (`arn:aws:iam::123456789012:role/x`).
    static func account(_ job: Job) -> (partition: String, account: String) {
        for arn in [job.fargate.executionRoleArn, job.fargate.taskRoleArn].compactMap({ $0 }) {
            let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count >= 6, !parts[4].isEmpty { return (String(parts[1]), String(parts[4])) }
        }
        return ("aws", "*")
    }

    /// Every policy a run needs, keyed as `crawlrun iam-policy --json` prints them, in the order
    /// the text form prints them, each with the role or user it goes to.
    public static func documents(_ job: Job) -> [(key: String, title: String, policy: JSONValue)] {
        [
            ("coordinator", "Coordinator policy (attach to the user or role that runs crawlrun)", coordinator(job)),
            ("taskRole", "Task role policy (attach to \(job.fargate.taskRoleArn ?? "the task role"))", taskRole(job)),
            (
                "executionRole",
                "Execution role policy (attach to \(job.fargate.executionRoleArn ?? "the execution role"))",
                executionRole(job)
            ),
        ]
    }

    /// `{"coordinator": …, "taskRole": …, "executionRole": …}`.
    public static func all(_ job: Job) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: documents(job).map { ($0.key, $0.policy) }))
    }

    /// `crawlrun iam-policy JOB [--json]`'s output.
    public static func printed(_ job: Job, json: Bool) -> String {
        if json { return String(decoding: all(job).encoded(), as: UTF8.self) }
        return documents(job).map { "# \($0.title)\n\($0.policy.prettyPrinted())" }.joined(separator: "\n\n")
    }

    /// ECS pulls the images and sends the containers' output to CloudWatch Logs with this role:
    /// the actions of AmazonECSTaskExecutionRolePolicy, scoped to the job's ECR repositories and
    /// log group. No logs:CreateLogGroup: crawlrun creates the group itself (the task definition
    /// sets no `awslogs-create-group`, which would make this role need it).
    /// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
    public static func executionRole(_ job: Job) -> JSONValue {
        let f = job.fargate
        let (partition, account) = account(job)
        let region = f.region ?? "*"
        let logGroup = "arn:\(partition):logs:\(region):\(account):log-group:\(f.logGroup)"
        var statements: [JSONValue] = [
            // CreateLogStream is authorized on the group, PutLogEvents on its streams.
            // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
            [
                "Sid": "WriteTaskLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [.string(logGroup), .string(logGroup + ":*")],
            ]
        ]
        let repositories = ecrRepositories(job, partition: partition)
        if !repositories.isEmpty {
            statements += [
                // GetAuthorizationToken takes no resource-level permission.
                ["Sid": "RegistryLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"],
                [
                    "Sid": "PullTheJobsImages", "Effect": "Allow",
                    "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                    "Resource": .array(repositories.map { .string($0) }),
                ],
            ]
        }
        return ["Version": "2012-10-17", "Statement": .array(statements)]
    }

    /// The ARNs of the ECR repositories the job's images come from.
    static func ecrRepositories(_ job: Job, partition: String) -> [String] {
        Set(
            [job.task.crawlerImage, job.task.sidecarImage].compactMap(ECRImageReference.init).map {
                "arn:\(partition):ecr:\($0.region):\($0.registryId):repository/\($0.repository)"
            }
        ).sorted()
    }

    /// `prefix + job name + "/"`: every run of the job lives below it.
    public static func jobPrefix(_ job: Job) -> String { job.fargate.prefix + job.name + "/" }

    public static func coordinator(_ job: Job) -> JSONValue {
        let f = job.fargate
        let (partition, account) = account(job)
        let region = f.region ?? "*"
        let cluster = "arn:\(partition):ecs:\(region):\(account):cluster/\(f.cluster)"
        let family = "arn:\(partition):ecs:\(region):\(account):task-definition/crawlrun-\(job.name):*"
        let logGroup = "arn:\(partition):logs:\(region):\(account):log-group:\(f.logGroup)"
        let bucket = "arn:\(partition):s3:::\(f.bucket ?? "BUCKET")"
        let roles = [f.executionRoleArn, f.taskRoleArn].compactMap { $0 }.map { JSONValue.string($0) }
        let onCluster: JSONValue = ["ArnEquals": ["ecs:cluster": .string(cluster)]]
        let policy: JSONValue = [
            "Version": "2012-10-17",
            "Statement": [
                // These two take no resource-level permissions (the service authorization reference).
                [
                    "Sid": "TaskDefinitions", "Effect": "Allow",
                    "Action": ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"], "Resource": "*",
                ],
                [
                    "Sid": "Cluster", "Effect": "Allow", "Action": ["ecs:DescribeClusters"],
                    "Resource": .string(cluster),
                ],
                [
                    "Sid": "RunTasks", "Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": .string(family),
                    "Condition": onCluster,
                ],
                // RunTask with tags is also authorized as ecs:TagResource on the new task
                // ("tag on create"), limited here to tags given by RunTask itself.
                // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html
                [
                    "Sid": "TagNewTasks", "Effect": "Allow", "Action": ["ecs:TagResource"],
                    "Resource": .string("arn:\(partition):ecs:\(region):\(account):task/\(f.cluster)/*"),
                    "Condition": ["StringEquals": ["ecs:CreateAction": "RunTask"]],
                ],
                [
                    "Sid": "WatchAndStopTasks", "Effect": "Allow",
                    "Action": ["ecs:DescribeTasks", "ecs:StopTask", "ecs:ListTasks"], "Resource": "*",
                    "Condition": onCluster,
                ],
                [
                    "Sid": "PassTheJobsRoles", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": .array(roles),
                    "Condition": ["StringEquals": ["iam:PassedToService": "ecs-tasks.amazonaws.com"]],
                ],
                [
                    "Sid": "ReadTaskLogs", "Effect": "Allow",
                    "Action": ["logs:GetLogEvents", "logs:DescribeLogStreams", "logs:CreateLogGroup"],
                    "Resource": [.string(logGroup), .string(logGroup + ":*")],
                ],
                [
                    "Sid": "RunFiles", "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                    "Resource": .string("\(bucket)/\(jobPrefix(job))*"),
                ],
                [
                    "Sid": "ListRunFiles", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": .string(bucket),
                    "Condition": ["StringLike": ["s3:prefix": .string(jobPrefix(job) + "*")]],
                ],
            ],
        ]
        return appending(doctorStatements(job, partition: partition, region: region), to: policy)
    }

    /// `crawlrun doctor`'s read-only network and image checks (DoctorNetwork.swift). EC2's
    /// Describe actions take no resource-level permissions: "*", limited to the job's Region.
    /// ecr:DescribeImages is scoped to the repositories of the job's ECR images.
    /// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
    static func doctorStatements(_ job: Job, partition: String, region: String) -> [JSONValue] {
        var network: [String: JSONValue] = [
            "Sid": "NetworkChecks", "Effect": "Allow",
            "Action": [
                "ec2:DescribeSubnets", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints",
                "ec2:DescribeSecurityGroups",
            ],
            "Resource": "*",
        ]
        if region != "*" { network["Condition"] = ["StringEquals": ["ec2:Region": .string(region)]] }
        let repositories = ecrRepositories(job, partition: partition)
        guard !repositories.isEmpty else { return [.object(network)] }
        let images: JSONValue = [
            "Sid": "CheckImages", "Effect": "Allow", "Action": ["ecr:DescribeImages"],
            "Resource": .array(repositories.map { .string($0) }),
        ]
        return [.object(network), images]
    }

    static func appending(_ statements: [JSONValue], to policy: JSONValue) -> JSONValue {
        guard case .object(var root) = policy, case .array(let existing)? = root["Statement"] else { return policy }
        root["Statement"] = .array(existing + statements)
        return .object(root)
    }

    /// The crawler reads its batch and writes its results (and artifacts) under the run's prefix.
    public static func taskRole(_ job: Job) -> JSONValue {
        let (partition, _) = account(job)
        let root = "arn:\(partition):s3:::\(job.fargate.bucket ?? "BUCKET")/\(jobPrefix(job))*"
        return [
            "Version": "2012-10-17",
            "Statement": [
                [
                    "Sid": "ReadBatches", "Effect": "Allow", "Action": ["s3:GetObject"],
                    "Resource": .string(root + "/batches/*"),
                ],
                [
                    "Sid": "WriteResults", "Effect": "Allow", "Action": ["s3:PutObject"],
                    "Resource": .string(root + "/results/*"),
                ],
            ],
        ]
    }
}
