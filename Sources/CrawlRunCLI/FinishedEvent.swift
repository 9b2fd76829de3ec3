import AWS
import Coordinator
import CrawlKit
import Foundation
import JSONKit

/// The end of a run told to EventBridge (`run --events`, what the coordinator task runs): one
/// event `source: crawlrun`, `detail-type: Crawl Run Finished` on the default bus, so a rule
/// routes it to SNS, chat or email (README, "Scheduled runs on AWS"). A failed put is said on
/// standard error and changes nothing else: the run's outcome is in its report.
enum FinishedEvent {
    static let source = "crawlrun"
    static let detailType = "Crawl Run Finished"

    static func detail(report: RunReport, exitCode: ExitCode, reportURL: String) -> JSONValue {
        [
            "job": .string(report.job), "run": .string(report.run), "status": .string(report.status.rawValue),
            "exitCode": .number(Double(exitCode.rawValue)), "counts": RunReport.json(report.counts),
            "seconds": .number(rounded(report.seconds, 3)), "report": .string(reportURL),
        ]
    }

    static func put(report: RunReport, exitCode: ExitCode, reportURL: String, region: String?, display: Display) async {
        let variables = ProcessInfo.processInfo.environment
        let aws = AWSServices(region: region ?? AWSEnvironment(variables).region() ?? "us-east-1", variables: variables)
        do {
            let id = try await aws.events.putEvent(
                source: source, detailType: detailType,
                detail: detail(report: report, exitCode: exitCode, reportURL: reportURL))
            display.note("event \(detailType) put on EventBridge (id \(id))")
        } catch {
            StandardError.write("crawlrun: the \(detailType) event was not put on EventBridge: \(error)\n")
        }
    }
}

/// The coordinator task's own billed time, beside the batch tasks' in report.json: set when
/// crawlrun runs as the coordinator task (its task definition names its size in
/// CRAWLRUN_COORDINATOR_TASK=CPU/MEMORY). Fargate bills from the image pull to the task's stop,
/// one minute at least; the process's life is what the coordinator can see of it.
enum CoordinatorUsage {
    /// When this process started (the first thing `crawlrun` reads).
    /// Set on first use: `CLI.main` touches it before anything else.
    static let processStart = Date()
    static let variable = "CRAWLRUN_COORDINATOR_TASK"

    static func adding(to report: JSONValue, task: TaskSettings, now: Date = Date()) -> JSONValue {
        let size = ProcessInfo.processInfo.environment[variable]?.split(separator: "/").compactMap { Int($0) } ?? []
        guard size.count == 2, case .object(var root) = report else { return report }
        let seconds = now.timeIntervalSince(processStart)
        let usd =
            FargatePrice.billed(seconds)
            * FargatePrice.perSecond(cpu: size[0], memory: size[1], architecture: task.architecture)
        root["coordinator"] = [
            "seconds": .number(rounded(seconds, 3)), "cpu": .number(Double(size[0])),
            "memory": .number(Double(size[1])), "usd": .number(rounded(usd, 6)),
        ]
        return .object(root)
    }
}

func rounded(_ x: Double, _ places: Int) -> Double {
    let scale = pow(10, Double(places))
    return (x * scale).rounded() / scale
}
