import CrawlKit
import Foundation
import JSONKit

/// A job planned for a backend: its batches, the tasks at once, the estimate, and the plan
/// document — what `crawlrun plan --json` prints and `run` keeps as the run directory's
/// plan.json, built here once so the two are the same document (with `{run}` for the run's id).
public struct RunSetup: Sendable {
    /// The job as run: `run` fills in its crawl options (robots.txt, host intervals) before the
    /// task definition is rendered.
    public var job: Job
    public let factory: any BackendFactory
    public let planner: Planner
    public let summary: PlanSummary
    /// `--max-tasks`, else the backend's own setting.
    public let maxTasks: Int
    /// Where the run's directory goes (`--runs-dir`): local tasks read their batches there.
    public let runsDirectory: String

    /// Checks every URL of the job (all problems at once, as `JobError`) and counts the batches.
    public init(job: Job, factory: any BackendFactory, maxTasks: Int? = nil, runsDirectory: String = "runs") throws {
        self.job = job
        self.factory = factory
        planner = Planner(job: job)
        summary = try planner.check()
        self.maxTasks = maxTasks ?? factory.defaultMaxTasks(for: job)
        self.runsDirectory = runsDirectory
    }

    public var backend: Backend { factory.backend }
    public var estimate: Estimate { Estimate(job: job, summary: summary) }
    public var taskDefinition: JSONValue { TaskDefinition.render(job) }

    /// The ledger's limits for this backend.
    public var ledgerOptions: BatchLedger.Options {
        BatchLedger.Options(
            maxTasks: maxTasks, retries: job.task.retries, maxRunSeconds: job.task.maxRunSeconds,
            startTimeout: factory.startTimeout(for: job))
    }

    /// The backend, built by its factory: the first thing that may reach outside the process.
    public func makeBackend(notes: @escaping @Sendable (String) -> Void) -> any TaskBackend {
        factory.make(job: job, notes: notes)
    }

    /// The plan's placeholder for the run's id: a plan is made before the run has one.
    public static let runPlaceholder = "{run}"

    /// Everything in the plan document but its batches.
    public var planHead: JSONValue {
        [
            "job": .string(job.name), "backend": .string(backend.rawValue),
            "summary": [
                "inputURLs": .number(Double(summary.inputURLs)), "distinctURLs": .number(Double(summary.distinctURLs)),
                "duplicatesDropped": .number(Double(summary.duplicates)),
                "batches": .number(Double(summary.batchCount)),
            ],
            "estimate": estimate.json,
            "taskDefinition": taskDefinition,
            "hosts": job.politeness.isEmpty ? .null : HostTable(job: job, planner: planner, summary: summary).json,
        ]
    }

    /// Streams the plan document to `write` (in chunks of about 64 KiB: a million-URL plan is
    /// never whole in memory), handing each batch's URLs to `eachBatch` as it closes. Returns
    /// each batch's id and size.
    @discardableResult
    public func writePlan(
        to write: ([UInt8]) throws -> Void,
        eachBatch: (_ index: Int, _ id: String, _ urls: [String]) throws -> Void = { _, _, _ in }
    ) throws -> [(id: String, urls: Int)] {
        try withoutActuallyEscaping(write) { write in try writePlan(into: ChunkedOutput(write: write), eachBatch) }
    }

    private func writePlan(
        into output: ChunkedOutput, _ eachBatch: (_ index: Int, _ id: String, _ urls: [String]) throws -> Void
    ) throws -> [(id: String, urls: Int)] {
        var out = output
        var head = JSONWriter()
        head.value(planHead)
        // The batches go in as a streamed array before the head's closing brace.
        var bytes = head.bytes
        bytes.removeLast()
        try out.write(bytes)
        try out.write(",\"batches\":[")
        var batches: [(id: String, urls: Int)] = []
        var current: [String] = []
        var index = -1
        func close() throws {
            guard index >= 0 else { return }
            let id = Planner.batchID(index, of: summary.batchCount)
            try eachBatch(index, id, current)
            try out.write((batches.isEmpty ? "" : ",") + "{\"id\":\"\(id)\",\"urls\":[")
            for (i, url) in current.enumerated() {
                var w = JSONWriter()
                w.value(.string(url))
                if i > 0 { try out.write(",") }
                try out.write(w.bytes)
            }
            let at = factory.plannedLocations(
                job: job, runsDirectory: runsDirectory, run: Self.runPlaceholder, batch: id, attempt: 1)
            let overrides = TaskDefinition.overrides(batchLocation: at.batch, outLocation: at.out)
            // Worst case: a 36-character run id in place of {run} (in the batch and the results).
            let length = overrides.encoded().count - Self.runPlaceholder.count * 2 + 36 * 2
            var w = JSONWriter()
            w.value(["overrides": overrides, "overridesCharacters": .number(Double(length))])
            var tail = w.bytes
            tail.removeFirst()
            try out.write("],")
            try out.write(tail)
            batches.append((id, current.count))
            current.removeAll(keepingCapacity: true)
        }
        try planner.assign(summary: summary) { i, url in
            if i != index {
                try close()
                index = i
            }
            current.append(url)
        }
        try close()
        try out.write("]}\n")
        try out.flush()
        return batches
    }
}

extension RunSetup {
    /// Where the batches start in a plan document: only the top-level array can match (quotes
    /// inside strings are escaped; the other "batches" keys hold numbers).
    static let batchesMarker = Array(",\"batches\":[".utf8)

    /// The plan document in `path` without its batches (job, backend, summary, estimate, task
    /// definition, hosts): `resume` needs the task definition, not a million URLs read back.
    /// A plan.json written before the batches came last is read whole (it was small).
    public static func planHead(at path: String) throws -> JSONValue {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileProblem(path: path, errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n < 0 { throw FileProblem(path: path, errno: errno) }
            if n == 0 { return try JSONValue.decode(Data(bytes)) }
            let from = max(0, bytes.count - batchesMarker.count)
            bytes.append(contentsOf: chunk[0..<n])
            if let end = bytes[from...].firstRange(of: batchesMarker) {
                return try JSONValue.decode(Data(bytes[..<end.lowerBound] + [UInt8(ascii: "}")]))
            }
        }
    }
}

/// Bytes gathered into chunks of about 64 KiB before they go to their destination.
struct ChunkedOutput {
    let write: ([UInt8]) throws -> Void
    private var bytes: [UInt8] = []

    init(write: @escaping ([UInt8]) throws -> Void) {
        self.write = write
        bytes.reserveCapacity(1 << 16)
    }

    mutating func write(_ s: String) throws { try write(Array(s.utf8)) }
    mutating func write(_ b: [UInt8]) throws {
        bytes.append(contentsOf: b)
        if bytes.count >= 1 << 16 { try flush() }
    }
    mutating func flush() throws {
        guard !bytes.isEmpty else { return }
        try write(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
