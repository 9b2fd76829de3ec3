import CrawlKit
import JSONKit

/// report.json, and what the closing summary shows: counts, error kinds with an example URL,
/// pages/s, every task attempt with its timings and exit codes, every batch, and the cost of the
/// task time on Fargate (real billed seconds where the backend knows them).
public struct RunReport: Sendable {
    public var run: String
    public var job: String
    public var backend: String
    public var status: RunStatus
    public var startedAt: String
    public var finishedAt: String
    public var seconds: Double
    public var counts: RecordCounts
    public var ledger: BatchLedger
    public var errors: [(kind: String, count: Int, example: String)]
    /// The first record's message of each error kind (the example's).
    public var errorMessages: [String: String]
    /// Per field: the pages read and those it matched on.
    public var fields: [String: ResultMerger.FieldCount]
    public var task: TaskSettings
    /// Problems that did not stop the run (a task that could not be stopped, logs not copied).
    public var problems: [String]
    /// Per host: loads, measured rate against the job's limit, back-offs (set for jobs with a
    /// `politeness` block or robots.txt obeyed).
    public var hosts: HostRates?

    public init(
        run: String, job: String, backend: String, status: RunStatus, startedAt: String, finishedAt: String,
        seconds: Double, merger: ResultMerger, ledger: BatchLedger, task: TaskSettings, problems: [String]
    ) {
        self.run = run
        self.job = job
        self.backend = backend
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.seconds = seconds
        self.counts = merger.counts
        self.ledger = ledger
        self.errors = merger.errors.map { (kind: $0.key, count: $0.value.count, example: $0.value.example) }
            .sorted { ($0.count, $1.kind) > ($1.count, $0.kind) }
        self.errorMessages = merger.errors.mapValues(\.message)
        self.fields = merger.fields
        self.task = task
        self.problems = problems
    }

    public var tasks: BatchLedger.Counts { ledger.counts }

    /// Fields that matched on none of the pages read, by name, each as a sentence.
    public var unmatchedFields: [String] {
        fields.filter { $0.value.pages > 0 && $0.value.matched == 0 }.keys.sorted().map {
            "field `\($0)` matched on 0 of \(fields[$0]?.pages ?? 0) page\(fields[$0]?.pages == 1 ? "" : "s")"
        }
    }
    public var pagesPerSecond: Double { seconds > 0 ? Double(counts.ok + counts.failed) / seconds : 0 }

    /// Every attempt that had (or tried to have) a task, in batch order.
    public var attempts: [(batch: String, attempt: BatchLedger.Attempt)] {
        ledger.batches.flatMap { b in b.attempts.filter { $0.phase == .ended }.map { (b.id, $0) } }
    }

    /// Billed seconds of an attempt: from the image pull (else the launch) to the stop, at least 60.
    public static func billedSeconds(_ a: BatchLedger.Attempt) -> Double? {
        if let t = a.end?.timing, let stop = t.stoppedAt, let start = t.pullStartedAt ?? t.startedAt {
            return FargatePrice.billed(stop - start)
        }
        return a.task == nil ? nil : a.seconds.map(FargatePrice.billed)
    }

    public var cost: (usd: Double, upperBound: Bool) {
        let price = FargatePrice.perSecond(task)
        var usd = 0.0
        var spot = false
        for (_, a) in attempts {
            guard let billed = Self.billedSeconds(a) else { continue }
            usd += billed * price
            if a.end?.capacityProvider == "FARGATE_SPOT" { spot = true }
        }
        return (usd, spot)
    }

    /// How `cost` was reckoned, in words (report.json and report.html).
    public func costBasis(upperBound: Bool) -> String {
        "Fargate on-demand us-east-1, \(task.cpu) CPU units / \(task.memory) MiB \(task.architecture), per second from image pull (or launch) to stop, one-minute minimum\(upperBound ? "; Spot tasks priced on demand (an upper bound)" : "")"
    }

