import CrawlKit
import JSONKit

/// What the scheduler asks of a backend. Local processes, Docker containers and Fargate tasks all
/// fit it; the scheduler never knows which one it drives. The vocabulary is ECS's (stop codes,
/// essential containers, exit codes) because Fargate is the real thing and the other two rehearse
/// it. https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html
public protocol TaskBackend: Sendable {
    var name: String { get }
    /// Once per run, before any task: for example registering the task definition.
    func prepare(run: RunContext) async throws(RunFailure)
    /// Where a task of this batch attempt reads its URLs and writes its results.
    func locations(run: RunContext, batch: String, attempt: Int) -> TaskLocations
    /// Stores the batch file where the task will read it.
    func putBatch(_ bytes: [UInt8], at location: String) async throws(RunFailure)
    /// Starts one task; returns its id (an ARN on Fargate) once it has been accepted.
    func start(_ launch: TaskLaunch) async throws(RunFailure) -> String
    /// Waits until the task has stopped; how it ended.
    func wait(task: String) async -> TaskEnd
    /// Asks the task to stop: SIGTERM to its containers, SIGKILL after the stop timeout.
    func stop(task: String, reason: String) async
    /// The results the task wrote (JSON Lines), nil when it wrote none.
    func readResults(at location: String) async throws(RunFailure) -> [UInt8]?
    /// Copies each container's log into `directory` as `<container>.log` (appending).
    func collectLogs(task: String, into directory: String) async
    /// Records written so far by a running task, when the backend can tell cheaply (progress).
    func recordsWritten(task: String, out: String) async -> Int?
}

/// The run a backend works for.
public struct RunContext: Sendable {
    public var id: String
    public var directory: String
    public var job: Job
    public var taskDefinition: JSONValue
}

public struct TaskLocations: Sendable {
    public var batch: String
    public var out: String
}

/// One task to start: a batch attempt with the plan's task definition and its overrides.
public struct TaskLaunch: Sendable {
    public var batch: String
    public var attempt: Int
    public var taskDefinition: JSONValue
    /// RunTask container overrides: references only (TaskDefinition.overrides).
    public var overrides: JSONValue
    public var locations: TaskLocations
    /// The run's log directory for this batch (`logs/<batch>`).
    public var logDirectory: String
}

/// ECS stop codes, plus the ones a local rehearsal can produce.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html
public enum StopCode: String, Sendable {
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

/// How a task ended.
public struct TaskEnd: Sendable {
    public var stopCode: StopCode
    public var reason: String
    public var containers: [ContainerExit]
    public init(stopCode: StopCode, reason: String, containers: [ContainerExit] = []) {
        self.stopCode = stopCode
        self.reason = reason
        self.containers = containers
    }

    public func exitCode(of container: String) -> Int32? {
        containers.first { $0.name == container }?.exitCode
    }
}

/// Something that stops a run from going on, with its cause: reported, mapped to exit code 2.
public struct RunFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var cause: String?
    public init(_ message: String, cause: String? = nil) {
        self.message = message
        self.cause = cause
    }
    public var description: String { cause.map { "\(message): \($0)" } ?? message }
}
