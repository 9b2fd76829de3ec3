import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One AWS service endpoint taking signed `POST /` requests: what the JSON protocol (ECS, Logs,
/// ECR) and the query protocol (EC2, STS) have in common. Each attempt waits for a token of the
/// client-side bucket, is signed afresh (credentials may have been refreshed), and is retried by
/// the policy; a non-2xx answer becomes the service's `AWSError`. An answer saying the signing
/// time is too far from the service's corrects the signing clock and is signed again once.
/// `credentials` nil: the call is sent unsigned (STS AssumeRoleWithWebIdentity).
struct SignedEndpoint: Sendable {
    let service: String
    let region: String
    let url: String
    let credentials: CredentialChain?
    let http: any HTTPTransport
    let bucket: TokenBucket
    /// Calls on the wire at once (InFlightLimit): a client's buckets pace calls, this bounds
    /// what a slow answer lets pile up behind them.
    let inFlight = InFlightLimit(32)

    func post(
        _ operation: String, headers: [(name: String, value: String)], body: [UInt8], retry: RetryPolicy,
        bucket: TokenBucket? = nil
    ) async throws(AWSError) -> HTTPResponse {
        try await send(operation, method: "POST", headers: headers, body: body, retry: retry, bucket: bucket)
    }

    /// `method path[?query]`: the REST protocols (EventBridge Scheduler) name the resource in
    /// the path; `path` is sent as given (already URI-encoded) and signed encoded once more.
    func send(
        _ operation: String, method: String, path: String = "/", query: [(String, String)] = [],
        headers: [(name: String, value: String)], body: [UInt8], retry: RetryPolicy, bucket: TokenBucket? = nil
    ) async throws(AWSError) -> HTTPResponse {
        let bucket = bucket ?? self.bucket
        let queryString = SigV4.encodeQuery(query)
        // No body at all on a GET or DELETE without one: libcurl turns a request with a body into a POST.
        let data: Data? = body.isEmpty && method != "POST" && method != "PUT" ? nil : Data(body)
        let what = "\(service) \(operation)"
        let payloadHash = SHA256.hex(body)
        var skewCorrected = false
        return try await retry.run(what) { () async throws(AWSError) -> HTTPResponse in
            try await bucket.take(for: what)
            while true {
                let target = url + path + (queryString.isEmpty ? "" : "?" + queryString)
                var request = HTTPRequest(method: method, url: target, headers: headers, body: data)
                if let credentials {
                    request = SigV4.signedRequest(
                        method: method, base: url, path: path, query: queryString, headers: headers, body: data,
                        payloadHash: payloadHash, credentials: try await credentials.credentials(), region: region,
                        service: service, date: credentials.clock.now())
                }
                let response: HTTPResponse
                await inFlight.acquire()
                defer { inFlight.release() }  // at the end of this attempt
                do {
                    response = try await http.send(request)
                } catch {
                    throw AWSError.noAnswer(what, error)
                }
                if (200..<300).contains(response.status) { return response }
                let error = AWSError.decode(response, operation: operation)
                if !skewCorrected, let clock = credentials?.clock, clock.correct(after: error, response: response) {
                    skewCorrected = true
                    continue
                }
                throw error
            }
        }
    }
}

extension AWSError {
    /// A JSON-protocol error `{"__type": "ns#Code", "message"|"Message": …}` (the namespace before
    /// `#` dropped), or an XML one: `<ErrorResponse><Error><Code>` from gateways and moto's auth
    /// layer, `<Response><Errors><Error><Code>` from EC2's query protocol.
    /// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    static func decode(_ r: HTTPResponse, operation: String) -> AWSError {
        let json = try? JSONValue.decode(r.body)
        let xml = json == nil && r.body.first == UInt8(ascii: "<") ? XMLText(r.body) : nil
        var code =
            json?["__type"]?.stringValue ?? xml?.first("Code") ?? r.header("x-amzn-ErrorType") ?? "HTTP\(r.status)"
        if let hash = code.lastIndex(of: "#") { code = String(code[code.index(after: hash)...]) }
        if let colon = code.firstIndex(of: ":") { code = String(code[..<colon]) }
        let message =
            json?["message"]?.stringValue ?? json?["Message"]?.stringValue ?? xml?.first("Message")
            ?? String(decoding: r.body.prefix(300), as: UTF8.self)
        return AWSError(.service, "\(operation): \(message)", code: code, httpStatus: r.status)
    }
}
