import CrawlKit
import Foundation
import JSONKit

/// What the scheduler asks of a backend. Local processes, Docker containers and Fargate tasks all
/// fit it; the scheduler never knows which one it drives. The vocabulary is ECS's (stop codes,
/// essential containers, exit codes, lastStatus) because Fargate is the real thing and the other
/// two rehearse it. https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html
///
/// Every call that talks to something outside the process reports its failure: launches with a
/// typed `LaunchError` (the scheduler decides whether the batch's retries are spent), the others
/// with a `RunFailure` the scheduler shows and counts.
public protocol TaskBackend: Sendable {
    var name: String { get }
    /// How often the scheduler asks `observe`: `fast` while tasks start and stop, `steady` when
    /// nothing changed for a while (Fargate: DescribeTasks is rate-limited, 20 a second).
    var pollIntervals: PollIntervals { get }
    /// Once per run, before any task: register the task definition, check binaries, ensure the
    /// log group. Throws when the run cannot start.
    func prepare(run: RunContext) async throws(RunFailure)
    /// Where a task of this batch attempt reads its URLs and writes its results.
    func locations(run: RunContext, batch: String, attempt: Int) -> TaskLocations
    /// Stores the batch file where the task will read it.
    func putBatch(_ bytes: [UInt8], at location: String) async throws(RunFailure)
    /// Starts one task and returns its id (an ARN on Fargate) once accepted. `launch.token` is
    /// the idempotency token: the same token for a retry of the same launch must never start a
    /// second task (ECS RunTask `clientToken`).
    func launch(_ launch: TaskLaunch) async throws(LaunchError) -> String
    /// Where each of these tasks is now: one call per poll for all of them (a backend may ask its
    /// API for up to 100 tasks per request). A task the backend cannot answer for this time is
    /// `.lostContact`, one it does not know at all `.missing`; neither is "stopped".
    func observe(_ tasks: [String]) async -> [String: TaskPhase]
    /// Returns when one of the backend's tasks may have changed, so a backend that knows at once
    /// (local processes) is not held to the poll interval. Cancellable; polling backends wait for
    /// cancellation.
    func changed() async
    /// Asks the task to stop: SIGTERM to its containers, SIGKILL after the stop timeout.
    func stop(task: String, reason: String) async throws(RunFailure)
    /// The results the task wrote (JSON Lines), nil when it wrote none.
    func readResults(at location: String) async throws(RunFailure) -> [UInt8]?
    /// Copies each container's log of a stopped task into `directory` as `<container>.log`
    /// (appending). Backends whose logs are already there (local) do nothing.
    func collectLogs(task: String, into directory: String) async throws(RunFailure)
    /// Records written so far by a running task, when the backend can tell cheaply (progress).
    func recordsWritten(task: String, out: String) async -> Int?
    /// The bytes a running task's results hold past `offset`, for backends that can read them
    /// while the task runs (nil: only once it has stopped). The scheduler merges each record as
    /// its page finishes, so results.jsonl and `crawl`'s standard output grow page by page.
    func resultsSoFar(task: String, out: String, from offset: Int) async -> [UInt8]?
    /// Whether `resultsSoFar` answers (the scheduler then reads running tasks' results).
    var streamsResults: Bool { get }
    /// What the backend needs before anything is created (credentials for Fargate): a failure
    /// is one sentence with its fix, and `run` creates no run directory.
    func preflight() async throws(RunFailure)
    /// Every task this backend still knows for the run (running and stopped), so `resume` can
    /// adopt them instead of launching twice. Backends without memory of a run return [].
    func reattach(run: RunContext) async throws(RunFailure) -> [KnownTask]
    /// The run is over (or crawlrun is going away): stop and wait for whatever still runs.
    func shutdown() async
}

extension TaskBackend {
    public var pollIntervals: PollIntervals { PollIntervals(fast: .milliseconds(500), steady: .seconds(2)) }
    public func changed() async {
        // Polling only: nothing to say before the poll interval, so wait for cancellation.
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
    }
    public func collectLogs(task: String, into directory: String) async throws(RunFailure) {}
    public func recordsWritten(task: String, out: String) async -> Int? { nil }
    public func resultsSoFar(task: String, out: String, from offset: Int) async -> [UInt8]? { nil }
    public var streamsResults: Bool { false }
    public func preflight() async throws(RunFailure) {}
    public func reattach(run: RunContext) async throws(RunFailure) -> [KnownTask] { [] }
    public func shutdown() async {}
}

