import HTTP
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One object of a listing.
public struct S3Object: Sendable, Equatable {
    public var key: String
    public var size: Int
    public var eTag: String?
}

/// What HeadObject tells about an object.
public struct S3ObjectInfo: Sendable, Equatable {
    public var size: Int
    public var eTag: String?
    public var contentType: String?
}

/// `s3://bucket/key`, split.
public struct S3Location: Sendable, Equatable, CustomStringConvertible {
    public var bucket: String
    public var key: String

    public init(bucket: String, key: String) {
        self.bucket = bucket
        self.key = key
    }

    /// Nil unless `uri` is `s3://BUCKET/KEY` with both parts non-empty.
    public init?(uri: String) {
        guard uri.hasPrefix("s3://") else { return nil }
        let rest = uri.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex else { return nil }
        bucket = String(rest[..<slash])
        key = String(rest[rest.index(after: slash)...])
        if key.isEmpty { return nil }
    }

    public var description: String { "s3://\(bucket)/\(key)" }
}

/// Amazon S3's REST API, the five calls CrawlRun needs, signed SigV4 with the payload's SHA-256
/// (`x-amz-content-sha256`). Virtual-hosted addressing on AWS; path style when an endpoint
/// override is set (moto, LocalStack) or the bucket name has dots (TLS names cannot match).
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
public struct S3Client: Sendable {
    public let region: String
    let endpoint: String
    let overridden: Bool
    let credentials: CredentialChain
    let http: any HTTPTransport
    /// S3 takes 3,500 writes and 5,500 reads per second per prefix; a run stays far below, but a
    /// burst of uploads from many tasks should not turn into SlowDown answers.
    let bucket = TokenBucket(capacity: 200, refillPerSecond: 200)
    /// Requests on the wire at once: S3 answers in milliseconds, so 32 keep 200 a second going,
    /// and a burst beyond waits without a thread and a connection each.
    let inFlight = InFlightLimit(32)
    public var retry = RetryPolicy()
    /// Buckets S3 said live in another region than the client's, remembered for the client's life.
    let bucketRegions = BucketRegions()

    public init(region: String, environment: AWSEnvironment, credentials: CredentialChain, http: any HTTPTransport) {
        self.region = region
        let e = environment.endpoint(service: "S3", host: "s3.\(region).amazonaws.com")
        endpoint = e.url
        overridden = e.overridden
        self.credentials = credentials
        self.http = http
    }

    public func putObject(
        _ location: S3Location, body: Data, contentType: String = "application/octet-stream"
    ) async throws(AWSError) {
        _ = try await send(
            "PUT", location.bucket, key: location.key, body: body, headers: [("Content-Type", contentType)],
            operation: "PutObject")
    }

    public func getObject(_ location: S3Location) async throws(AWSError) -> Data {
        try await send("GET", location.bucket, key: location.key, operation: "GetObject").body
    }

    /// Nil when there is no such object.
    public func headObject(_ location: S3Location) async throws(AWSError) -> S3ObjectInfo? {
        do {
            let r = try await send("HEAD", location.bucket, key: location.key, operation: "HeadObject")
            return S3ObjectInfo(
                size: r.header("Content-Length").flatMap { Int($0) } ?? 0, eTag: r.header("ETag"),
                contentType: r.header("Content-Type"))
        } catch  where error.httpStatus == 404 {
            return nil
        }
    }

    public func deleteObject(_ location: S3Location) async throws(AWSError) {
        _ = try await send("DELETE", location.bucket, key: location.key, operation: "DeleteObject")
    }

    /// One page of ListObjectsV2: the objects and the token for the next page, if any.
    public func listObjectsPage(
        bucket: String, prefix: String, continuationToken: String? = nil, maxKeys: Int = 1000
    ) async throws(AWSError) -> (objects: [S3Object], next: String?) {
        var query = [("list-type", "2"), ("max-keys", String(maxKeys)), ("prefix", prefix)]
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        let r = try await send("GET", bucket, key: "", query: query, operation: "ListObjectsV2")
        let xml = XMLText(r.body)
        let objects = xml.all("Contents").compactMap { c -> S3Object? in
            guard let key = c.first("Key") else { return nil }
            return S3Object(key: key, size: c.first("Size").flatMap { Int($0) } ?? 0, eTag: c.first("ETag"))
        }
        let truncated = xml.first("IsTruncated") == "true"
        return (objects, truncated ? xml.first("NextContinuationToken") : nil)
    }

    /// Every object under `prefix`, following continuation tokens.
    public func listObjects(bucket: String, prefix: String) async throws(AWSError) -> [S3Object] {
        var all: [S3Object] = []
        var token: String?
        repeat {
            let page = try await listObjectsPage(bucket: bucket, prefix: prefix, continuationToken: token)
            all += page.objects
            token = page.next
        } while token != nil
        return all
    }

