import AWS
import Coordinator
import CrawlKit
import FargateBackend
import Foundation
import JSONKit

/// `crawlrun schedule …`: a job run on a schedule with no machine to keep — EventBridge
/// Scheduler starts the coordinator as a Fargate task, which runs the job with its runs on S3.
struct ScheduleCommand: Command {
    static let name = "schedule"
    static let arguments = ArgumentSpec(
        flags: ["--json"], options: ["--cron", "--timezone", "--flexible-window", "--group", "--region"],
        positionals: 1...2, positionalName: "a job file, or list, delete JOB or run-now JOB")
    static let help = """
        usage: crawlrun schedule JOB --cron EXPR [--timezone TZ] [--flexible-window M]
               crawlrun schedule list [JOB] [--group G] [--region R] [--json]
               crawlrun schedule delete JOB
               crawlrun schedule run-now JOB

        schedule JOB     uploads JOB (and its urlsFile) to the job's S3 prefix under a
                         content-addressed key, registers the coordinator task definition
                         (crawlrun-coordinator-<job>: 0.25 vCPU / 0.5 GB, fargate.schedule), and
                         creates or updates the EventBridge Scheduler schedule <job> in the group
                         fargate.schedule.group (default crawlrun). The task runs
                         crawlrun run s3://…/job.json --backend fargate --runs-dir s3://… --events
          --cron EXPR          cron(minutes hours day-of-month month day-of-week year), rate(N unit)
                               or at(yyyy-mm-ddThh:mm:ss), checked before any call
          --timezone TZ        an IANA time zone the expression is read in (default UTC)
          --flexible-window M  let the scheduler fire up to M minutes late (1-1440; default: on time)
        list             the group's schedules: expression, next fire time, the last run's status
                         read from S3 ("still running": a fire now exits 75 and changes nothing)
        delete JOB       deletes the job's schedule (its runs stay on S3)
        run-now JOB      one RunTask of the coordinator task, as the schedule would make it

        The job's fargate.schedule block names the roles: coordinatorRoleArn (the coordinator
        task's role) and schedulerRoleArn (the role the scheduler acts as); `crawlrun iam-policy
        JOB --scheduled` prints both policies. README, "Scheduled runs on AWS".

        Exit codes: 0 done · 2 an AWS call failed · 64 usage · 65 invalid job file.
        """

    enum Action { case put(String), list(String?), delete(String), runNow(String) }
    let action: Action
    let expression: ScheduleExpression?
    let expressionText: String?
    let timezone: String?
    let flexibleWindow: Int?
    let group: String?
    let region: String?
    let json: Bool

    init(_ parsed: ParsedArguments) throws(UsageError) {
        let p = parsed.positionals
        switch p[0] {
        case "list": action = .list(p.count > 1 ? p[1] : nil)
        case "delete", "run-now":
            guard p.count == 2 else { throw UsageError("schedule \(p[0]) needs a job file") }
            action = p[0] == "delete" ? .delete(p[1]) : .runNow(p[1])
        default:
            guard p.count == 1 else { throw UsageError("unexpected argument \(p[1])") }
            action = .put(p[0])
        }
        expressionText = parsed.value("--cron")
        if case .put = action {
            guard let text = expressionText else { throw UsageError("schedule JOB needs --cron EXPR") }
            do throws(ScheduleExpressionError) {
                expression = try ScheduleExpression.parse(text)
            } catch {
                throw UsageError(error.description)
            }
        } else {
            if expressionText != nil { throw UsageError("--cron goes with schedule JOB only") }
            expression = nil
        }
        timezone = parsed.value("--timezone")
        if let tz = timezone, TimeZone(identifier: tz) == nil {
            throw UsageError("--timezone: expected an IANA time zone such as Europe/Berlin or UTC, got \"\(tz)\"")
        }
        flexibleWindow = try parsed.int("--flexible-window", in: 1...1440)
        group = parsed.value("--group")
        region = parsed.value("--region")
        json = parsed.flag("--json")
    }

    func run() async throws -> ExitCode {
        switch action {
        case .put(let path): return try await put(path)
        case .list(let path): return try await ScheduleList(command: self).run(jobPath: path)
        case .delete(let path):
            let (job, aws) = try Self.load(path)
            let deleted = try await aws.scheduler.deleteSchedule(job.name, group: job.fargate.schedule.group)
            StandardOutput.print(
                deleted
                    ? "schedule \(job.fargate.schedule.group)/\(job.name) deleted (its runs stay on S3)"
                    : "no schedule \(job.fargate.schedule.group)/\(job.name); nothing deleted")
            return .ok
        case .runNow(let path): return try await runNow(path)
        }
    }

