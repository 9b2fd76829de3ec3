import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A string-valued code of an AWS answer kept open: a literal in code, its raw value on the wire.
public protocol OpenStringCode: RawRepresentable<String>, Sendable, Hashable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    init(rawValue: String)
}

extension OpenStringCode {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
}

/// A task's `lastStatus` or `desiredStatus`. A struct, not an enum: ECS adds states, and an
/// unknown one must survive a round trip. Lifecycle: PROVISIONING → PENDING → ACTIVATING →
/// RUNNING → DEACTIVATING → STOPPING → DEPROVISIONING → STOPPED.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html
public struct ECSTaskStatus: OpenStringCode {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let provisioning: ECSTaskStatus = "PROVISIONING"
    public static let pending: ECSTaskStatus = "PENDING"
    public static let activating: ECSTaskStatus = "ACTIVATING"
    public static let running: ECSTaskStatus = "RUNNING"
    public static let deactivating: ECSTaskStatus = "DEACTIVATING"
    public static let stopping: ECSTaskStatus = "STOPPING"
    public static let deprovisioning: ECSTaskStatus = "DEPROVISIONING"
    public static let stopped: ECSTaskStatus = "STOPPED"
}

/// Why a task stopped. Newer codes appear over time: callers treat an unknown one as infrastructure.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html
public struct ECSStopCode: OpenStringCode {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let taskFailedToStart: ECSStopCode = "TaskFailedToStart"
    public static let essentialContainerExited: ECSStopCode = "EssentialContainerExited"
    public static let userInitiated: ECSStopCode = "UserInitiated"
    public static let serviceSchedulerInitiated: ECSStopCode = "ServiceSchedulerInitiated"
    public static let spotInterruption: ECSStopCode = "SpotInterruption"
    public static let terminationNotice: ECSStopCode = "TerminationNotice"
}

/// One container of a task as DescribeTasks reports it.
public struct ECSContainer: Sendable, Equatable {
    public var name: String
    public var containerArn: String?
    public var image: String?
    public var lastStatus: ECSTaskStatus?
    /// Nil when the container never ran or was killed by the infrastructure: a failure, never success.
    public var exitCode: Int?
    public var reason: String?
    public var runtimeId: String?
    public var healthStatus: String?

    init(_ json: JSONValue) {
        name = json["name"]?.stringValue ?? ""
        containerArn = json["containerArn"]?.stringValue
        image = json["image"]?.stringValue
        lastStatus = json["lastStatus"]?.stringValue.map(ECSTaskStatus.init(rawValue:))
        // Absent and null both mean "no exit code"; only a number is one.
        exitCode = json["exitCode"]?.doubleValue.map { Int($0) }
        reason = json["reason"]?.stringValue
        runtimeId = json["runtimeId"]?.stringValue
        healthStatus = json["healthStatus"]?.stringValue
    }
}

/// A task as DescribeTasks, RunTask and StopTask report it.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html
public struct ECSTask: Sendable, Equatable {
    public var taskArn: String
    public var taskDefinitionArn: String?
    public var clusterArn: String?
    public var lastStatus: ECSTaskStatus?
    public var desiredStatus: ECSTaskStatus?
    public var healthStatus: String?
    public var stopCode: ECSStopCode?
    public var stoppedReason: String?
    public var createdAt: Date?
    public var pullStartedAt: Date?
    public var pullStoppedAt: Date?
    public var startedAt: Date?
    public var stoppingAt: Date?
    public var executionStoppedAt: Date?
    public var stoppedAt: Date?
    /// FARGATE or FARGATE_SPOT when a capacity provider strategy placed the task.
    public var capacityProviderName: String?
    public var launchType: String?
    public var platformVersion: String?
    public var availabilityZone: String?
    /// CPU units (1024 = one vCPU) and MiB; ECS sends them as strings.
    public var cpu: Int?
    public var memory: Int?
    public var group: String?
    public var startedBy: String?
    /// Present when DescribeTasks was asked to include them (RunTask answers carry them).
    public var tags: [ECSTag]
    public var containers: [ECSContainer]

    /// The task's id: the last part of its ARN, as log stream names use it.
    public var taskId: String { String(taskArn.split(separator: "/").last ?? Substring(taskArn)) }

