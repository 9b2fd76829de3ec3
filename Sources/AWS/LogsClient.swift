import HTTP
import JSONKit

/// One log line as CloudWatch Logs stores it.
public struct LogEvent: Sendable, Equatable {
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    public var message: String
}

/// A log stream of a group.
public struct LogStream: Sendable, Equatable {
    public var name: String
    public var lastEventTimestamp: Int64?
}

/// Amazon CloudWatch Logs: the three calls CrawlRun needs to find, read and prepare task logs.
/// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/Welcome.html
public struct LogsClient: Sendable {
    public let client: JSONProtocolClient

    public init(region: String, environment: AWSEnvironment, credentials: CredentialChain, http: any HTTPTransport) {
        let endpoint = environment.endpoint(service: "CLOUDWATCH_LOGS", host: "logs.\(region).amazonaws.com").url
        // GetLogEvents allows 25 calls a second per account and Region, a hard quota AWS says is
        // meant for people reading logs, not for automation; DescribeLogStreams and
        // FilterLogEvents allow fewer (FilterLogEvents 5). The account's other users (a console,
        // a log shipper) share it: crawlrun keeps to 10 a second, with a burst of 10.
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html
        // https://repost.aws/knowledge-center/cloudwatch-logs-throttling
        client = JSONProtocolClient(
            service: "logs", targetPrefix: "Logs_20140328", region: region, endpoint: endpoint,
            credentials: credentials, http: http, bucket: TokenBucket(capacity: 10, refillPerSecond: 10))
    }

    /// One page of a stream, oldest first. A page may be empty before the end of the stream.
    public func getLogEvents(
        group: String, stream: String, nextToken: String? = nil, limit: Int? = nil
    ) async throws(AWSError) -> (events: [LogEvent], nextForwardToken: String?) {
        // With a token, startFromHead must still be true, or the token is read backwards.
        var input: [String: JSONValue] = [
            "logGroupName": .string(group), "logStreamName": .string(stream), "startFromHead": true,
        ]
        if let nextToken { input["nextToken"] = .string(nextToken) }
        if let limit { input["limit"] = .number(Double(limit)) }
        let out = try await client.call("GetLogEvents", .object(input))
        let events = (out["events"]?.arrayValue ?? []).map { e in
            LogEvent(
                timestamp: Int64(e["timestamp"]?.doubleValue ?? 0), message: e["message"]?.stringValue ?? "")
        }
        return (events, out["nextForwardToken"]?.stringValue)
    }

    /// Everything in the stream after `token` (from the start when nil), and the token to continue
    /// from later. The end is reached when `nextForwardToken` equals the token sent, not at the
    /// first empty page (ECS-NOTES.md, "CloudWatch Logs").
    public func readStream(
        group: String, stream: String, from token: String? = nil, maxPages: Int = 10_000
    ) async throws(AWSError) -> (events: [LogEvent], token: String?) {
        var events: [LogEvent] = []
        var sent = token
        for _ in 0..<maxPages {
            let page = try await getLogEvents(group: group, stream: stream, nextToken: sent)
            events += page.events
            guard let next = page.nextForwardToken, next != sent else { return (events, sent ?? page.nextForwardToken) }
            sent = next
        }
        return (events, sent)
    }

    /// Streams of `group` whose names start with `prefix`.
    public func describeLogStreams(
        group: String, prefix: String? = nil, limit: Int = 50
    ) async throws(AWSError)
        -> [LogStream]
    {
        var input: [String: JSONValue] = ["logGroupName": .string(group), "limit": .number(Double(limit))]
        if let prefix { input["logStreamNamePrefix"] = .string(prefix) }
        let out = try await client.call("DescribeLogStreams", .object(input))
        return (out["logStreams"]?.arrayValue ?? []).compactMap { s in
            s["logStreamName"]?.stringValue.map {
                LogStream(name: $0, lastEventTimestamp: s["lastEventTimestamp"]?.doubleValue.map { Int64($0) })
            }
        }
    }

    /// Creates the group; false when it already existed.
    @discardableResult
    public func createLogGroup(_ group: String) async throws(AWSError) -> Bool {
        do {
            _ = try await client.call("CreateLogGroup", ["logGroupName": .string(group)])
            return true
        } catch  where error.code == "ResourceAlreadyExistsException" {
            return false
        }
    }
}
