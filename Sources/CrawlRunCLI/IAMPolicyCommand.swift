import CrawlKit
import FargateBackend
import JSONKit

/// `crawlrun iam-policy JOB`: prints both policy documents.
struct IAMPolicyCommand: Command {
    static let name = "iam-policy"
    static let arguments = ArgumentSpec(flags: ["--json"], positionals: 1...1, positionalName: "a job file")
    static let help = """
        usage: crawlrun iam-policy JOB [--json]

        Prints the two least-privilege IAM policies a Fargate run of JOB needs:
          coordinator  for whoever runs crawlrun: register the task definition, run, watch and
                       stop the job's tasks on its cluster, pass its two roles to ECS, read the
                       task logs, and read and write the job's S3 prefix;
          task role    for the crawler: read its batch, write its results.
        With --json, one document: {"coordinator": …, "taskRole": …}.
        """

    let jobPath: String
    let json: Bool

    init(_ parsed: ParsedArguments) throws(UsageError) {
        jobPath = parsed.positionals[0]
        json = parsed.flag("--json")
    }

    func run() async throws -> ExitCode {
        let job = try Job.load(path: jobPath, backend: .fargate)
        let coordinator = IAMPolicy.coordinator(job)
        let task = IAMPolicy.taskRole(job)
        if json {
            StandardOutput.write(JSONValue.object(["coordinator": coordinator, "taskRole": task]).encoded() + [10])
        } else {
            StandardOutput.print("# Coordinator policy (attach to the user or role that runs crawlrun)")
            StandardOutput.print(coordinator.prettyPrinted())
            StandardOutput.print("")
            StandardOutput.print("# Task role policy (attach to \(job.fargate.taskRoleArn ?? "the task role"))")
            StandardOutput.print(task.prettyPrinted())
        }
        return .ok
    }
}