    public func container(_ name: String) -> ECSContainer? { containers.first { $0.name == name } }

    public init(_ json: JSONValue) {
        taskArn = json["taskArn"]?.stringValue ?? ""
        taskDefinitionArn = json["taskDefinitionArn"]?.stringValue
        clusterArn = json["clusterArn"]?.stringValue
        lastStatus = json["lastStatus"]?.stringValue.map(ECSTaskStatus.init(rawValue:))
        desiredStatus = json["desiredStatus"]?.stringValue.map(ECSTaskStatus.init(rawValue:))
        healthStatus = json["healthStatus"]?.stringValue
        stopCode = json["stopCode"]?.stringValue.map(ECSStopCode.init(rawValue:))
        stoppedReason = json["stoppedReason"]?.stringValue
        createdAt = Self.date(json["createdAt"])
        pullStartedAt = Self.date(json["pullStartedAt"])
        pullStoppedAt = Self.date(json["pullStoppedAt"])
        startedAt = Self.date(json["startedAt"])
        stoppingAt = Self.date(json["stoppingAt"])
        executionStoppedAt = Self.date(json["executionStoppedAt"])
        stoppedAt = Self.date(json["stoppedAt"])
        capacityProviderName = json["capacityProviderName"]?.stringValue
        launchType = json["launchType"]?.stringValue
        platformVersion = json["platformVersion"]?.stringValue
        availabilityZone = json["availabilityZone"]?.stringValue
        cpu = Self.int(json["cpu"])
        memory = Self.int(json["memory"])
        group = json["group"]?.stringValue
        startedBy = json["startedBy"]?.stringValue
        tags = (json["tags"]?.arrayValue ?? []).compactMap { t in
            t["key"]?.stringValue.map { ECSTag($0, t["value"]?.stringValue ?? "") }
        }
        containers = (json["containers"]?.arrayValue ?? []).map(ECSContainer.init)
    }

    /// The JSON protocol sends timestamps as epoch seconds (a number with a fraction); an ISO 8601
    /// string is read too, for peers that send one.
    static func date(_ value: JSONValue?) -> Date? {
        if let seconds = value?.doubleValue { return Date(timeIntervalSince1970: seconds) }
        if let text = value?.stringValue, let seconds = parseISO8601(text) {
            return Date(timeIntervalSince1970: seconds)
        }
        return nil
    }

    static func int(_ value: JSONValue?) -> Int? {
        value?.doubleValue.map { Int($0) } ?? value?.stringValue.flatMap { Int($0) }
    }
}

/// A resource ECS could not act on: RunTask's "Capacity is unavailable at this time…",
/// `RESOURCE:*`, DescribeTasks' `MISSING`.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html
public struct ECSFailure: Sendable, Equatable, CustomStringConvertible {
    public var arn: String?
    public var reason: String
    public var detail: String?

    public init(arn: String?, reason: String, detail: String? = nil) {
        self.arn = arn
        self.reason = reason
        self.detail = detail
    }

    init(_ json: JSONValue) {
        self.init(
            arn: json["arn"]?.stringValue, reason: json["reason"]?.stringValue ?? "unknown",
            detail: json["detail"]?.stringValue)
    }

    /// No capacity now: back off and launch again, without spending the batch's retries.
    public var isCapacity: Bool { AWSError.describesCapacity(reason) }
    /// DescribeTasks does not know the task (never existed, or stopped long ago).
    public var isMissing: Bool { reason == "MISSING" }

    public var description: String {
        var text = reason
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        if let arn { text += " for \(arn)" }
        return text
    }

    static func list(_ json: JSONValue?) -> [ECSFailure] { (json?.arrayValue ?? []).map(ECSFailure.init) }
}

/// RunTask's answer: the tasks started and the failures, which a caller must always read.
public struct RunTaskResult: Sendable, Equatable {
    public var tasks: [ECSTask]
    public var failures: [ECSFailure]
    public init(tasks: [ECSTask], failures: [ECSFailure]) {
        self.tasks = tasks
        self.failures = failures
    }
}

/// DescribeTasks' answer, over however many calls it took.
public struct DescribeTasksResult: Sendable, Equatable {
    public var tasks: [ECSTask]
    public var failures: [ECSFailure]
}
