import AWS
import Coordinator
import CrawlKit
import Foundation

/// What the backend does for a run as a whole: finds its tasks again after a restart, and leaves
/// none of them running when the run ends.
extension FargateBackend {
    /// Every task ECS still knows for the run, with the batch attempt its tags name, so `resume`
    /// adopts a task instead of launching it twice. ListTasks by `startedBy` alone (ECS refuses
    /// it with any other filter, so it lists only the tasks ECS wants running) plus the tasks the
    /// run's state names (`run.tasks`: stopped ones stay described for about an hour), then
    /// DescribeTasks. A task without crawlrun's tags is left out.
    /// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html
    public func reattach(run: RunContext) async throws(RunFailure) -> [KnownTask] {
        state.withLock { $0.run = $0.run ?? run.id }
        let described: DescribeTasksResult
        do {
            let listed = try await aws.ecs.listTasks(cluster: cluster, startedBy: run.id)
            let arns = Set(listed + run.tasks).sorted()
            // No ARN, no call: DescribeTasks refuses an empty list.
            described = try await aws.ecs.describeTasks(cluster: cluster, tasks: arns, includeTags: true)
        } catch {
            throw RunFailure("the run's tasks could not be listed on \(cluster)", cause: error.description)
        }
        var found: [KnownTask] = []
        for task in described.tasks {
            let tags = Dictionary(task.tags.map { ($0.key, $0.value) }) { a, _ in a }
            guard tags[FargateLaunch.runTag] ?? run.id == run.id, let batch = tags[FargateLaunch.batchTag],
                let attempt = tags[FargateLaunch.attemptTag].flatMap({ Int($0) })
            else { continue }
            let phase = FargateStopReasons.phase(of: task, assignPublicIp: job.fargate.assignPublicIp)
            state.withLock { s in
                if s.known[task.taskArn] == nil, task.lastStatus != .stopped { s.live += 1 }
                let over = task.lastStatus == .stopped
                s.known[task.taskArn] = Known(
                    batch: batch, attempt: attempt,
                    launchedAt: task.createdAt?.timeIntervalSince1970 ?? Timestamp.epochSeconds(),
                    stopped: over ? task : nil, ended: over)
            }
            found.append(KnownTask(task: task.taskArn, batch: batch, attempt: attempt, phase: phase))
        }
        return found.sorted { ($0.batch, $0.attempt) < ($1.batch, $1.attempt) }
    }

    /// The run is over, or crawlrun is going away: the logs still being copied are finished, and
    /// any task the run started that ECS still wants running (one whose launch answer was lost
    /// and never retried, say) is stopped — every StopTask at once, the failures reported
    /// together — then awaited until STOPPED, within `options.shutdownWait`.
    public func shutdown() async {
        counters.withLock { $0.shutdownAt = $0.shutdownAt ?? Timestamp.epochSeconds() }
        await copier.drain()
        guard let run = state.withLock({ $0.run }) else { return }
        // The tasks ECS wants running for the run (startedBy alone: ECS takes no other filter
        // with it), and the ones this crawlrun knows and has not seen stop (a ListTasks that
        // fails must not leave them running).
        var left = Set(state.withLock { s in s.known.filter { !$0.value.ended }.map(\.key) })
        do {
            left.formUnion(try await aws.ecs.listTasks(cluster: cluster, startedBy: run))
        } catch {
            notes("could not list the tasks of run \(run) still running: \(error)")
        }
        if let described = try? await aws.ecs.describeTasks(cluster: cluster, tasks: left.sorted()) {
            // Those already stopped (or stopping at ECS's wish) need no StopTask.
            left = Set(described.tasks.filter { $0.desiredStatus != .stopped }.map(\.taskArn))
        }
        guard !left.isEmpty else { return }
        notes("stopping \(left.count) task\(left.count == 1 ? "" : "s") of run \(run) still running")
        let failures = await stopAll(left.sorted(), reason: "crawlrun run \(run) is over")
        if !failures.isEmpty {
            notes(
                "\(failures.count) task\(failures.count == 1 ? "" : "s") could not be stopped (stop them with aws ecs stop-task): "
                    + failures.joined(separator: "; "))
        }
        let deadline = ContinuousClock.now + .milliseconds(Int64(options.shutdownWait * 1000))
        var running = left.sorted()
        while !running.isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .seconds(1))
            guard let described = try? await aws.ecs.describeTasks(cluster: cluster, tasks: running) else { continue }
            running = described.tasks.filter { $0.lastStatus != .stopped }.map(\.taskArn)
        }
        if !running.isEmpty {
            notes("still stopping after \(Int(options.shutdownWait)) s: \(running.joined(separator: ", "))")
        }
    }

    /// StopTask for each task at once (the ECS client paces them under StopTask's rate); the
    /// failures, each naming its task.
    func stopAll(_ tasks: [String], reason: String) async -> [String] {
        await withTaskGroup(of: String?.self) { group in
            for task in tasks {
                group.addTask {
                    do throws(RunFailure) {
                        try await self.stop(task: task, reason: reason)
                        return nil
                    } catch {
                        return "\(task): \(error)"
                    }
                }
            }
            var failures: [String] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
    }
}
