import HTTP
import JSONKit

/// Amazon EventBridge: PutEvents, for the event a coordinator puts when a run ends.
/// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
public struct EventsClient: Sendable {
    public let client: JSONProtocolClient

    public init(region: String, environment: AWSEnvironment, credentials: CredentialChain, http: any HTTPTransport) {
        let endpoint = environment.endpoint(service: "EVENTBRIDGE", host: "events.\(region).amazonaws.com").url
        client = JSONProtocolClient(
            service: "events", targetPrefix: "AWSEvents", region: region, endpoint: endpoint, credentials: credentials,
            http: http, bucket: TokenBucket(capacity: 10, refillPerSecond: 10))
    }

    /// Puts one event on `bus` (nil: the account's default bus); its event id. A 200 answer can
    /// still carry a failed entry (`FailedEntryCount`), which is thrown here.
    public func putEvent(
        source: String, detailType: String, detail: JSONValue, resources: [String] = [], bus: String? = nil
    ) async throws(AWSError) -> String {
        var entry: [String: JSONValue] = [
            "Source": .string(source), "DetailType": .string(detailType),
            "Detail": .string(String(decoding: detail.encoded(), as: UTF8.self)),
        ]
        if !resources.isEmpty { entry["Resources"] = .array(resources.map(JSONValue.string)) }
        if let bus { entry["EventBusName"] = .string(bus) }
        let out = try await client.call("PutEvents", ["Entries": [.object(entry)]])
        let first = out["Entries"]?.arrayValue?.first
        if (out["FailedEntryCount"]?.intValue ?? 0) > 0 || first?["ErrorCode"]?.stringValue != nil {
            throw AWSError(
                .service, "PutEvents: \(first?["ErrorMessage"]?.stringValue ?? "the event was not accepted")",
                code: first?["ErrorCode"]?.stringValue ?? "FailedEntry")
        }
        return first?["EventId"]?.stringValue ?? ""
    }
}
