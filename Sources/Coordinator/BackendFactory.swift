import CrawlKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the engine needs to know of a backend before it exists: its defaults for the plan and
/// how to build it. Each backend module has one (`LocalBackend.Factory`, `DockerBackend.Factory`,
/// `FargateBackend.Factory`), so the commands pick a factory once and never build a backend's
/// clients or processes themselves. Nothing here reaches the network or starts a process until
/// `make`.
public protocol BackendFactory: Sendable {
    var backend: Backend { get }
    /// Tasks at once when `--max-tasks` is not given.
    func defaultMaxTasks(for job: Job) -> Int
    /// Seconds a task may take to be running after its launch before it is stopped.
    func startTimeout(for job: Job) -> Double
    /// Where a batch attempt's files are, as the plan shows them before the run has an id: `run`
    /// is the placeholder `{run}`; `runsDirectory` is where the run's directory will be.
    func plannedLocations(
        job: Job, runsDirectory: String, run: String, batch: String, attempt: Int
    ) -> TaskLocations
    /// The backend for the job. `notes` takes what the backend has to tell a person (a warning).
    func make(job: Job, notes: @escaping @Sendable (String) -> Void) -> any TaskBackend
}

extension BackendFactory {
    /// Fargate's provisioning timeout is the job's; a local process or container that is not
    /// running after 15 minutes will not be.
    public func startTimeout(for job: Job) -> Double { 900 }

    /// The task's files in the run directory itself (a backend whose tasks see the host's files).
    public func plannedLocations(
        job: Job, runsDirectory: String, run: String, batch: String, attempt: Int
    ) -> TaskLocations {
        let layout = RunLayout(runsDirectory: runsDirectory, id: run)
        return TaskLocations(
            batch: layout.batchPath(batch, attempt: attempt), out: layout.attemptResultsPath(batch, attempt: attempt))
    }

    /// One task per core, and at most one per GiB: each task is a browser on this machine.
    public static func machineMaxTasks() -> Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let gib = Int(ProcessInfo.processInfo.physicalMemory >> 30)
        return max(1, min(cores, gib, 16))
    }
}
