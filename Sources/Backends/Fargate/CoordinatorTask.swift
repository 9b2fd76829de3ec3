import AWS
import CrawlKit
import JSONKit

/// The coordinator as a Fargate task: what a schedule starts. It is the job's crawler image with
/// `crawlrun` as its process (the image carries both binaries; README "Images"), running
/// `crawlrun run s3://…/jobs/<job>-<hash>/job.json --backend fargate --runs-dir s3://… --events`
/// as the coordinator role, 0.25 vCPU / 0.5 GB unless `fargate.schedule` says otherwise.
public enum CoordinatorTask {
    public static let containerName = "coordinator"
    /// Where the image installs crawlrun (images/crawler/Dockerfile).
    public static let binary = "/usr/local/bin/crawlrun"
    /// SIGTERM to SIGKILL: the coordinator stops its batch tasks and writes the report first
    /// (Fargate's maximum; ECS-NOTES.md).
    public static let stopTimeout = 120

    public static func family(_ job: Job) -> String { "crawlrun-coordinator-" + job.name }

    /// The runs directory a scheduled run keeps its runs in: `fargate.schedule.runsDir`, else
    /// `s3://BUCKET/PREFIX<job>/runs`, under the job's prefix so the coordinator's S3
    /// permissions (IAMPolicy.coordinator) already cover it.
    public static func runsDirectory(_ job: Job) -> String {
        job.fargate.schedule.runsDir ?? "s3://\(job.fargate.bucket ?? "BUCKET")/\(IAMPolicy.jobPrefix(job))runs"
    }

    /// Where `crawlrun schedule` uploads the job: content-addressed, so a schedule always runs
    /// the job as it was when scheduled, and an unchanged job is not uploaded twice.
    public static func jobKey(_ job: Job, contentHash: String) -> String {
        IAMPolicy.jobPrefix(job) + "jobs/" + String(contentHash.prefix(16)) + "/job.json"
    }

    /// The command the container runs.
    public static func command(jobURI: String, runsDirectory: String) -> [String] {
        [binary, "run", jobURI, "--backend", "fargate", "--runs-dir", runsDirectory, "--events", "--quiet"]
    }

    /// The task definition to register (RegisterTaskDefinition's input).
    public static func definition(_ job: Job, jobURI: String) -> JSONValue {
        let f = job.fargate
        let s = f.schedule
        let container: JSONValue = [
            "name": .string(containerName),
            "image": .string(s.coordinatorImage ?? job.task.crawlerImage),
            "essential": true,
            "entryPoint": .array(command(jobURI: jobURI, runsDirectory: runsDirectory(job)).map(JSONValue.string)),
            "memoryReservation": .number(Double(max(64, s.memory - 64))),
            // CRAWLRUN_COORDINATOR_TASK: the task's size, for its own cost in report.json.
            "environment": .array(
                [
                    ["name": "AWS_REGION", "value": .string(f.region ?? "us-east-1")],
                    ["name": "CRAWLRUN_COORDINATOR_TASK", "value": .string("\(s.cpu)/\(s.memory)")],
                ]
                    + s.environment.sorted { $0.key < $1.key }.map {
                        ["name": .string($0.key), "value": .string($0.value)]
                    }
            ),
            "linuxParameters": ["initProcessEnabled": true],
            "stopTimeout": .number(Double(stopTimeout)),
            "logConfiguration": [
                "logDriver": "awslogs",
                "options": [
                    "awslogs-group": .string(f.logGroup), "awslogs-region": .string(f.region ?? "us-east-1"),
                    "awslogs-stream-prefix": "crawlrun-coordinator",
                ],
            ],
        ]
        var def: [String: JSONValue] = [
            "family": .string(family(job)), "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "cpu": .string(String(s.cpu)), "memory": .string(String(s.memory)),
            "runtimePlatform": ["cpuArchitecture": .string(job.task.architecture), "operatingSystemFamily": "LINUX"],
            "containerDefinitions": [container],
        ]
        if let arn = f.executionRoleArn { def["executionRoleArn"] = .string(arn) }
        if let arn = s.coordinatorRoleArn { def["taskRoleArn"] = .string(arn) }
        return .object(def)
    }

    /// The schedule that starts the coordinator task registered as `taskDefinitionArn`.
    public static func schedule(
        _ job: Job, expression: String, timezone: String?, flexibleWindowMinutes: Int?, taskDefinitionArn: String,
        account: String
    ) -> ScheduleDefinition {
        let f = job.fargate
        let region = f.region ?? "us-east-1"
        let partition = IAMPolicy.account(job).partition
        let target = ScheduleTarget(
            clusterArn: f.cluster.hasPrefix("arn:")
                ? f.cluster : "arn:\(partition):ecs:\(region):\(account):cluster/\(f.cluster)",
            roleArn: f.schedule.schedulerRoleArn ?? "", taskDefinitionArn: taskDefinitionArn, subnets: f.subnets,
            securityGroups: f.securityGroups, assignPublicIp: f.assignPublicIp,
            platformVersion: f.platformVersion == "LATEST" ? nil : f.platformVersion)
        return ScheduleDefinition(
            name: job.name, group: f.schedule.group, expression: expression, timezone: timezone,
            flexibleWindowMinutes: flexibleWindowMinutes, target: target, description: "crawlrun job \(job.name)")
    }
}
