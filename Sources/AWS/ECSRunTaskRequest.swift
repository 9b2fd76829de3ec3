import JSONKit

/// A resource tag. https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Tag.html
public struct ECSTag: Sendable, Equatable, Hashable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// The task's network (awsvpc: one elastic network interface per task, in one of `subnets`).
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AwsVpcConfiguration.html
public struct AwsVpcConfiguration: Sendable, Equatable {
    public var subnets: [String]
    public var securityGroups: [String]
    /// A public IP: needed in a public subnet (a route to an internet gateway) to reach ECR.
    public var assignPublicIp: Bool
    public init(subnets: [String], securityGroups: [String], assignPublicIp: Bool) {
        self.subnets = subnets
        self.securityGroups = securityGroups
        self.assignPublicIp = assignPublicIp
    }
}

/// One entry of a capacity provider strategy (FARGATE, FARGATE_SPOT).
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CapacityProviderStrategyItem.html
public struct CapacityProviderStrategyItem: Sendable, Equatable {
    public var provider: String
    public var weight: Int
    public var base: Int
    public init(provider: String, weight: Int, base: Int = 0) {
        self.provider = provider
        self.weight = weight
        self.base = base
    }
}

/// Where the task runs: a launch type, or a capacity provider strategy (never both: ECS rejects
/// `launchType` with a strategy).
public enum ECSLaunch: Sendable, Equatable {
    case launchType(String)
    case capacityProviders([CapacityProviderStrategyItem])
    public static let fargate = ECSLaunch.launchType("FARGATE")
}

/// Which tags ECS copies onto the task.
public enum ECSPropagateTags: String, Sendable {
    case taskDefinition = "TASK_DEFINITION"
    case service = "SERVICE"
    case none = "NONE"
}

/// One RunTask call, checked against ECS's documented limits before it is sent.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
public struct RunTaskRequest: Sendable {
    public var cluster: String
    public var taskDefinition: String
    /// 1…10 per call.
    public var count = 1
    public var network: AwsVpcConfiguration?
    public var launch: ECSLaunch = .fargate
    public var platformVersion: String?
    /// ≤ 36 letters, digits, `-`, `_`, `/`: what ListTasks filters on.
    public var startedBy: String?
    public var group: String?
    public var tags: [ECSTag] = []
    public var propagateTags: ECSPropagateTags?
    public var enableECSManagedTags: Bool?
    /// The `TaskOverride` object (containerOverrides, cpu, memory, …); ≤ 8192 characters as JSON.
    public var overrides: JSONValue?
    /// Idempotency: ≤ 64 ASCII characters 33–126. Same token and parameters → the original task.
    public var clientToken: String?

    public init(cluster: String, taskDefinition: String) {
        self.cluster = cluster
        self.taskDefinition = taskDefinition
    }