public struct PollIntervals: Sendable, Equatable {
    public var fast: Duration
    public var steady: Duration
    public init(fast: Duration, steady: Duration) {
        self.fast = fast
        self.steady = steady
    }
}

/// The run a backend works for.
public struct RunContext: Sendable {
    public var id: String
    public var layout: RunLayout
    public var job: Job
    public var taskDefinition: JSONValue
    /// The tasks the run's state names (on resume): a backend that cannot list a run's stopped
    /// tasks (ECS lists only the ones it wants running by `startedBy`) describes these.
    public var tasks: [String] = []
    public init(id: String, layout: RunLayout, job: Job, taskDefinition: JSONValue) {
        self.id = id
        self.layout = layout
        self.job = job
        self.taskDefinition = taskDefinition
    }
}

public struct TaskLocations: Sendable, Equatable {
    public var batch: String
    public var out: String
    public init(batch: String, out: String) {
        self.batch = batch
        self.out = out
    }
}

/// One task to start: a batch attempt with the plan's task definition and its overrides.
public struct TaskLaunch: Sendable {
    public var run: String
    public var batch: String
    public var attempt: Int
    /// The idempotency token, persisted in state.json before the first try of this launch.
    public var token: String
    public var taskDefinition: JSONValue
    /// RunTask container overrides: references only (TaskDefinition.overrides).
    public var overrides: JSONValue
    public var locations: TaskLocations
    /// The run's log directory for this batch (`logs/<batch>`).
    public var logDirectory: String
    public init(
        run: String, batch: String, attempt: Int, token: String, taskDefinition: JSONValue, overrides: JSONValue,
        locations: TaskLocations, logDirectory: String
    ) {
        self.run = run
        self.batch = batch
        self.attempt = attempt
        self.token = token
        self.taskDefinition = taskDefinition
        self.overrides = overrides
        self.locations = locations
        self.logDirectory = logDirectory
    }
}

/// Why a launch did not give a task. The scheduler treats each kind differently.
public enum LaunchError: Error, Sendable, CustomStringConvertible {
    /// Throttling, capacity unavailable, a 5xx: try the same launch (same token) again after a
    /// back-off, without spending the batch's retries.
    case retryLater(String)
    /// The task could not be started (a missing image, a sidecar that never became healthy): an
    /// attempt of the batch is spent, as for a task that ended without results.
    case failedToStart(String)
    /// Nothing will launch in this run (access denied, a missing cluster): the run ends, exit 2.
    case fatal(RunFailure)

    public var description: String {
        switch self {
        case .retryLater(let m): return m
        case .failedToStart(let m): return m
        case .fatal(let f): return f.description
        }
    }
}

/// Where a task is, as `observe` reports it (ECS lastStatus, coarsened).
public enum TaskPhase: Sendable, Equatable {
    /// PROVISIONING / PENDING / ACTIVATING: accepted, not running yet.
    case starting
    /// RUNNING, or stopping but not stopped yet.
    case running
    case stopped(TaskEnd)
    /// The backend does not know the task (ECS `failures[]` reason MISSING).
    case missing
    /// The backend could not tell this time (an API error, a timeout): ask again later.
    case lostContact(String)
}

/// ECS stop codes, plus the ones a local rehearsal can produce.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html
public enum StopCode: String, Sendable, Codable {
    case taskFailedToStart = "TaskFailedToStart"
    case essentialContainerExited = "EssentialContainerExited"
    case userInitiated = "UserInitiated"
    case spotInterruption = "SpotInterruption"
    case serviceSchedulerInitiated = "ServiceSchedulerInitiated"
    case terminationNotice = "TerminationNotice"
    case unknown = "Unknown"
}

public struct ContainerExit: Sendable, Equatable {
    public var name: String
    public var exitCode: Int32?
    public var reason: String?
    public init(name: String, exitCode: Int32?, reason: String? = nil) {
        self.name = name
        self.exitCode = exitCode
        self.reason = reason
    }
}

