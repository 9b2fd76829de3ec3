import CrawlKit
import FargateBackend
import JSONKit

/// `crawlrun iam-policy JOB`: prints every policy document a Fargate run needs.
struct IAMPolicyCommand: Command {
    static let name = "iam-policy"
    static let arguments = ArgumentSpec(flags: ["--json"], positionals: 1...1, positionalName: "a job file")
    static let help = """
        usage: crawlrun iam-policy JOB [--json]

        Prints the three least-privilege IAM policies a Fargate run of JOB needs:
          coordinator     for whoever runs crawlrun: register the task definition, run, watch and
                          stop the job's tasks on its cluster, pass its two roles to ECS, create
                          and read the task logs, and read and write the job's S3 prefix;
          task role       for the crawler: read its batch, write its results;
          execution role  for ECS: pull the job's ECR images, write the containers' logs.
        With --json, one document: {"coordinator": …, "taskRole": …, "executionRole": …}.
        """

    let jobPath: String
    let json: Bool

    init(_ parsed: ParsedArguments) throws(UsageError) {
        jobPath = parsed.positionals[0]
        json = parsed.flag("--json")
    }

    func run() async throws -> ExitCode {
        let job = try Job.load(path: jobPath, backend: .fargate)
        StandardOutput.print(IAMPolicy.printed(job, json: json))
        return .ok
    }
}