    /// Any S3 request, signed, retried and checked; for calls this client does not wrap. A bucket
    /// in another region answers 301 PermanentRedirect or 400 AuthorizationHeaderMalformed naming
    /// its region (`x-amz-bucket-region`, `<Region>`): the request is sent once more there, and
    /// the bucket's region remembered.
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonResponseHeaders.html
    public func send(
        _ method: String, _ bucket: String, key: String, query: [(String, String)] = [], body: Data? = nil,
        headers extra: [(String, String)] = [], operation: String
    ) async throws(AWSError) -> HTTPResponse {
        let region = bucketRegions[bucket] ?? self.region
        do {
            return try await send(
                method, bucket, key: key, query: query, body: body, headers: extra, operation: operation, in: region)
        } catch {
            guard let right = Self.bucketRegion(in: error), right != region else { throw error }
            bucketRegions[bucket] = right
            return try await send(
                method, bucket, key: key, query: query, body: body, headers: extra, operation: operation, in: right)
        }
    }

    private func send(
        _ method: String, _ bucket: String, key: String, query: [(String, String)], body: Data?,
        headers extra: [(String, String)], operation: String, in region: String
    ) async throws(AWSError) -> HTTPResponse {
        let payloadHash = body.map { SHA256.hex(Array($0)) } ?? SigV4.emptyPayloadHash
        return try await retry.run("S3 \(operation)") { () async throws(AWSError) -> HTTPResponse in
            try await self.bucket.take(for: "S3 \(operation)")
            return try await once(
                method, bucket, key: key, query: query, body: body, payloadHash: payloadHash, extra: extra,
                operation: operation, region: region)
        }
    }

    /// The region a wrong-region answer names, or nil.
    static func bucketRegion(in error: AWSError) -> String? {
        guard
            ["PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"].contains(
                error.code), let start = error.message.firstRange(of: Self.regionNote)
        else { return nil }
        let rest = error.message[start.upperBound...]
        guard let end = rest.firstIndex(of: ")") else { return nil }
        let region = String(rest[..<end])
        return region.isEmpty ? nil : region
    }
    static let regionNote = " (the bucket is in "

    /// Path style puts the bucket in the path; virtual-hosted style in the host name. AWS's
    /// endpoint follows the region the request is signed for.
    func address(bucket: String, key: String, region: String? = nil) -> (base: String, path: String) {
        let encodedKey = SigV4.uriEncode(key, keepSlash: true)
        var endpoint = self.endpoint
        if !overridden, let region, region != self.region { endpoint = "https://s3.\(region).amazonaws.com" }
        if overridden || bucket.contains(".") {
            return (endpoint, "/" + SigV4.uriEncode(bucket, keepSlash: false) + (key.isEmpty ? "" : "/" + encodedKey))
        }
        let base = endpoint.replacing("://", with: "://\(bucket).", maxReplacements: 1)
        return (base, "/" + encodedKey)
    }

    private func once(
        _ method: String, _ bucket: String, key: String, query: [(String, String)], body: Data?, payloadHash: String,
        extra: [(String, String)], operation: String, region: String
    ) async throws(AWSError) -> HTTPResponse {
        let (base, path) = address(bucket: bucket, key: key, region: region)
        var skewCorrected = false
        while true {
            let request = SigV4.signedRequest(
                method: method, base: base, path: path, query: SigV4.encodeQuery(query),
                headers: [("X-Amz-Content-SHA256", payloadHash)] + extra.map { (name: $0.0, value: $0.1) },
                body: body, payloadHash: payloadHash, credentials: try await credentials.credentials(),
                region: region, service: "s3", s3: true, date: credentials.clock.now())
            let response: HTTPResponse
            await inFlight.acquire()
            defer { inFlight.release() }  // at the end of this attempt
            do {
                response = try await http.send(request)
            } catch {
                throw AWSError.noAnswer("S3 \(operation) s3://\(bucket)/\(key)", error)
            }
            if (200..<300).contains(response.status) { return response }
            let error = Self.decodeError(response, operation: operation, bucket: bucket, key: key)
            // RequestTimeTooSkewed: signed again once with S3's time (SigningClock).
            if !skewCorrected, credentials.clock.correct(after: error, response: response) {
                skewCorrected = true
                continue
            }
            throw error
        }
    }

    /// `<Error><Code>NoSuchKey</Code><Message>…</Message></Error>`; HEAD answers have no body,
    /// so the status stands in for the code there.
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
    static func decodeError(_ r: HTTPResponse, operation: String, bucket: String, key: String) -> AWSError {
        let xml = XMLText(r.body)
        let what = key.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(key)"
        let code =
            xml.first("Code")
            ?? {
                switch r.status {
                case 403: return "AccessDenied"
                case 404: return key.isEmpty ? "NoSuchBucket" : "NotFound"
                case 301: return "PermanentRedirect"
                default: return "HTTP\(r.status)"
                }
            }()
        var message = xml.first("Message") ?? "HTTP \(r.status)"
        if let region = r.header("x-amz-bucket-region") ?? xml.first("Region"),
            r.status == 301 || code == "AuthorizationHeaderMalformed" || code == "IllegalLocationConstraintException"
        {
            message += regionNote + region + ")"
        }
        return AWSError(.service, "\(operation) \(what): \(message)", code: code, httpStatus: r.status)
    }
}

/// Bucket → region, shared by the copies of one client.
final class BucketRegions: Sendable {
    private let regions = Mutex<[String: String]>([:])
    subscript(bucket: String) -> String? {
        get { regions.withLock { $0[bucket] } }
        set { regions.withLock { $0[bucket] = newValue } }
    }
}
