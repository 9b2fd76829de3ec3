import HTTP
import JSONKit

/// AWS's JSON 1.1 protocol (ECS, CloudWatch Logs, ECR): `POST /` with `X-Amz-Target`, signed SigV4.
/// https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html
public struct JSONProtocolClient: Sendable {
    let endpointClient: SignedEndpoint
    public let targetPrefix: String
    public var retry = RetryPolicy()
    public var service: String { endpointClient.service }
    public var region: String { endpointClient.region }
    public var endpoint: String { endpointClient.url }

    public init(
        service: String, targetPrefix: String, region: String, endpoint: String, credentials: CredentialChain,
        http: any HTTPTransport, bucket: TokenBucket
    ) {
        endpointClient = SignedEndpoint(
            service: service, region: region, url: endpoint, credentials: credentials, http: http, bucket: bucket)
        self.targetPrefix = targetPrefix
    }

    /// Calls `operation`. `bucket` replaces the client's token bucket for an operation AWS
    /// throttles apart (ECS: RunTask, DescribeTasks); `retry` replaces the client's policy.
    public func call(
        _ operation: String, _ input: JSONValue, bucket: TokenBucket? = nil, retry: RetryPolicy? = nil
    ) async throws(AWSError) -> JSONValue {
        let response = try await endpointClient.post(
            operation,
            headers: [
                ("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "\(targetPrefix).\(operation)"),
            ], body: [UInt8](input.encoded()), retry: retry ?? self.retry, bucket: bucket)
        if response.body.isEmpty { return [:] }
        do {
            return try JSONValue.decode(response.body)
        } catch {
            throw AWSError(.invalidResponse, "\(service) \(operation) answered with invalid JSON")
        }
    }
}
