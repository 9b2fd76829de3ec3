import CrawlKit
import JSONKit

/// The two least-privilege IAM policies a Fargate run needs: the coordinator's (whoever runs
/// `crawlrun`) and the task role's (the crawler). Resources are the job's own: its task
/// definition family, cluster, two roles, log group and S3 prefix.
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
        return [
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