    /// Every limit this request breaks, each a sentence naming the field and the limit.
    public var problems: [String] {
        var p: [String] = []
        if cluster.isEmpty { p.append("cluster is empty") }
        if taskDefinition.isEmpty { p.append("taskDefinition is empty") }
        if !(1...10).contains(count) { p.append("count is \(count); RunTask starts 1 to 10 tasks per call") }
        if let startedBy {
            if startedBy.count > 36 {
                p.append("startedBy is \(startedBy.count) characters; ECS allows at most 36")
            }
            if !startedBy.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_/".contains($0)) }) {
                p.append("startedBy \"\(startedBy)\" may hold only letters, digits, '-', '_' and '/'")
            }
        }
        if let token = clientToken {
            if token.isEmpty || token.utf8.count > 64 {
                p.append("clientToken is \(token.utf8.count) characters; ECS allows 1 to 64")
            }
            if !token.utf8.allSatisfy({ (33...126).contains($0) }) {
                p.append("clientToken may hold only printable ASCII characters without spaces (33–126)")
            }
        }
        if let overrides {
            // ECS counts "characters … including the JSON formatting characters"; UTF-16 units
            // are never fewer than characters, so the check errs on the safe side.
            let length = String(decoding: overrides.encoded(), as: UTF8.self).utf16.count
            if length > 8192 {
                p.append("overrides are \(length) characters of JSON; ECS allows at most 8192 (pass data by reference)")
            }
        }
        p += Self.tagProblems(tags)
        if let network {
            if !(1...16).contains(network.subnets.count) {
                p.append("awsvpcConfiguration has \(network.subnets.count) subnets; ECS takes 1 to 16")
            }
            if network.securityGroups.count > 5 {
                p.append("awsvpcConfiguration has \(network.securityGroups.count) security groups; ECS takes at most 5")
            }
        }
        if case .capacityProviders(let items) = launch { p += Self.strategyProblems(items) }
        return p
    }

    /// Throws `invalidRequest` (category `.invalidParameter`) naming every broken limit.
    public func validate() throws(AWSError) {
        let problems = self.problems
        guard problems.isEmpty else {
            throw AWSError(.invalidRequest, "RunTask was not sent: " + problems.joined(separator: "; "))
        }
    }

    /// ≤ 50 tags, keys 1–128 and values ≤ 256 characters, no `aws:` prefix (reserved).
    /// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-using-tags.html
    static func tagProblems(_ tags: [ECSTag]) -> [String] {
        var p: [String] = []
        if tags.count > 50 { p.append("\(tags.count) tags; ECS allows at most 50 per resource") }
        for tag in tags {
            if tag.key.isEmpty || tag.key.count > 128 {
                p.append("tag key \"\(tag.key.prefix(40))\" is \(tag.key.count) characters; ECS allows 1 to 128")
            }
            if tag.value.count > 256 {
                p.append("the value of tag \"\(tag.key.prefix(40))\" is \(tag.value.count) characters; ECS allows 256")
            }
            if tag.key.lowercased().hasPrefix("aws:") {
                p.append("tag key \"\(tag.key)\": the aws: prefix is reserved")
            }
        }
        return p
    }

    /// 1–20 providers, weight 0–1000, base 0–100000 on at most one of them.
    static func strategyProblems(_ items: [CapacityProviderStrategyItem]) -> [String] {
        var p: [String] = []
        if !(1...20).contains(items.count) {
            p.append("capacityProviderStrategy has \(items.count) entries; ECS takes 1 to 20")
        }
        for item in items {
            if item.provider.isEmpty { p.append("a capacity provider has no name") }
            if !(0...1000).contains(item.weight) { p.append("\(item.provider) weight \(item.weight) is not 0–1000") }
            if !(0...100_000).contains(item.base) { p.append("\(item.provider) base \(item.base) is not 0–100000") }
        }
        if items.filter({ $0.base > 0 }).count > 1 {
            p.append("only one capacity provider of a strategy may have a base")
        }
        if !items.isEmpty && items.allSatisfy({ $0.weight == 0 }) {
            p.append("at least one capacity provider needs a weight above 0")
        }
        return p
    }

    /// The request body, as ECS reads it.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "cluster": .string(cluster), "taskDefinition": .string(taskDefinition), "count": .number(Double(count)),
        ]
        switch launch {
        case .launchType(let type): o["launchType"] = .string(type)
        case .capacityProviders(let items):
            o["capacityProviderStrategy"] = .array(
                items.map {
                    [
                        "capacityProvider": .string($0.provider), "weight": .number(Double($0.weight)),
                        "base": .number(Double($0.base)),
                    ]
                })
        }
        if let network {
            o["networkConfiguration"] = [
                "awsvpcConfiguration": [
                    "subnets": .array(network.subnets.map { .string($0) }),
                    "securityGroups": .array(network.securityGroups.map { .string($0) }),
                    "assignPublicIp": network.assignPublicIp ? "ENABLED" : "DISABLED",
                ]
            ]
        }
        if let platformVersion { o["platformVersion"] = .string(platformVersion) }
        if let startedBy { o["startedBy"] = .string(startedBy) }
        if let group { o["group"] = .string(group) }
        if !tags.isEmpty { o["tags"] = .array(tags.map { ["key": .string($0.key), "value": .string($0.value)] }) }
        if let propagateTags { o["propagateTags"] = .string(propagateTags.rawValue) }
        if let enableECSManagedTags { o["enableECSManagedTags"] = .bool(enableECSManagedTags) }
        if let overrides { o["overrides"] = overrides }
        if let clientToken { o["clientToken"] = .string(clientToken) }
        return .object(o)
    }
}
