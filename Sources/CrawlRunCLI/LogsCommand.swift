import Coordinator
import CrawlKit
import FargateBackend
import Foundation

/// `crawlrun logs RUN_DIR [BATCH] [--container NAME]`: a run's container logs. Without a batch,
/// the log files the run directory holds; with one, that batch's log — on Fargate read from
/// CloudWatch Logs on demand, every attempt's stream, since a run copies streams only for tasks
/// that failed (a task that ended well uploaded its crawler log beside its results, and its
/// sidecar's output stays on CloudWatch).
struct LogsCommand: Command {
    static let name = "logs"
    static let arguments = ArgumentSpec(
        options: ["--container"], positionals: 1...2, positionalName: "a run directory and a batch")
    static let help = """
        usage: crawlrun logs RUN_DIR [BATCH] [--container crawler|webdriver]

        Without BATCH: lists the log files in RUN_DIR/logs (logs/<batch>/<container>.log).
        With BATCH: prints that batch's log of one container (default: crawler). On Fargate each
        attempt's CloudWatch Logs stream is read now (<prefix>/<container>/<task-id> in the job's
        log group) — a run copies streams only for tasks that failed; the crawler log of a task
        that ended well is already in logs/<batch>/crawler.log, and its sidecar's output is on
        CloudWatch only. Elsewhere (local, docker) the file in logs/<batch>/ is printed.

        Exit codes: 0 printed · 2 a stream could not be read · 64 usage (no such run or batch).
        """

    let directory: String
    let batch: String?
    let container: String

    init(_ parsed: ParsedArguments) throws(UsageError) {
        directory = parsed.positionals[0]
        batch = parsed.positionals.count > 1 ? parsed.positionals[1] : nil
        container = parsed.values["--container"]?.last ?? TaskDefinition.crawlerName
        guard [TaskDefinition.crawlerName, TaskDefinition.sidecarName].contains(container) else {
            throw UsageError(
                "--container \(container): a task has \(TaskDefinition.crawlerName) and \(TaskDefinition.sidecarName)")
        }
    }

    func run() async throws -> ExitCode {
        let (layout, state) = try RunLayout.loadForCommand(directory)
        guard let batch else { return list(layout) }
        guard let entry = state.ledger.batches.first(where: { $0.id == batch }) else {
            throw UsageError("run \(state.run) has no batch \(batch) (crawlrun logs \(directory) lists its logs)")
        }
        let file = layout.logDirectory(batch: batch) + "/\(container).log"
        guard state.backend == Backend.fargate.rawValue else {
            guard let text = FileManager.default.contents(atPath: file) else {
                StandardOutput.print("no \(container) log for batch \(batch) (\(file) does not exist)")
                return .ok
            }
            StandardOutput.write([UInt8](text))
            return .ok
        }
        let job = try Job.parse(
            Data(try FileText.contents(of: layout.jobPath)), path: layout.jobPath, backend: .fargate)
        let prefixes = FargateLogStreams.prefixes(TaskDefinition.render(job))
        var failed = false
        for attempt in entry.attempts {
            guard let task = attempt.task else {
                StandardOutput.print("# batch \(batch) attempt \(attempt.attempt): no task was started")
                continue
            }
            let stream = FargateLogStreams.stream(container: container, task: task, prefixes: prefixes)
            StandardOutput.print("# batch \(batch) attempt \(attempt.attempt): \(job.fargate.logGroup) \(stream)")
            do {
                for line in try await FargateLogStreams.lines(
                    of: stream, job: job, variables: ProcessInfo.processInfo.environment)
                {
                    StandardOutput.print(line)
                }
            } catch {
                failed = true
                StandardError.write("crawlrun: \(stream) could not be read: \(error)\n")
            }
        }
        return failed ? .infrastructure : .ok
    }

    /// The log files of the run directory, one line each: batch, container, size.
    private func list(_ layout: RunLayout) -> ExitCode {
        let fm = FileManager.default
        let batches = ((try? fm.contentsOfDirectory(atPath: layout.logsPath)) ?? []).sorted()
        for batch in batches {
            let folder = layout.logDirectory(batch: batch)
            for name in ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).sorted() where name.hasSuffix(".log") {
                let size = (try? fm.attributesOfItem(atPath: folder + "/" + name)[.size] as? Int) ?? 0
                StandardOutput.print("logs/\(batch)/\(name)\t\(size) bytes")
            }
        }
        if batches.isEmpty { StandardOutput.print("no logs in \(layout.logsPath)") }
        return .ok
    }
}
