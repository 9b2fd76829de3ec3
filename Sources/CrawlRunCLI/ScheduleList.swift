import AWS
import Coordinator
import CrawlKit
import FargateBackend
import Foundation
import JSONKit
import S3Runs

/// `crawlrun schedule list`: each schedule of the group with its next fire time and its job's
/// last run, read where the coordinator keeps it (the runs directory in the coordinator task's
/// command, on S3), with the job's lease: a live lease means a fire now would exit 75.
struct ScheduleList {
    let command: ScheduleCommand

    struct Row {
        var name: String
        var expression: String
        var next: String
        var lastRun: String
    }

    func run(jobPath: String?) async throws -> ExitCode {
        let variables = ProcessInfo.processInfo.environment
        var group = command.group ?? "crawlrun"
        var region = command.region ?? AWSEnvironment(variables).region() ?? "us-east-1"
        if let jobPath {
            let job = try Job.load(path: jobPath, backend: .fargate)
            group = command.group ?? job.fargate.schedule.group
            region = command.region ?? job.fargate.region ?? region
        }
        let aws = AWSServices(region: region, variables: variables)
        var rows: [Row] = []
        for summary in try await aws.scheduler.listSchedules(group: group) {
            guard let schedule = try await aws.scheduler.getSchedule(summary.name, group: group) else { continue }
            let expression = try? ScheduleExpression.parse(schedule.expression)
            let next =
                !schedule.enabled
                ? "disabled" : ScheduleCommand.nextFire(expression, schedule.timezone) ?? expression?.summary ?? "?"
            let last = await lastRun(of: summary.name, target: schedule.target, aws: aws)
            rows.append(
                Row(
                    name: summary.name,
                    expression: schedule.expression + (schedule.timezone.map { " \($0)" } ?? ""), next: next,
                    lastRun: last))
        }
        if command.json {
            let list: [JSONValue] = rows.map {
                [
                    "name": .string($0.name), "expression": .string($0.expression), "nextFire": .string($0.next),
                    "lastRun": .string($0.lastRun),
                ]
            }
            StandardOutput.write(JSONValue.array(list).encoded() + [10])
            return .ok
        }
        guard !rows.isEmpty else {
            StandardOutput.print("no schedules in group \(group) (\(region))")
            return .ok
        }
        let lines =
            [["SCHEDULE", "EXPRESSION", "NEXT FIRE", "LAST RUN"]]
            + rows.map {
                [$0.name, $0.expression, $0.next, $0.lastRun]
            }
        let widths = lines[0].indices.map { i in lines.map { $0[i].count }.max() ?? 0 }
        for line in lines {
            StandardOutput.print(
                line.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        return .ok
    }

    /// "finished 2026-12-08T03:04:10Z: 98 ok, 2 failed", "still running (run …): a fire now exits
    /// 75", "no run yet", or why it could not be read.
    func lastRun(of job: String, target: ScheduleTarget, aws: AWSServices) async -> String {
        let definition: JSONValue
        do {
            definition = try await aws.ecs.describeTaskDefinition(target.taskDefinitionArn)
        } catch {
            return "unknown (\(error.message))"
        }
        let command =
            definition["taskDefinition"]?["containerDefinitions"]?.arrayValue?.first?["entryPoint"]?.arrayValue?
            .compactMap(\.stringValue) ?? []
        guard let i = command.firstIndex(of: "--runs-dir"), i + 1 < command.count,
            case .s3(let bucket, let prefix)? = try? RunsLocation.parse(command[i + 1])
        else { return "unknown (the coordinator task names no runs directory on S3)" }
        let runs = S3Runs(s3: aws.s3, bucket: bucket, prefix: prefix)
        do throws(RunFailure) {
            if let lease = try await runs.lease(job: job), lease.expiresAt > Timestamp.epochSeconds() {
                return "still running (run \(lease.run)): a fire now exits 75"
            }
            for id in try await runs.runIDs() {
                guard let state = try await runs.state(run: id), state.job == job else { continue }
                let c = state.counts
                let status =
                    state.status == .running ? "stopped unexpectedly (resumed by the next fire)" : state.status.rawValue
                return
                    "\(status) \(state.updatedAt): \(c.ok) ok, \(c.failed) failed, \(c.incomplete) incomplete (run \(id))"
            }
            return "no run yet"
        } catch {
            return "unknown (\(error.description))"
        }
    }
}
