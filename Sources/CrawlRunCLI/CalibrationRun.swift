import Coordinator
import CrawlKit
import DockerBackend
import Foundation
import JSONKit
import LocalBackend
import ProcessKit
import Synchronization

/// One size of `crawlrun calibrate`: `crawlrun run` of the job copy, its containers' CPU and
/// memory read from the engine every half second meanwhile (docker), or the CPU of the run's
/// process tree (local: its tasks are this run's children).
struct CalibrationRun {
    let job: CalibrationJob
    let backend: Backend
    let work: String
    let docker: DockerClient?

    func measure() async throws -> Calibration.Row? {
        let dir = work + "/\(job.cpu)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let jobFile = dir + "/job.json"
        try job.value.encoded().write(to: URL(fileURLWithPath: jobFile))
        // The run's guard: its tasks stop if calibrate dies (as `run`'s do if it dies).
        let lifeline = try? LocalBackend.Factory(guardCommand: RunDriver.guardCommand).processGuard()
        let cpu0 = Self.childrenCPU()
        let start = Timestamp.epochSeconds()
        let child = try ChildProcess(
            RunDriver.executablePath,
            arguments: ["run", jobFile, "--backend", backend.rawValue, "--runs-dir", dir + "/runs", "--quiet"],
            stdout: .null, stderr: .inherit, name: "crawlrun run")
        lifeline?.watch(group: child.pid)
        let sampler = backend == .docker ? docker.map { ContainerSampler(job: job.name, client: $0) } : nil
        let sampling = Task { await sampler?.run() }
        let status = await child.wait()
        sampling.cancel()
        await sampling.value
        lifeline?.release(group: child.pid)
        guard status == .exited(0) || status == .exited(1) else { return nil }
        let records = Self.records(dir + "/runs/latest/results.jsonl")
        guard !records.isEmpty else { return nil }
        let starts = records.compactMap { Timestamp.epochSeconds(of: $0.startedAt) }
        let ends = records.compactMap { r in Timestamp.epochSeconds(of: r.startedAt).map { $0 + Double(r.ms) / 1000 } }
        let first = starts.min() ?? start
        let span = max(0.001, (ends.max() ?? first) - first)
        let cpuSeconds = sampler.map(\.cpuSeconds) ?? (Self.childrenCPU() - cpu0)
        let concurrency = CrawlConcurrency.choose(
            cpu: job.cpu, memory: job.memory, sessions: job.value["crawl"]?["sessions"]?.intValue,
            tabs: job.value["crawl"]?["tabsPerSession"]?.intValue)
        return Calibration.Row(
            cpu: job.cpu, memory: job.memory, sessions: concurrency.sessions,
            tabsPerSession: concurrency.tabsPerSession,
            pages: records.count, ok: records.filter(\.ok).count, pagesPerSecond: Double(records.count) / span,
            startupSeconds: max(0, first - start), cpuSecondsPerPage: cpuSeconds / Double(records.count),
            peakMemoryMiB: sampler.map { $0.peakBytes / 1_048_576 })
    }

    static func records(_ path: String) -> [ResultRecord] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONDecoder().decode(ResultRecord.self, from: Data($0.utf8))
        }
    }

    /// CPU-seconds of this process's reaped children (and theirs, as each reaped its own).
    static func childrenCPU() -> Double {
        var u = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
}

/// The job's containers' CPU (the last reading of each) and their summed memory's peak.
final class ContainerSampler: Sendable {
    let job: String
    let client: DockerClient
    private let state = Mutex<(cpu: [String: Double], peak: Double)>(([:], 0))

    init(job: String, client: DockerClient) {
        self.job = job
        self.client = client
    }

    func run() async {
        while !Task.isCancelled {
            if let running = try? await client.listContainers(labels: ["\(DockerLabels.job)=\(job)"], all: false) {
                var memory = 0.0
                for c in running {
                    guard let s = try? await client.stats(c.id) else { continue }
                    memory += s.memoryBytes
                    state.withLock { $0.cpu[c.id] = max($0.cpu[c.id] ?? 0, s.cpuSeconds) }
                }
                state.withLock { $0.peak = max($0.peak, memory) }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    var cpuSeconds: Double { state.withLock { $0.cpu.values.reduce(0, +) } }
    var peakBytes: Double { state.withLock { $0.peak } }
}

/// What `calibrate` prints.
enum CalibrationTable {
    static func line(_ r: Calibration.Row, architecture: String) -> String {
        let cpu = r.cpuSecondsPerPage.map { String(format: "%.3f", $0) } ?? "—"
        let memory = r.peakMemoryMiB.map { String(format: "%.0f MiB", $0) } ?? "—"
        return "| \(vcpu(r.cpu)) | \(r.memory) MiB | \(r.sessions) × \(r.tabsPerSession) | "
            + String(format: "%.2f", r.pagesPerSecond) + " | \(cpu) | \(memory) | "
            + String(format: "%.0f %%", r.okRate * 100) + " | "
            + String(format: "$%.4f", r.usdPerThousandPages(architecture: architecture)) + " |"
    }

    static func vcpu(_ cpu: Int) -> String { Estimate.show(Double(cpu) / 1024) + " vCPU" }

    static func text(_ c: Calibration, fargateStartup: Double, saved: String) -> String {
        var out = [
            "| size | memory | browsers | pages/s | CPU s/page | peak memory | ok | $/1,000 pages |",
            "|---|---|---|---|---|---|---|---|",
        ]
        out += c.rows.map { line($0, architecture: c.architecture) }
        if c.backend == "local" {
            out.append("measured on the local backend: no CPU or memory limits, this machine's figures")
        }
        if let best = c.recommended {
            let startup = fargateStartup + best.startupSeconds
            out.append(
                "recommended: \(vcpu(best.cpu)), \(best.memory) MiB (task.cpu \(best.cpu), task.memory \(best.memory)): the cheapest per page with the best ok rate"
            )
            out.append(
                "batching.batchSize ≥ \(Calibration.batchSize(row: best, startupSeconds: startup)) keeps start-up (\(Estimate.show(fargateStartup)) s on Fargate, task.startupSeconds, + \(String(format: "%.1f", best.startupSeconds)) s measured) under 10 % of a task's time"
            )
        }
        out.append("saved: \(saved) (crawlrun plan uses it)")
        return out.joined(separator: "\n")
    }
}