/// When a task's phases happened, as the backend knows them (ECS: pullStartedAt, startedAt,
/// stoppedAt), in seconds since 1970. Fargate bills from the pull start to the stop.
public struct TaskTiming: Sendable, Equatable {
    public var pullStartedAt: Double?
    public var startedAt: Double?
    public var stoppedAt: Double?
    public init(pullStartedAt: Double? = nil, startedAt: Double? = nil, stoppedAt: Double? = nil) {
        self.pullStartedAt = pullStartedAt
        self.startedAt = startedAt
        self.stoppedAt = stoppedAt
    }
}

/// How a task ended.
public struct TaskEnd: Sendable, Equatable {
    public var stopCode: StopCode
    public var reason: String
    public var containers: [ContainerExit]
    public var timing: TaskTiming?
    /// FARGATE or FARGATE_SPOT on Fargate; nil elsewhere.
    public var capacityProvider: String?
    /// What a user can do about it (CannotPullContainerError in a private subnet: routes to ECR).
    public var hint: String?
    /// Whether another attempt can help: false when every attempt would end the same way.
    public var retryable: Bool
    /// Seconds the next attempt should wait (a registry's pull rate limit refills over the hour);
    /// nil: at once.
    public var retryAfter: Double?
    public init(
        stopCode: StopCode, reason: String, containers: [ContainerExit] = [], timing: TaskTiming? = nil,
        capacityProvider: String? = nil, hint: String? = nil, retryable: Bool = true, retryAfter: Double? = nil
    ) {
        self.retryAfter = retryAfter
        self.stopCode = stopCode
        self.reason = reason
        self.containers = containers
        self.timing = timing
        self.capacityProvider = capacityProvider
        self.hint = hint
        self.retryable = retryable
    }

    public func exitCode(of container: String) -> Int32? {
        containers.first { $0.name == container }?.exitCode
    }
}

/// A task the backend found for a run after a restart (`reattach`).
public struct KnownTask: Sendable, Equatable {
    public var task: String
    public var batch: String
    public var attempt: Int
    public var phase: TaskPhase
    public init(task: String, batch: String, attempt: Int, phase: TaskPhase) {
        self.task = task
        self.batch = batch
        self.attempt = attempt
        self.phase = phase
    }
}

/// Something that stops a run from going on, with its cause: reported, mapped to exit code 2.
public struct RunFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var cause: Cause?

    /// What lies under a failure. The error itself is kept, so code asks what it was (an AWS error
    /// code, an errno) instead of reading its words; the words are what state.json keeps.
    public enum Cause: Sendable, Equatable, CustomStringConvertible {
        /// The error that made the run fail.
        case error(any Error & Sendable)
        /// A system call's `errno`.
        case errno(Int32)
        /// Words: what to do about it, or a cause read back from state.json.
        case words(String)

        public var description: String {
            switch self {
            case .error(let error): "\(error)"
            case .errno(let code): String(cString: strerror(code))
            case .words(let words): words
            }
        }

        /// The error underneath, if one is kept.
        public var error: (any Error & Sendable)? {
            if case .error(let error) = self { error } else { nil }
        }

        /// An error has no equality of its own: two are the same when they are of one type and say
        /// the same (as they would in state.json).
        public static func == (a: Cause, b: Cause) -> Bool {
            switch (a, b) {
            case (.error(let x), .error(let y)): type(of: x) == type(of: y) && "\(x)" == "\(y)"
            case (.errno(let x), .errno(let y)): x == y
            case (.words(let x), .words(let y)): x == y
            default: false
            }
        }
    }

    public init(_ message: String, cause: Cause?) {
        self.message = message
        self.cause = cause
    }
    /// A cause in words (a fix to try, an explanation).
    public init(_ message: String, cause: String? = nil) { self.init(message, cause: cause.map { Cause.words($0) }) }
    public init(_ message: String, error: any Error & Sendable) { self.init(message, cause: .error(error)) }
    public init(_ message: String, errno code: Int32) { self.init(message, cause: .errno(code)) }

    public var description: String { cause.map { "\(message): \($0)" } ?? message }
}
