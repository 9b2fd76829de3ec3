import AWS
import Coordinator
import CrawlKit
import Foundation

/// Copies the logs of a stopped task into the run directory as `logs/<batch>/<container>.log`,
/// in the background: a task's slot is free as soon as its results are read, and `drain()` (the
/// backend's shutdown) waits for every copy. Copies into one directory run one after the other,
/// so the attempts of a batch append in order.
///
/// A task whose crawler exited 0 uploaded its log beside its results (`CrawlerLogLocation`): one
/// S3 GET, the only copy made for it (its sidecar's stream is left on CloudWatch, where
/// `crawlrun logs RUN BATCH --container sidecar` reads it). Any other task, or one whose upload
/// is missing, has each container's CloudWatch stream copied (`<prefix>/<container>/<task-id>`,
/// the awslogs driver's name): GetLogEvents is a hard per-account quota meant for people, not
/// fleets (the Logs client's bucket), so a run of thousands of tasks that end well reads none.
///
/// CloudWatch's tail arrives seconds after the task stops (ECS-NOTES.md, "CloudWatch Logs"): a
/// crawler that exited 0 wrote `crawler: done N/N` last, so its stream is read until that line;
/// another crawler's stream until a read brings nothing new once `settle` seconds have passed
/// since its containers stopped; the sidecar's once the crawler's is complete. Every wait is
/// bounded by `grace`; what did not arrive is said in the file, as is a stream that is missing.
actor FargateLogCopier {
    struct Options: Sendable {
        var grace: Double = 30
        var settle: Double = 3
        var poll: Double = 0.5
        /// CloudWatch copies at once (each paced by the Logs client's bucket anyway).
        var maxConcurrent = 8
        /// S3 copies at once: S3 serves thousands of GETs a second per prefix.
        var maxConcurrentS3 = 32
    }

    private struct Copy: Sendable {
        var task: ECSTask
        var directory: String
        var streamPrefixes: [String: String]
        /// The crawler's uploaded log, read first; nil: CloudWatch only.
        var uploaded: S3Location?
    }

    let logs: LogsClient
    let s3: S3Client
    let group: String
    let options: Options
    let notes: @Sendable (String) -> Void
    private var queue: [Copy] = []
    private var busy: Set<String> = []
    private var running = 0
    private var runningS3 = 0
    private var idle: [CheckedContinuation<Void, Never>] = []

    init(
        logs: LogsClient, s3: S3Client, group: String, options: Options,
        notes: @escaping @Sendable (String) -> Void
    ) {
        self.logs = logs
        self.s3 = s3
        self.group = group
        self.options = options
        self.notes = notes
    }

    /// `streamPrefixes`: each container's `awslogs-stream-prefix` (ECS's default is "ecs");
    /// `uploaded`: where the crawler put its log, for a task whose crawler exited 0.
    func enqueue(_ task: ECSTask, into directory: String, streamPrefixes: [String: String], uploaded: S3Location?) {
        queue.append(Copy(task: task, directory: directory, streamPrefixes: streamPrefixes, uploaded: uploaded))
        pump()
    }

    /// Returns once every copy asked for so far is done.
    func drain() async {
        if queue.isEmpty && running == 0 && runningS3 == 0 { return }
        await withCheckedContinuation { idle.append($0) }
    }

    private func pump() {
        while let i = queue.firstIndex(where: {
            !busy.contains($0.directory)
                && ($0.uploaded == nil ? running < options.maxConcurrent : runningS3 < options.maxConcurrentS3)
        }) {
            let copy = queue.remove(at: i)
            let fromS3 = copy.uploaded != nil
            if fromS3 { runningS3 += 1 } else { running += 1 }
            busy.insert(copy.directory)
            Task {
                await self.copy(copy)
                self.finished(copy.directory, fromS3: fromS3)
            }
        }
    }

    private func finished(_ directory: String, fromS3: Bool) {
        if fromS3 { runningS3 -= 1 } else { running -= 1 }
        busy.remove(directory)
        pump()
        if queue.isEmpty && running == 0 && runningS3 == 0 {
            for waiter in idle { waiter.resume() }
            idle.removeAll()
        }
    }

    private nonisolated func copy(_ copy: Copy) async {
        if let uploaded = copy.uploaded, await copyUploaded(uploaded, of: copy.task, into: copy.directory) { return }
        await copyStreams(copy.task, into: copy.directory, streamPrefixes: copy.streamPrefixes)
    }

    /// The crawler's own upload into `crawler.log`; false when it is not there (CloudWatch then).
    private nonisolated func copyUploaded(
        _ location: S3Location, of task: ECSTask, into directory: String
    ) async
        -> Bool
    {
        let body: Data
        do {
            body = try await s3.getObject(location)
        } catch {
            // Missing (404, or 403 without s3:ListBucket) or unreadable: the stream has it too.
            notes("task \(task.taskId): \(location) not read (\(error.code)): its logs come from CloudWatch")
            return false
        }
        let file = ContainerLog(path: directory + "/\(TaskDefinition.crawlerName).log")
        defer { file.close() }
        file.note("task \(task.taskArn): \(TaskDefinition.crawlerName)'s log as it uploaded it to \(location)")
        for line in String(decoding: body, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true) {
            file.write(String(line))
        }
        return true
    }
    private enum Until { case sentinel, quiet, once }

    private nonisolated func copyStreams(
        _ task: ECSTask, into directory: String, streamPrefixes: [String: String]
    ) async {
        // The crawler first: its sentinel says CloudWatch has the task's tail.
        for name in [TaskDefinition.crawlerName, TaskDefinition.sidecarName] {
            let file = ContainerLog(path: directory + "/\(name).log")
            defer { file.close() }
            let stream = FargateLogStreams.stream(container: name, task: task.taskArn, prefixes: streamPrefixes)
            let container = task.container(name)
            file.note("task \(task.taskArn): \(name)'s output from CloudWatch Logs \(group) \(stream)")
            guard container?.exitCode != nil || task.startedAt != nil else {
                file.note("no log: the container never started (\(task.stoppedReason ?? "no reason given"))")
                continue
            }
            let until: Until =
                name != TaskDefinition.crawlerName ? .once : container?.exitCode == 0 ? .sentinel : .quiet
            await copyStream(stream, of: task, until: until, into: file)
        }
    }

    private nonisolated func copyStream(_ stream: String, of task: ECSTask, until: Until, into file: ContainerLog) async
    {
        let started = ContinuousClock.now
        let stopped = (task.executionStoppedAt ?? task.stoppedAt)?.timeIntervalSince1970 ?? Timestamp.epochSeconds()
        var token: String?
        var lines = 0
        while true {
            let elapsed = (ContinuousClock.now - started).seconds
            let settled = Timestamp.epochSeconds() - stopped >= options.settle
            do {
                // Page by page (not readStream): a crawler's stream is done at its sentinel,
                // without the extra call that would confirm the stream's end.
                var atEnd = false
                var sentinel = false
                var fresh = 0
                repeat {
                    let page = try await logs.getLogEvents(group: group, stream: stream, nextToken: token)
                    for event in page.events {
                        file.write(FargateLogStreams.stamped(event))
                        if event.message.contains("crawler: done ") { sentinel = true }
                    }
                    lines += page.events.count
                    fresh += page.events.count
                    // The end: the token sent comes back (ECS-NOTES.md, "CloudWatch Logs").
                    atEnd = page.nextForwardToken == nil || page.nextForwardToken == token
                    token = page.nextForwardToken ?? token
                    if until == .sentinel && sentinel { return }
                } while !atEnd
                // Read to the end: the sidecar's stream is done; another crawler's once a read to
                // the end brings nothing new after the quiet period.
                if until == .once || until == .quiet && fresh == 0 && settled { return }
            } catch  where error.category == .notFound {
                if until == .once && settled || elapsed >= options.grace {
                    file.note("no CloudWatch stream \(stream) in \(group) (\(error.code)): nothing to copy")
                    return
                }
            } catch {
                file.note("the log could not be read: \(error)")
                notes("task \(task.taskId): \(stream) not copied: \(error)")
                return
            }
            if elapsed >= options.grace {
                file.note(
                    "copied \(lines) line\(lines == 1 ? "" : "s"); the rest did not reach CloudWatch within \(Int(options.grace)) s"
                        + (until == .sentinel ? " (no \"crawler: done\" line yet)" : ""))
                return
            }
            try? await Task.sleep(for: .milliseconds(Int64(options.poll * 1000)))
        }
    }
}
