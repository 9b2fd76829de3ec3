import CrawlKit
import DockerBackend
import Foundation
import JSONKit
import ProcessKit

/// `crawlrun calibrate JOB [--sample N]`: crawls a sample of the job's own URLs at each Fargate
/// size on the docker backend (its NanoCpus and memory limits are the task's), and prints what a
/// page costs at each; the figures are saved beside the job for `crawlrun plan`. Each size is a
/// `crawlrun run` of a copy of the job (this executable, a run directory in a temporary folder),
/// so what is measured is exactly what a run does.
struct CalibrateCommand: Command {
    static let name = "calibrate"
    static let arguments = ArgumentSpec(
        options: ["--sample", "--backend", "--sizes"], positionals: 1...1, positionalName: "a job file")
    static let help = """
        usage: crawlrun calibrate JOB [--sample N] [--backend docker|local] [--sizes CPU,…]

        Crawls the job's first N URLs (default 20) once per Fargate size — 0.25, 0.5, 1, 2 and
        4 vCPU, each with the smallest memory that holds the browsers the plan chooses there —
        on the docker backend, whose containers get the task's CPU and memory limits, and prints
        per size: pages/s, CPU-seconds per page, peak memory, ok rate and $ per 1,000 pages at
        Fargate's on-demand price. Recommends the cheapest size whose ok rate is the best, and a
        batch size that keeps a task's start-up under 10 % of its time. Without a reachable
        Docker engine (DOCKER_HOST) it measures one row on the local backend instead, without
        limits, and says so. Writes JOB's figures to JOB.calibration.json (job.json →
        job.calibration.json), which `crawlrun plan` then uses for the job's estimate.
        Sizes larger than the engine's machine (its CPUs, its memory) are left out, saying so;
        --sizes 256,1024 measures only those CPU sizes (ECS units, 1024 = 1 vCPU).

        Exit codes: 0 measured · 2 a size could not be measured · 64 usage · 65 invalid job.
        """

    let jobPath: String
    let sample: Int
    let requested: Backend?
    let onlyCPU: [Int]?

    init(_ parsed: ParsedArguments) throws(UsageError) {
        jobPath = parsed.positionals[0]
        sample = try parsed.int("--sample", in: 1...10_000) ?? 20
        requested = try parsed.choice("--backend", Backend.self, names: ["docker", "local"])
        onlyCPU = try parsed.value("--sizes").map { list throws(UsageError) in
            let units = list.split(separator: ",").compactMap { Int($0) }
            let known = Calibration.fargateMemory.map(\.cpu)
            guard !units.isEmpty, units.allSatisfy(known.contains) else {
                throw UsageError(
                    "--sizes takes CPU units among \(known.map(String.init).joined(separator: ", ")), comma-separated")
            }
            return units
        }
        if requested == .fargate {
            throw UsageError("calibrate runs on docker or local (it measures Fargate's sizes there)")
        }
    }

    func run() async throws -> ExitCode {
        let job = try Job.load(path: jobPath, backend: .local)
        let raw = try JSONValue.decode(Data(contentsOf: URL(fileURLWithPath: jobPath)))
        let planner = Planner(job: job)
        var urls: [String] = []
        planner.assign(summary: try planner.check()) { _, url in if urls.count < sample { urls.append(url) } }
        let backend = await chooseBackend(job)
        let crawl = raw["crawl"]
        var sizes: [(cpu: Int, memory: Int)] =
            backend == .docker
            ? Calibration.sizes(sessions: crawl?["sessions"]?.intValue, tabs: crawl?["tabsPerSession"]?.intValue)
            : [(job.task.cpu, job.task.memory)]
        if backend == .docker {
            if let onlyCPU { sizes = sizes.filter { onlyCPU.contains($0.cpu) } }
            // An engine refuses a CPU quota beyond its CPUs; a memory limit beyond its memory
            // would measure nothing Fargate would do.
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let mib = Int(ProcessInfo.processInfo.physicalMemory >> 20)
            let (fit, left) = (
                sizes.filter { $0.cpu <= cores * 1024 && $0.memory <= mib },
                sizes.filter { $0.cpu > cores * 1024 || $0.memory > mib }
            )
            if !left.isEmpty {
                StandardError.write(
                    "calibrate: left out (larger than this machine's \(cores) CPUs, \(mib) MiB): \(left.map { "\(CalibrationTable.vcpu($0.cpu)) / \($0.memory) MiB" }.joined(separator: ", "))\n"
                )
            }
            sizes = fit
        }
        StandardError.write(
            "calibrate: \(urls.count) URLs of \(job.name) on the \(backend.rawValue) backend"
                + (backend == .docker ? " (CPU and memory limits as on Fargate)\n" : "\n"))
        let work = NSTemporaryDirectory() + "crawlrun-calibrate-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: work) }
        var rows: [Calibration.Row] = []
        for size in sizes {
            let copy = CalibrationJob(raw: raw, name: job.name, urls: urls, cpu: size.cpu, memory: size.memory)
            let run = CalibrationRun(job: copy, backend: backend, work: work, docker: try? Self.client(job))
            guard let row = try await run.measure() else {
                StandardError.write("calibrate: the \(size.cpu) CPU units / \(size.memory) MiB run failed; see above\n")
                return .infrastructure
            }
            rows.append(row)
            StandardError.write("calibrate: \(CalibrationTable.line(row, architecture: job.task.architecture))\n")
        }
        let calibration = Calibration(
            job: job.name, backend: backend.rawValue, architecture: job.task.architecture, measuredAt: Timestamp.now(),
            rows: rows)
        let path = Calibration.path(forJob: jobPath)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(calibration).write(to: URL(fileURLWithPath: path))
        StandardOutput.print(CalibrationTable.text(calibration, fargateStartup: job.task.startupSeconds, saved: path))
        return .ok
    }

    /// docker when asked or when an engine answers; else local, saying why.
    func chooseBackend(_ job: Job) async -> Backend {
        if requested == .local { return .local }
        do {
            try await Self.client(job).ping()
            return .docker
        } catch {
            StandardError.write(
                "calibrate: no Docker engine reachable (\(error)); measuring on the local backend instead: no CPU or memory limits, one row at the job's own task size, the figures are this machine's\n"
            )
            return .local
        }
    }
}

extension CalibrateCommand {
    /// The engine the job names (`docker.host`), else DOCKER_HOST's, as the docker backend picks it.
    static func client(_ job: Job) throws -> DockerClient {
        var environment = ProcessInfo.processInfo.environment
        if let host = job.docker.host { environment["DOCKER_HOST"] = host }
        return try DockerClient.fromEnvironment(environment)
    }
}

/// The job copy one size runs: the sample as its URL list, one batch, the size's CPU and memory.
struct CalibrationJob {
    let name: String
    let value: JSONValue
    let cpu: Int
    let memory: Int

    init(raw: JSONValue, name: String, urls: [String], cpu: Int, memory: Int) {
        var o = raw.objectValue ?? [:]
        self.name = "\(name)-calibrate-\(cpu)"
        o["name"] = .string(self.name)
        o["urls"] = .array(urls.map { .string($0) })
        o["urlsFile"] = nil
        o["backend"] = nil
        o["batching"] = ["batchSize": .number(Double(max(1, urls.count)))]
        var task = raw["task"]?.objectValue ?? [:]
        task["cpu"] = .number(Double(cpu))
        task["memory"] = .number(Double(memory))
        task["retries"] = 0
        o["task"] = .object(task)
        value = .object(o)
        self.cpu = cpu
        self.memory = memory
    }
}
