import Coordinator
import CrawlKit

/// Taking a run's containers back after crawlrun went away (`crawlrun resume`, `crawlrun stop`),
/// or after a launch that was already made once: the containers are found by their labels.
extension DockerBackend {
    /// Every task of the run the engine still has: one whose crawler runs is watched again (and
    /// reported running); any other is reported stopped, with what its crawler's exit code says,
    /// while its logs are copied and its containers removed in the background (`collectLogs`
    /// waits for that).
    public func reattach(run: RunContext) async throws(RunFailure) -> [KnownTask] {
        let client = try engine()
        let containers: [ContainerSummary]
        do {
            containers = try await client.listContainers(labels: [DockerLabels.run(run.id)])
        } catch {
            throw RunFailure("cannot list the run's containers on the Docker engine", cause: "\(error)")
        }
        var known: [KnownTask] = []
        for (id, group) in Dictionary(grouping: containers, by: { $0.labels[DockerLabels.task] ?? "" }) {
            guard !id.isEmpty, let batch = group.first?.labels[DockerLabels.batch],
                let attempt = group.first?.labels[DockerLabels.attempt].flatMap({ Int($0) })
            else { continue }
            let phase = await take(
                id, group, client: client, isPodman: isPodman, logDirectory: run.layout.logDirectory(batch: batch),
                stopTimeout: run.job.task.stopTimeout)
            known.append(KnownTask(task: id, batch: batch, attempt: attempt, phase: phase))
        }
        return known.sorted { $0.task < $1.task }
    }

    /// A launch whose containers exist already (the engine refused a second one of that name):
    /// false when nothing of the task is found, so the conflict was something else.
    func adoptExisting(
        _ id: String, client: DockerClient, isPodman: Bool, stopTimeout: Int, logDirectory: String
    ) async -> Bool {
        guard let group = try? await client.listContainers(labels: [DockerLabels.task(id)]), !group.isEmpty else {
            return false
        }
        _ = await take(
            id, group, client: client, isPodman: isPodman, logDirectory: logDirectory, stopTimeout: stopTimeout)
        return true
    }

    /// Takes over one task's containers and says where the task is.
    private func take(
        _ id: String, _ group: [ContainerSummary], client: DockerClient, isPodman: Bool, logDirectory: String,
        stopTimeout: Int
    ) async -> TaskPhase {
        let sidecar = group.first { $0.labels[DockerLabels.container] == TaskDefinition.sidecarName }
        let crawler = group.first { $0.labels[DockerLabels.container] == TaskDefinition.crawlerName }
        let task = DockerTask(
            id: id, client: client, isPodman: isPodman, logDirectory: logDirectory, onChange: tasks.announce)
        let phase: TaskPhase
        if let sidecar, let crawler, crawler.state == "running" {
            task.begin(.adopt(sidecar: sidecar.id, crawler: crawler.id, stopTimeout: stopTimeout))
            phase = .running
        } else {
            let end: TaskEnd
            if let crawler, crawler.state != "created" {
                let code = (try? await client.inspectContainer(crawler.id)).map { Int32(clamping: $0.state.exitCode) }
                end = TaskEnd(
                    stopCode: .essentialContainerExited,
                    reason: "Essential container in task exited (\(TaskDefinition.crawlerName): "
                        + "\(DockerTask.describe(code))) while crawlrun was gone",
                    containers: [
                        ContainerExit(name: TaskDefinition.sidecarName, exitCode: nil),
                        ContainerExit(name: TaskDefinition.crawlerName, exitCode: code),
                    ])
            } else {
                let reason =
                    "crawlrun was gone before the crawler started; the sidecar was stopped when the task was found"
                end = TaskEnd(
                    stopCode: .taskFailedToStart, reason: reason,
                    containers: [ContainerExit(name: TaskDefinition.sidecarName, exitCode: nil, reason: reason)])
            }
            task.begin(.collect(end, sidecar: sidecar?.id, crawler: crawler?.id, stopTimeout: stopTimeout))
            phase = .stopped(end)
        }
        tasks.insert(task, as: id)
        return phase
    }
}