    /// The job (for the fargate backend, with its schedule block complete) and AWS clients in
    /// its Region.
    static func load(_ path: String) throws -> (Job, AWSServices) {
        let job = try Job.load(path: path, backend: .fargate)
        let problems = job.fargate.schedule.problems()
        if !problems.isEmpty { throw JobError(file: path, problems: problems) }
        let variables = ProcessInfo.processInfo.environment
        let region = job.fargate.region ?? AWSEnvironment(variables).region() ?? "us-east-1"
        return (job, AWSServices(region: region, variables: variables))
    }

    func put(_ path: String) async throws -> ExitCode {
        let (job, aws) = try Self.load(path)
        guard let expressionText else { return .usage }
        let upload = try ScheduledJob.files(job: job, path: path)
        let bucket = job.fargate.bucket ?? ""
        for (key, body) in upload.objects {
            try await aws.s3.putObject(
                S3Location(bucket: bucket, key: key), body: body, contentType: "application/json")
        }
        let jobURI = "s3://\(bucket)/\(upload.jobKey)"
        let clusters = try await aws.ecs.describeClusters([job.fargate.cluster])
        guard let clusterArn = clusters["clusters"]?.arrayValue?.first?["clusterArn"]?.stringValue else {
            throw RunFailure("cluster \(job.fargate.cluster) not found in \(aws.region) (fargate.cluster)")
        }
        let registered = try await TaskDefinitionRegistry.ensure(
            CoordinatorTask.definition(job, jobURI: jobURI), ecs: aws.ecs)
        let account = clusterArn.split(separator: ":").dropFirst(4).first.map(String.init) ?? "*"
        var schedule = CoordinatorTask.schedule(
            job, expression: expressionText, timezone: timezone, flexibleWindowMinutes: flexibleWindow,
            taskDefinitionArn: registered.arn, account: account)
        schedule.target.clusterArn = clusterArn
        try await aws.scheduler.createScheduleGroup(schedule.group)
        let (arn, created) = try await aws.scheduler.putSchedule(schedule)
        StandardOutput.print(
            """
            job \(job.name) uploaded to \(jobURI)
            coordinator task definition \(registered.arn)\(registered.reused ? " (unchanged)" : "")
            schedule \(schedule.group)/\(schedule.name) \(created ? "created" : "updated"): \(expression?.summary ?? expressionText)\
            \(timezone.map { " (\($0))" } ?? "")\(Self.nextFire(expression, timezone).map { ", next fire \($0)" } ?? "")
            \(arn)
            runs go to \(CoordinatorTask.runsDirectory(job)); `crawlrun schedule list` shows them
            """)
        return .ok
    }

    /// "2026-12-08 03:00 UTC", or nil when the expression has none to tell (a rate).
    static func nextFire(_ expression: ScheduleExpression?, _ timezone: String?, now: Date = Date()) -> String? {
        let zone = timezone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC") ?? .current
        guard let fire = expression?.nextFire(after: now, timeZone: zone) else { return nil }
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm"
        f.timeZone = zone
        return f.string(from: fire) + " " + (timezone ?? "UTC")
    }

    /// The RunTask the schedule's target describes, made now with the caller's credentials.
    func runNow(_ path: String) async throws -> ExitCode {
        let (job, aws) = try Self.load(path)
        guard let schedule = try await aws.scheduler.getSchedule(job.name, group: job.fargate.schedule.group) else {
            StandardError.write(
                "crawlrun: no schedule \(job.fargate.schedule.group)/\(job.name); create it with crawlrun schedule \(path) --cron EXPR\n"
            )
            return .infrastructure
        }
        let result = try await aws.ecs.runTask(ScheduledJob.runTask(schedule.target))
        guard let task = result.tasks.first else {
            StandardError.write(
                "crawlrun: RunTask started no coordinator task: \(result.failures.map { "\($0)" }.joined(separator: "; "))\n"
            )
            return .infrastructure
        }
        StandardOutput.print(
            "coordinator task \(task.taskArn) started; its run goes to \(CoordinatorTask.runsDirectory(job))")
        return .ok
    }
}
