import AWS
import Coordinator
import CrawlKit
import JSONKit

/// Where the awslogs driver puts a task's container output, and reading one such stream on
/// demand (`crawlrun logs RUN_DIR BATCH`): a run copies CloudWatch streams only for tasks that
/// failed or whose crawler uploaded no log (`FargateLogCopier`); the others stay on CloudWatch
/// for the log group's retention.
public enum FargateLogStreams {
    /// Each container's `awslogs-stream-prefix` in a rendered task definition.
    public static func prefixes(_ definition: JSONValue) -> [String: String] {
        var prefixes: [String: String] = [:]
        for c in definition["containerDefinitions"]?.arrayValue ?? [] {
            if let name = c["name"]?.stringValue,
                let prefix = c["logConfiguration"]?["options"]?["awslogs-stream-prefix"]?.stringValue
            {
                prefixes[name] = prefix
            }
        }
        return prefixes
    }

    /// `<prefix>/<container>/<task-id>`, the awslogs driver's stream name (ECS's default prefix
    /// is "ecs").
    /// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html
    public static func stream(container: String, task arn: String, prefixes: [String: String]) -> String {
        "\(prefixes[container] ?? "ecs")/\(container)/\(arn.split(separator: "/").last.map(String.init) ?? arn)"
    }

    /// An event as a line of a run directory's log: its own timestamp kept, else the event's.
    static func stamped(_ event: LogEvent) -> String {
        ContainerLog.hasTimestamp(event.message)
            ? event.message : Timestamp.format(epochSeconds: Double(event.timestamp) / 1000) + " " + event.message
    }

    /// Every line of a stream, oldest first, each with its time.
    public static func lines(
        of stream: String, job: Job, variables: [String: String]
    ) async throws(AWSError) -> [String] {
        let region = job.fargate.region ?? AWSEnvironment(variables).region() ?? "us-east-1"
        let logs = AWSServices(region: region, variables: variables).logs
        let read = try await logs.readStream(group: job.fargate.logGroup, stream: stream)
        return read.events.map { stamped($0) }
    }
}
