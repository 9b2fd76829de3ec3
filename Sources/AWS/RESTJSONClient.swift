import HTTP
import JSONKit

/// AWS's REST-JSON protocol (EventBridge Scheduler): the resource in the path, the input as a
/// JSON body or query parameters, signed SigV4, answers and errors as JSON.
/// https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html
public struct RESTJSONClient: Sendable {
    let endpointClient: SignedEndpoint
    public var retry = RetryPolicy()
    public var service: String { endpointClient.service }
    public var endpoint: String { endpointClient.url }

    public init(
        service: String, region: String, endpoint: String, credentials: CredentialChain, http: any HTTPTransport,
        bucket: TokenBucket
    ) {
        endpointClient = SignedEndpoint(
            service: service, region: region, url: endpoint, credentials: credentials, http: http, bucket: bucket)
    }

    /// `method path?query` with `body` (nil: no body). `operation` names the call in errors.
    public func call(
        _ operation: String, _ method: String, path: String, query: [(String, String)] = [], body: JSONValue? = nil
    ) async throws(AWSError) -> JSONValue {
        let bytes = body.map { [UInt8]($0.encoded()) } ?? []
        // The payload's hash as a signed header too: a verifier that rebuilds the request from
        // its parsed parts (moto rebuilds a GET's query as a form body) then checks the same hash.
        var headers: [(name: String, value: String)] = [("X-Amz-Content-SHA256", SHA256.hex(bytes))]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let response = try await endpointClient.send(
            operation, method: method, path: path, query: query, headers: headers, body: bytes, retry: retry)
        if response.body.isEmpty { return [:] }
        do {
            return try JSONValue.decode(response.body)
        } catch {
            throw AWSError(.invalidResponse, "\(service) \(operation) answered with invalid JSON")
        }
    }
}