    public var json: JSONValue {
        let crawled = counts.ok + counts.failed
        let cost = self.cost
        var list: [JSONValue] = []
        for (batch, a) in attempts { list.append(Self.json(batch: batch, a, price: FargatePrice.perSecond(task))) }
        return [
            "run": .string(run), "job": .string(job), "backend": .string(backend), "status": .string(status.rawValue),
            "startedAt": .string(startedAt), "finishedAt": .string(finishedAt),
            "seconds": .number(Self.round(seconds, 3)),
            "counts": Self.json(counts),
            "pagesPerSecond": .number(Self.round(pagesPerSecond, 2)),
            "errors": .object(
                Dictionary(
                    uniqueKeysWithValues: errors.map {
                        (
                            $0.kind,
                            [
                                "count": .number(Double($0.count)), "example": .string($0.example),
                                "message": .string(errorMessages[$0.kind] ?? ""),
                            ] as JSONValue
                        )
                    })),
            "fields": .object(
                fields.mapValues { ["pages": .number(Double($0.pages)), "matched": .number(Double($0.matched))] }),
            "unmatchedFields": .array(unmatchedFields.map { .string($0) }),
            "hosts": hosts?.json ?? .null,
            "tasks": [
                "started": .number(Double(tasks.tasksStarted)), "retries": .number(Double(tasks.retriedTasks)),
                "retriedURLs": .number(Double(tasks.retriedURLs)),
                "infrastructureFailures": .number(Double(tasks.infrastructureFailures)),
                "relaunches": .number(Double(tasks.relaunches)),
                "list": .array(list),
            ],
            "batches": .array(
                ledger.batches.map { b in
                    [
                        "id": .string(b.id), "urls": .number(Double(b.urls)), "status": .string(b.status.rawValue),
                        "attempts": .number(Double(b.attempts.filter { $0.phase == .ended }.count)),
                        "records": .number(Double(b.attempts.reduce(0) { $0 + ($1.end?.records ?? 0) })),
                        "incomplete": .number(Double(b.givenUp)),
                        "seconds": .number(Self.round(b.attempts.reduce(0) { $0 + ($1.seconds ?? 0) }, 3)),
                    ]
                }),
            "cost": [
                "usd": .number(Self.round(cost.usd, 6)),
                "usdPer1000Pages": crawled > 0 ? .number(Self.round(cost.usd / Double(crawled) * 1000, 6)) : .null,
                "upperBound": .bool(cost.upperBound),
                "basis": .string(costBasis(upperBound: cost.upperBound)),
            ],
            "problems": .array(problems.map { .string($0) }),
        ]
    }

    public static func json(_ c: RecordCounts) -> JSONValue {
        [
            "urls": .number(Double(c.urls)), "ok": .number(Double(c.ok)), "failed": .number(Double(c.failed)),
            "incomplete": .number(Double(c.incomplete)),
        ]
    }

    static func json(batch: String, _ a: BatchLedger.Attempt, price: Double) -> JSONValue {
        var exits: [String: JSONValue] = [:]
        let end = a.end
        for (name, code) in end?.exitCodes ?? [:] { exits[name] = code.map { .number(Double($0)) } ?? .null }
        func time(_ t: Double?) -> JSONValue { t.map { .string(Timestamp.format(epochSeconds: $0)) } ?? .null }
        let billed = billedSeconds(a)
        return [
            "task": .string(a.task ?? "-"), "batch": .string(batch), "attempt": .number(Double(a.attempt)),
            "urls": .number(Double(a.urls)), "records": .number(Double(end?.records ?? 0)),
            "failed": .number(Double(end?.failed ?? 0)),
            "missing": .number(Double(end?.missing ?? 0)),
            "stopCode": end.map { .string($0.stopCode.rawValue) } ?? .null,
            "reason": (end?.reason ?? a.waitReason).map { .string($0) } ?? .null,
            "hint": end?.hint.map { .string($0) } ?? .null,
            "exitCodes": .object(exits), "launchedAt": time(a.launch?.at ?? end?.at), "endedAt": time(end?.at),
            "seconds": .number(round(a.seconds ?? 0, 3)),
            "pullStartedAt": time(end?.timing?.pullStartedAt),
            "startedAt": time(end?.timing?.startedAt ?? a.launch?.runningAt),
            "stoppedAt": time(end?.timing?.stoppedAt),
            "capacityProvider": end?.capacityProvider.map { .string($0) } ?? .null,
            "billedSeconds": billed.map { .number($0) } ?? .null,
            "costUSD": billed.map { .number(round($0 * price, 6)) } ?? .null,
            "infrastructureProblem": end?.infrastructureProblem.map { .string($0) } ?? .null,
        ]
    }

    static func round(_ x: Double, _ places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (x * scale).rounded() / scale
    }
}
