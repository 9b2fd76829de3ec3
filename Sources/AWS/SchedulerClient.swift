import HTTP
import JSONKit

/// Amazon EventBridge Scheduler: the schedules that start a job's coordinator task.
/// https://docs.aws.amazon.com/scheduler/latest/APIReference/Welcome.html
public struct SchedulerClient: Sendable {
    public let client: RESTJSONClient

    public init(region: String, environment: AWSEnvironment, credentials: CredentialChain, http: any HTTPTransport) {
        let endpoint = environment.endpoint(service: "SCHEDULER", host: "scheduler.\(region).amazonaws.com").url
        // Scheduler's API quotas are 50 calls a second per account and Region for Create/Update/
        // Delete/GetSchedule and ListSchedules; crawlrun makes a handful per command.
        // https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html
        client = RESTJSONClient(
            service: "scheduler", region: region, endpoint: endpoint, credentials: credentials, http: http,
            bucket: TokenBucket(capacity: 10, refillPerSecond: 10))
    }

    /// Creates the group; false when it already exists. Asked first because a group of that
    /// name must never be replaced with an empty one.
    @discardableResult
    public func createScheduleGroup(_ name: String, tags: [String: String] = [:]) async throws(AWSError) -> Bool {
        if try await scheduleGroupExists(name) { return false }
        var body: [String: JSONValue] = [:]
        if !tags.isEmpty {
            body["Tags"] = .array(
                tags.sorted { $0.key < $1.key }.map { ["Key": .string($0.key), "Value": .string($0.value)] })
        }
        do {
            _ = try await client.call(
                "CreateScheduleGroup", "POST", path: "/schedule-groups/\(name)", body: .object(body))
            return true
        } catch  where error.code == "ConflictException" {
            return false
        }
    }

    public func scheduleGroupExists(_ name: String) async throws(AWSError) -> Bool {
        do {
            _ = try await client.call("GetScheduleGroup", "GET", path: "/schedule-groups/\(name)")
            return true
        } catch  where error.code == "ResourceNotFoundException" {
            return false
        }
    }

    /// Creates the schedule, or replaces it when one of that name exists in its group; the ARN,
    /// and whether it was created.
    public func putSchedule(_ schedule: ScheduleDefinition) async throws(AWSError) -> (arn: String, created: Bool) {
        let exists = try await getSchedule(schedule.name, group: schedule.group) != nil
        let out = try await client.call(
            exists ? "UpdateSchedule" : "CreateSchedule", exists ? "PUT" : "POST", path: "/schedules/\(schedule.name)",
            body: schedule.body)
        return (out["ScheduleArn"]?.stringValue ?? "", !exists)
    }

    /// The schedule, or nil when the group has none of that name (or the group does not exist).
    public func getSchedule(_ name: String, group: String) async throws(AWSError) -> ScheduleDefinition? {
        let out: JSONValue
        do {
            out = try await client.call("GetSchedule", "GET", path: "/schedules/\(name)", query: [("groupName", group)])
        } catch  where error.code == "ResourceNotFoundException" {
            return nil
        }
        guard let schedule = ScheduleDefinition(out) else {
            throw AWSError(.invalidResponse, "schedule \(group)/\(name) has no ECS RunTask target")
        }
        return schedule
    }

    /// Every schedule of `group`, following NextToken.
    public func listSchedules(group: String) async throws(AWSError) -> [ScheduleSummary] {
        var all: [ScheduleSummary] = []
        var token: String?
        repeat {
            var query = [("ScheduleGroup", group), ("MaxResults", "100")]
            if let token { query.append(("NextToken", token)) }
            let out = try await client.call("ListSchedules", "GET", path: "/schedules", query: query)
            for s in out["Schedules"]?.arrayValue ?? [] {
                guard let name = s["Name"]?.stringValue else { continue }
                all.append(
                    ScheduleSummary(
                        name: name, group: s["GroupName"]?.stringValue ?? group, arn: s["Arn"]?.stringValue ?? "",
                        enabled: s["State"]?.stringValue != "DISABLED"))
            }
            token = out["NextToken"]?.stringValue
        } while token != nil
        return all.sorted { $0.name < $1.name }
    }

    /// Deletes the schedule; false when there was none.
    @discardableResult
    public func deleteSchedule(_ name: String, group: String) async throws(AWSError) -> Bool {
        do {
            _ = try await client.call(
                "DeleteSchedule", "DELETE", path: "/schedules/\(name)", query: [("groupName", group)])
            return true
        } catch  where error.code == "ResourceNotFoundException" {
            return false
        }
    }
}
