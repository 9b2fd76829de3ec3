import Coordinator
import CrawlKit
import Foundation
import S3Runs

/// `crawlrun stop RUN_DIR`: stops a run from another shell (or a scheduler) and leaves it
/// resumable.
struct StopCommand: Command {
    static let name = "stop"
    static let arguments = ArgumentSpec(positionals: 1...1, positionalName: "a run directory")
    static let help = """
        usage: crawlrun stop RUN_DIR|s3://BUCKET/PREFIX/RUN-ID

        Stops every task of a run, on whatever backend it runs, and leaves it resumable
        (`crawlrun resume RUN_DIR`). When the run's crawlrun is alive it is sent SIGTERM — as
        Ctrl-C would — and this waits until it has stopped its tasks and written the state. When
        that crawlrun is gone (killed, a reboot), the tasks the backend still knows for the run
        are stopped here.

        Exit codes: 0 stopped (or not running) · 2 something could not be stopped · 64 usage.
        """

    let directory: String

    init(_ parsed: ParsedArguments) throws(UsageError) { directory = parsed.positionals[0] }

    func run() async throws -> ExitCode {
        if let (runs, id) = try RemoteRun.s3Run(directory) {
            return try await stopOnS3(runs, run: id)
        }
        let (layout, state) = try RunLayout.loadForCommand(directory)
        if let owner = state.owner, RunOwnerCheck.isAlive(owner) {
            guard kill(owner.pid, SIGTERM) == 0 else {
                throw RunFailure("cannot signal crawlrun (pid \(owner.pid))", errno: errno)
            }
            StandardError.write("crawlrun: asked crawlrun (pid \(owner.pid)) to stop run \(state.run); waiting…\n")
            while RunOwnerCheck.isAlive(owner) { try await Task.sleep(for: .milliseconds(100)) }
            let after = try? RunStore.loadState(layout)
            StandardOutput.print(
                "run \(state.run) stopped (\(after?.status.rawValue ?? "state unknown")); "
                    + "go on with: crawlrun resume \(directory)")
            return .ok
        }
        guard state.status == .running else {
            StandardOutput.print("run \(state.run) is not running (\(state.status.rawValue)); nothing to stop")
            return .ok
        }
        return try await stopLeftovers(layout: layout, state: state)
    }

    /// A run on S3, from any machine: its coordinator (the job's lease names the run) is asked
    /// through a stop request object and this waits until it has stopped; with no live
    /// coordinator, what the backend still runs for the run is stopped here.
    func stopOnS3(_ runs: S3Runs, run: String) async throws -> ExitCode {
        guard let state = try await runs.state(run: run) else {
            throw UsageError("\(directory) is not a run: there is no \(RunLayout.state) under it")
        }
        func live(_ lease: JobLease?) -> Bool {
            lease.map { $0.run == run && $0.expiresAt > Timestamp.epochSeconds() } == true
        }
        let lease = try await runs.lease(job: state.job)
        if let lease, live(lease) {
            try await runs.requestStop(run: run)
            StandardError.write("crawlrun: asked \(lease.owner) to stop run \(run); waiting…\n")
            while live(try await runs.lease(job: state.job)) {
                let now = try await runs.state(run: run)
                if let now, now.status != .running && now.owner == nil { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            let after = try? await runs.state(run: run)
            StandardOutput.print(
                "run \(run) stopped (\(after?.status.rawValue ?? "state unknown")); go on with: crawlrun resume \(directory)"
            )
            return .ok
        }
        guard state.status == .running else {
            StandardOutput.print("run \(state.run) is not running (\(state.status.rawValue)); nothing to stop")
            return .ok
        }
        let scratch = try RemoteRun.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let layout = RunLayout(runsDirectory: scratch, id: run)
        try await runs.download(run: run, into: layout)
        return try await stopLeftovers(layout: layout, state: state)
    }

    /// Its crawlrun is gone: stop what the backend still runs for it.
    func stopLeftovers(layout: RunLayout, state: RunState) async throws -> ExitCode {
        guard let backendName = Backend(rawValue: state.backend) else {
            throw RunFailure("state.json names an unknown backend \"\(state.backend)\"")
        }
        let source = try FileText.contents(of: layout.jobPath)
        let job = try Job.parse(Data(source), path: layout.jobPath, backend: backendName)
        var options = try RunOptions(ParsedArguments([], spec: RunOptions.arguments, command: Self.name))
        options.runsDirectory = layout.runsDirectory
        options.backend = backendName
        let driver = RunDriver(job: job, jobSource: source, options: options)
        let backend = driver.makeBackend(display: Display(quiet: false))
        let context = RunContext(id: state.run, layout: layout, job: job, taskDefinition: TaskDefinition.render(job))
        try await backend.prepare(run: context)
        let known = try await backend.reattach(run: context)
        var failures: [String] = []
        var stopped = 0
        for task in known {
            switch task.phase {
            case .starting, .running, .lostContact:
                do throws(RunFailure) {
                    try await backend.stop(task: task.task, reason: "crawlrun stop")
                    stopped += 1
                } catch {
                    failures.append("\(task.task): \(error)")
                }
            case .stopped, .missing:
                break
            }
        }
        await backend.shutdown()
        for f in failures { StandardError.write("crawlrun: could not stop \(f)\n") }
        StandardOutput.print(
            "run \(state.run): its crawlrun was gone; \(known.count) task\(known.count == 1 ? "" : "s") found, "
                + "\(stopped) stopped here; go on with: crawlrun resume \(directory)")
        return failures.isEmpty ? .ok : .infrastructure
    }
}
