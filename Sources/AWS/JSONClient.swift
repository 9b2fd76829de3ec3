import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A client-side token bucket: a burst of calls waits here instead of being throttled by the
/// API's own bucket (ECS-NOTES.md, "API rate limits").
public actor TokenBucket {
    let capacity: Double
    let refillPerSecond: Double
    private var tokens: Double
    private var last = ContinuousClock.now

    public init(capacity: Double, refillPerSecond: Double) {
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        tokens = capacity
    }

    public func take() async {
        while true {
            let now = ContinuousClock.now
            let elapsed = now - last
            last = now
            tokens = min(
                capacity,
                tokens + (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                    * refillPerSecond)
            if tokens >= 1 {
                tokens -= 1
                return
            }
            let wait = (1 - tokens) / refillPerSecond
            try? await Task.sleep(for: .milliseconds(Int64(wait * 1000) + 1))
        }
    }
}

/// Retries with jittered exponential backoff ("full jitter"), for retryable errors only, within a
/// per-call deadline. https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
public struct RetryPolicy: Sendable {
    public var maxAttempts = 5
    public var baseDelay: Duration = .milliseconds(100)
    public var maxDelay: Duration = .seconds(10)
    public var deadline: Duration = .seconds(60)
    public init() {}

    func delay(attempt: Int) -> Duration {
        let cap = min(maxDelay, baseDelay * (1 << min(attempt, 16)))
        let ms = Double(cap.components.seconds) * 1000 + Double(cap.components.attoseconds) / 1e15
        return .milliseconds(Int64(Double.random(in: 0...ms)))
    }

    /// Runs `body` until it succeeds, fails for good, or the deadline would pass.
    func run<T: Sendable>(_ body: () async throws(AWSError) -> T) async throws(AWSError) -> T {
        let deadlineAt = ContinuousClock.now + deadline
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch {
                attempt += 1
                let pause = delay(attempt: attempt)
                guard error.isRetryable, attempt < maxAttempts, ContinuousClock.now + pause < deadlineAt else {
                    throw error
                }
                try? await Task.sleep(for: pause)
            }
        }
    }
}

/// AWS's JSON 1.1 protocol (ECS, CloudWatch Logs): `POST /` with `X-Amz-Target`, signed SigV4.
public struct JSONProtocolClient: Sendable {
    public let service: String
    public let targetPrefix: String
    public let region: String
    public let endpoint: String
    let credentials: CredentialChain
    let http: any HTTPTransport
    let bucket: TokenBucket
    public var retry = RetryPolicy()

    public init(
        service: String, targetPrefix: String, region: String, endpoint: String, credentials: CredentialChain,
        http: any HTTPTransport, bucket: TokenBucket
    ) {
        self.service = service
        self.targetPrefix = targetPrefix
        self.region = region
        self.endpoint = endpoint
        self.credentials = credentials
        self.http = http
        self.bucket = bucket
    }

    public func call(_ operation: String, _ input: JSONValue) async throws(AWSError) -> JSONValue {
        let body = [UInt8](input.encoded())
        return try await retry.run { () async throws(AWSError) -> JSONValue in
            await bucket.take()
            return try await once(operation, body)
        }
    }

    private func once(_ operation: String, _ body: [UInt8]) async throws(AWSError) -> JSONValue {
        let request = SigV4.signedRequest(
            method: "POST", base: endpoint, path: "/",
            headers: [
                ("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "\(targetPrefix).\(operation)"),
            ],
            body: Data(body), payloadHash: SHA256.hex(body), credentials: try await credentials.credentials(),
            region: region, service: service)
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch {
            throw AWSError(.transport, "\(service) \(operation) did not get an answer", cause: "\(error)")
        }
        guard (200..<300).contains(response.status) else { throw Self.decodeError(response, operation: operation) }
        if response.body.isEmpty { return [:] }
        do {
            return try JSONValue.decode(response.body)
        } catch {
            throw AWSError(.invalidResponse, "\(service) \(operation) answered with invalid JSON")
        }
    }

    /// `{"__type": "ns#Code", "message"|"Message": …}`; the namespace before `#` is dropped.
    /// Gateways in front of a service (and moto's auth layer) answer with an XML
    /// `<ErrorResponse><Error><Code>` instead, so that is read too.
    static func decodeError(_ r: HTTPResponse, operation: String) -> AWSError {
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

/// Amazon ECS: the operations CrawlRun uses.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/Welcome.html
public struct ECSClient: Sendable {
    public let client: JSONProtocolClient
    /// RunTask/StopTask and Describe/List have their own buckets on AWS's side; so here.
    let launches = TokenBucket(capacity: 100, refillPerSecond: 40)
    let registrations = TokenBucket(capacity: 20, refillPerSecond: 1)

    public init(region: String, environment: AWSEnvironment, credentials: CredentialChain, http: any HTTPTransport) {
        let endpoint = environment.endpoint(service: "ECS", host: "ecs.\(region).amazonaws.com").url
        client = JSONProtocolClient(
            service: "ecs", targetPrefix: "AmazonEC2ContainerServiceV20141113", region: region, endpoint: endpoint,
            credentials: credentials, http: http, bucket: TokenBucket(capacity: 100, refillPerSecond: 20))
    }

    public func registerTaskDefinition(_ definition: JSONValue) async throws(AWSError) -> JSONValue {
        await registrations.take()
        return try await client.call("RegisterTaskDefinition", definition)
    }
    public func describeTaskDefinition(_ family: String) async throws(AWSError) -> JSONValue {
        try await client.call("DescribeTaskDefinition", ["taskDefinition": .string(family)])
    }
    public func runTask(_ input: JSONValue) async throws(AWSError) -> JSONValue {
        await launches.take()
        return try await client.call("RunTask", input)
    }
    /// At most 100 tasks per call (the API's limit).
    public func describeTasks(cluster: String, tasks: [String]) async throws(AWSError) -> JSONValue {
        try await client.call(
            "DescribeTasks", ["cluster": .string(cluster), "tasks": .array(tasks.prefix(100).map { .string($0) })])
    }
    public func stopTask(cluster: String, task: String, reason: String) async throws(AWSError) -> JSONValue {
        await launches.take()
        return try await client.call(
            "StopTask",
            ["cluster": .string(cluster), "task": .string(task), "reason": .string(String(reason.prefix(255)))])
    }
    public func listTasks(_ input: JSONValue) async throws(AWSError) -> JSONValue {
        try await client.call("ListTasks", input)
    }
    public func describeClusters(_ clusters: [String]) async throws(AWSError) -> JSONValue {
        try await client.call("DescribeClusters", ["clusters": .array(clusters.map { .string($0) })])
    }
}
