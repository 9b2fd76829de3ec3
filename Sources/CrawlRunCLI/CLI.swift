import Coordinator
import CrawlKit
import Foundation
import ProcessKit

/// crawlrun's exit codes (DESIGN.md).
public enum ExitCode: Int32, Sendable {
    case ok = 0, someFailed = 1, infrastructure = 2, usage = 64, invalidJob = 65, busy = 75, interrupted = 130
}

/// The command-line front end: picks a command, parses and validates its arguments, maps errors
/// to exit codes and prints each error once, as a sentence.
public enum CLI {
    /// Each command's name and how to run it from its arguments.
    static let commands: [(name: String, run: @Sendable ([String]) async throws -> Int32)] = [
        entry(RunCommand.self), entry(CrawlCommand.self), entry(PlanCommand.self), entry(ResumeCommand.self),
        entry(StopCommand.self), entry(RunsCommand.self), entry(LogsCommand.self), entry(ExportCommand.self),
        entry(IAMPolicyCommand.self), entry(DoctorCommand.self), entry(InitCommand.self),
        entry(CalibrateCommand.self),
        entry(ScheduleCommand.self),
    ]

    static func entry<C: Command>(_ command: C.Type) -> (name: String, run: @Sendable ([String]) async throws -> Int32)
    {
        (
            C.name,
            { arguments in
                let parsed = try ParsedArguments(arguments, spec: C.arguments, command: C.name)
                if parsed.help {
                    StandardOutput.print(C.help)
                    return 0
                }
                return try await C(parsed).run().rawValue
            }
        )
    }

    public static let usage = """
        usage: crawlrun <command> [options]

        commands:
          run JOB [--backend local|docker|fargate] [--max-tasks N] [--runs-dir DIR] [--wait] [--keep N]
                  [--quiet] [--json]
                   run the job: a task per batch, retries, results in runs/<run-id>/
          crawl URL… [--field NAME=SELECTOR[@ATTR]] …
                   crawl URLs without a job file; JSON Lines on standard output
          plan JOB [--backend local|docker|fargate] [--json]
                   show the batches, task definition and estimate without launching anything
          resume RUN_DIR [--wait]
                   go on with a run that stopped before its end (Ctrl-C, stop, a crash)
          stop RUN_DIR
                   stop a run from another shell; it stays resumable
          runs [--runs-dir DIR]
                   list the runs, newest first, with status, counts and age
          logs RUN_DIR [BATCH] [--container crawler|webdriver]
                   list a run's logs, or print a batch's (on Fargate: read from CloudWatch now)
          export RUN [--format csv|jsonl] [--fields NAME,…] [--explode] [--output FILE]
                   a run's results as CSV or JSON Lines, one row per URL
          iam-policy JOB [--json]
                   print the least-privilege IAM policies a Fargate run of JOB needs
          schedule JOB --cron EXPR [--timezone TZ] [--flexible-window M]
                   run JOB on a schedule: a coordinator task on Fargate started by EventBridge
                   Scheduler (also: schedule list, schedule delete JOB, schedule run-now JOB)
          doctor JOB
                   check credentials, cluster, log group, bucket and task definition for a Fargate run
          calibrate JOB [--sample N] [--backend docker|local]
                   crawl a sample of JOB's URLs at each Fargate size: pages/s, CPU, memory, $ per page
          init --from-stack STACK [JOB] [--output FILE]
                   fill JOB's fargate block and images from a stack of deploy/cloudformation.yaml
          help     show this help (also: crawlrun <command> --help)

        Exit codes: 0 ok · 1 some URLs failed · 2 run could not finish · 64 usage error ·
        65 invalid job file · 75 the job is already running · 130 interrupted.
        """

    public static func main(_ arguments: [String]) async -> Int32 {
        _ = CoordinatorUsage.processStart
        var args = Array(arguments.dropFirst())
        guard let name = args.first else {
            StandardError.write(usage + "\n")
            return ExitCode.usage.rawValue
        }
        args.removeFirst()
        if name == "__guard" { Lifeline.guardMain() }  // the lifeline's guard process (LocalBackend)
        if ["help", "--help", "-h"].contains(name) {
            StandardOutput.print(usage)
            return 0
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            let names = commands.map(\.name)
            let hint = closest(name, in: names).map { " (did you mean \($0)?)" } ?? ""
            StandardError.write(
                "crawlrun: unknown command \"\(name)\"\(hint); commands: \(names.joined(separator: ", ")), help\n")
            return ExitCode.usage.rawValue
        }
        do {
            return try await command.run(args)
        } catch let error as UsageError {
            StandardError.write("crawlrun: \(error.description)\n(see crawlrun \(name) --help)\n")
            return ExitCode.usage.rawValue
        } catch let error as JobError {
            StandardError.write("crawlrun: invalid job file \(error.description)\n")
            return ExitCode.invalidJob.rawValue
        } catch let error as RunFailure {
            StandardError.write("crawlrun: the run could not go on: \(error)\n")
            return ExitCode.infrastructure.rawValue
        } catch {
            StandardError.write("crawlrun: \(error)\n")
            return ExitCode.infrastructure.rawValue
        }
    }
}
