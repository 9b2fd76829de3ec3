import CrawlKit
import FargateBackend
import JSONKit

/// `crawlrun iam-policy JOB`: prints every policy document a Fargate run needs.
struct IAMPolicyCommand: Command {
    static let name = "iam-policy"
    static let arguments = ArgumentSpec(
        flags: ["--json", "--scheduled"], positionals: 1...1, positionalName: "a job file")
    static let help = """
        usage: crawlrun iam-policy JOB [--json] [--scheduled]

        Prints the three least-privilege IAM policies a Fargate run of JOB needs:
          coordinator     for whoever runs crawlrun: register the task definition, run, watch and
                          stop the job's tasks on its cluster, pass its two roles to ECS, create
                          and read the task logs, and read and write the job's S3 prefix;
          task role       for the crawler: read its batch, write its results;
          execution role  for ECS: pull the job's ECR images, write the containers' logs.
        With --scheduled, also the two roles of a scheduled run (crawlrun schedule):
          coordinator task role  the coordinator policy, and events:PutEvents for the run's
                                 finished event (fargate.schedule.coordinatorRoleArn);
          scheduler role         for EventBridge Scheduler: ecs:RunTask of the coordinator task
                                 definition, iam:PassRole for its roles (fargate.schedule.schedulerRoleArn);
        each followed by its trust policy.
        With --json, one document: {"coordinator": …, "taskRole": …, "executionRole": …} (and
        "coordinatorTaskRole", "coordinatorTaskRoleTrust", "schedulerRole", "schedulerRoleTrust").
        """

    let jobPath: String
    let json: Bool
    let scheduled: Bool

    init(_ parsed: ParsedArguments) throws(UsageError) {
        jobPath = parsed.positionals[0]
        json = parsed.flag("--json")
        scheduled = parsed.flag("--scheduled")
    }

    func run() async throws -> ExitCode {
        let job = try Job.load(path: jobPath, backend: .fargate)
        StandardOutput.print(
            scheduled ? IAMPolicy.printedScheduled(job, json: json) : IAMPolicy.printed(job, json: json))
        return .ok
    }
}
