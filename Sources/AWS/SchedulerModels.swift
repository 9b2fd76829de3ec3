import JSONKit

/// What an EventBridge Scheduler schedule with an ECS RunTask target holds, as CrawlRun writes
/// and reads it. https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html
public struct ScheduleDefinition: Sendable, Equatable {
    public var name: String
    public var group: String
    /// `cron(…)`, `rate(…)` or `at(…)`, checked by `ScheduleExpression` before any call.
    public var expression: String
    /// An IANA time zone name; nil: UTC (the service's default).
    public var timezone: String?
    /// Minutes the service may move a fire within (FlexibleTimeWindow FLEXIBLE, 1–1440); nil: OFF.
    public var flexibleWindowMinutes: Int?
    public var target: ScheduleTarget
    public var description: String?
    public var enabled = true

    public init(
        name: String, group: String, expression: String, timezone: String? = nil, flexibleWindowMinutes: Int? = nil,
        target: ScheduleTarget, description: String? = nil
    ) {
        self.name = name
        self.group = group
        self.expression = expression
        self.timezone = timezone
        self.flexibleWindowMinutes = flexibleWindowMinutes
        self.target = target
        self.description = description
    }

    /// The request body of CreateSchedule and UpdateSchedule (UpdateSchedule replaces every
    /// field, so both send the whole definition).
    var body: JSONValue {
        var window: [String: JSONValue] = ["Mode": "OFF"]
        if let m = flexibleWindowMinutes {
            window = ["Mode": "FLEXIBLE", "MaximumWindowInMinutes": .number(Double(m))]
        }
        var o: [String: JSONValue] = [
            "GroupName": .string(group), "ScheduleExpression": .string(expression),
            "FlexibleTimeWindow": .object(window), "Target": target.json, "State": enabled ? "ENABLED" : "DISABLED",
        ]
        if let timezone { o["ScheduleExpressionTimezone"] = .string(timezone) }
        if let description { o["Description"] = .string(description) }
        return .object(o)
    }

    /// A GetSchedule answer; nil when it has no ECS target (not a schedule CrawlRun made).
    init?(_ json: JSONValue) {
        guard let name = json["Name"]?.stringValue, let expression = json["ScheduleExpression"]?.stringValue,
            let target = json["Target"].flatMap(ScheduleTarget.init)
        else { return nil }
        self.init(
            name: name, group: json["GroupName"]?.stringValue ?? "default", expression: expression,
            timezone: json["ScheduleExpressionTimezone"]?.stringValue,
            flexibleWindowMinutes: json["FlexibleTimeWindow"]?["Mode"]?.stringValue == "FLEXIBLE"
                ? json["FlexibleTimeWindow"]?["MaximumWindowInMinutes"]?.intValue : nil,
            target: target, description: json["Description"]?.stringValue)
        enabled = json["State"]?.stringValue != "DISABLED"
    }
}

/// The ECS RunTask a schedule makes: on `clusterArn`, as `roleArn` (the scheduler's role, which
/// needs ecs:RunTask on the task definition and iam:PassRole for the task's roles).
/// https://docs.aws.amazon.com/scheduler/latest/APIReference/API_EcsParameters.html
public struct ScheduleTarget: Sendable, Equatable {
    public var clusterArn: String
    public var roleArn: String
    public var taskDefinitionArn: String
    public var subnets: [String]
    public var securityGroups: [String]
    public var assignPublicIp: Bool
    public var platformVersion: String?
    /// The scheduler's own retries of a RunTask call that failed (throttling, capacity), not of a
    /// task that ran and exited.
    public var maximumRetryAttempts = 3
    public var maximumEventAgeSeconds = 3600

    public init(
        clusterArn: String, roleArn: String, taskDefinitionArn: String, subnets: [String], securityGroups: [String],
        assignPublicIp: Bool, platformVersion: String? = nil
    ) {
        self.clusterArn = clusterArn
        self.roleArn = roleArn
        self.taskDefinitionArn = taskDefinitionArn
        self.subnets = subnets
        self.securityGroups = securityGroups
        self.assignPublicIp = assignPublicIp
        self.platformVersion = platformVersion
    }

    var json: JSONValue {
        // The API spells this member `awsvpcConfiguration`, lower-case first letter, unlike the
        // rest of the structure. https://docs.aws.amazon.com/scheduler/latest/APIReference/API_NetworkConfiguration.html
        let network: JSONValue = [
            "awsvpcConfiguration": [
                "Subnets": .array(subnets.map(JSONValue.string)),
                "SecurityGroups": .array(securityGroups.map(JSONValue.string)),
                "AssignPublicIp": assignPublicIp ? "ENABLED" : "DISABLED",
            ]
        ]
        var ecs: [String: JSONValue] = [
            "TaskDefinitionArn": .string(taskDefinitionArn), "TaskCount": 1, "LaunchType": "FARGATE",
            "NetworkConfiguration": network,
        ]
        if let platformVersion { ecs["PlatformVersion"] = .string(platformVersion) }
        return [
            "Arn": .string(clusterArn), "RoleArn": .string(roleArn), "EcsParameters": .object(ecs),
            "RetryPolicy": [
                "MaximumRetryAttempts": .number(Double(maximumRetryAttempts)),
                "MaximumEventAgeInSeconds": .number(Double(maximumEventAgeSeconds)),
            ],
        ]
    }

    init?(_ json: JSONValue) {
        guard let arn = json["Arn"]?.stringValue, let role = json["RoleArn"]?.stringValue,
            let ecs = json["EcsParameters"], let definition = ecs["TaskDefinitionArn"]?.stringValue
        else { return nil }
        let vpc = ecs["NetworkConfiguration"]?["awsvpcConfiguration"]
        self.init(
            clusterArn: arn, roleArn: role, taskDefinitionArn: definition,
            subnets: vpc?["Subnets"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            securityGroups: vpc?["SecurityGroups"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            assignPublicIp: vpc?["AssignPublicIp"]?.stringValue == "ENABLED",
            platformVersion: ecs["PlatformVersion"]?.stringValue)
        maximumRetryAttempts = json["RetryPolicy"]?["MaximumRetryAttempts"]?.intValue ?? maximumRetryAttempts
        maximumEventAgeSeconds = json["RetryPolicy"]?["MaximumEventAgeInSeconds"]?.intValue ?? maximumEventAgeSeconds
    }
}

/// One line of ListSchedules.
public struct ScheduleSummary: Sendable, Equatable {
    public var name: String
    public var group: String
    public var arn: String
    public var enabled: Bool
}
