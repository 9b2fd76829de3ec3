import AWS
import CrawlKit
import FargateBackend
import Foundation

/// `crawlrun doctor JOB`: everything that would make a Fargate run fail in its first minute,
/// checked against the real account, one line per check with a fix hint when it fails.
struct DoctorCommand: Command {
    static let name = "doctor"
    static let arguments = ArgumentSpec(positionals: 1...1, positionalName: "a job file")
    static let help = """
        usage: crawlrun doctor JOB

        Checks, for the fargate backend, what a run of JOB needs before it launches a task:
          credentials      resolve (shown as their source and the key id's last four characters),
                           and who they are (STS GetCallerIdentity: the ARN); a clock off AWS's is said
          region           the job's fargate.region, else AWS_REGION / AWS_DEFAULT_REGION / profile
          job              the fargate section is complete
          roles            executionRoleArn and taskRoleArn are well-formed IAM role ARNs
          cluster          exists and is ACTIVE
          log group        exists, or is created now (the run would create it anyway)
          bucket prefix    a probe object is written, read and deleted under it
          task definition  registers, or an identical ACTIVE revision exists
          subnet           each has a way out: an internet gateway and a public IP,
                           a NAT gateway, or VPC endpoints for ECR, S3 and Logs
          security groups  allow outbound HTTPS to 0.0.0.0/0
          images           the task's images exist when they are in ECR
        Credentials and endpoints come from the environment, as for `crawlrun run`
        (AWS_PROFILE, AWS_ENDPOINT_URL for moto or LocalStack, …).

        Exit codes: 0 every check passed · 2 a check failed · 64 usage · 65 invalid job file.
        """

    let jobPath: String
    let variables: [String: String]

    init(_ parsed: ParsedArguments) throws(UsageError) {
        jobPath = parsed.positionals[0]
        variables = ProcessInfo.processInfo.environment
    }

    func run() async throws -> ExitCode {
        let (job, jobProblems) = try Self.load(jobPath)
        let region = job.fargate.region ?? AWSEnvironment(variables).region()
        var doctor = Doctor(job: job, variables: variables) { StandardOutput.print($0) }
        StandardOutput.print("crawlrun doctor: job \(job.name), fargate backend, region \(region ?? "unknown")")
        await doctor.run(region: region, jobProblems: jobProblems)
        let failed = doctor.results.filter { $0.state == .failed }.count
        let skipped = doctor.results.filter { $0.state == .skipped }.count
        let total = doctor.results.count
        if failed == 0 && skipped == 0 {
            StandardOutput.print("All \(total) checks passed.")
            return .ok
        }
        StandardOutput.print("\(failed) of \(total) checks failed\(skipped > 0 ? ", \(skipped) skipped" : "").")
        return .infrastructure
    }

    /// The job, with its fargate-section problems as a failed check rather than exit 65: the
    /// doctor still checks what it can. Any other problem is an invalid job file.
    static func load(_ path: String) throws -> (Job, [JobProblem]) {
        do {
            return (try Job.load(path: path, backend: .fargate), [])
        } catch let error as JobError where error.problems.allSatisfy({ $0.place.hasPrefix("fargate") }) {
            return (try Job.load(path: path, backend: .local), error.problems)
        }
    }
}
