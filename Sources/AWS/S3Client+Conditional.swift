import HTTP

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Conditional writes and multipart uploads: what a run directory on S3 needs (its lease, its
/// results in parts).
extension S3Client {
    /// A PutObject precondition. `absent`: `If-None-Match: *`, the object must not exist;
    /// `matches`: `If-Match: ETAG`, the object must still be the one read. S3 answers 412
    /// PreconditionFailed when the condition does not hold, 409 ConditionalRequestConflict when
    /// a concurrent write to the key raced this one (retry after reading the object again), and
    /// 404 NoSuchKey to `If-Match` on a key that is gone.
    /// https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (If-Match, If-None-Match)
    public enum WriteCondition: Sendable, Equatable {
        case none
        case absent
        case matches(eTag: String)
    }

    /// PutObject with a precondition; the new object's ETag.
    @discardableResult
    public func putObject(
        _ location: S3Location, body: Data, contentType: String = "application/octet-stream",
        condition: WriteCondition
    ) async throws(AWSError) -> String? {
        var headers = [("Content-Type", contentType)]
        switch condition {
        case .none: break
        case .absent: headers.append(("If-None-Match", "*"))
        case .matches(let eTag): headers.append(("If-Match", eTag))
        }
        let r = try await send(
            "PUT", location.bucket, key: location.key, body: body, headers: headers, operation: "PutObject")
        return r.header("ETag")
    }

    /// GetObject with the object's ETag (for a later `If-Match`); nil when there is no such key.
    public func getObjectIfPresent(_ location: S3Location) async throws(AWSError) -> (body: Data, eTag: String?)? {
        do {
            let r = try await send("GET", location.bucket, key: location.key, operation: "GetObject")
            return (r.body, r.header("ETag"))
        } catch  where error.code == "NoSuchKey" || error.httpStatus == 404 && error.code != "NoSuchBucket" {
            return nil
        }
    }

    /// Whether an error is a precondition that did not hold (412), or a write that raced another
    /// (409 ConditionalRequestConflict), or an `If-Match` on a key that is gone (404).
    public static func isConditionFailure(_ error: AWSError) -> Bool {
        error.httpStatus == 412 || error.code == "PreconditionFailed" || error.code == "ConditionalRequestConflict"
            || (error.httpStatus == 404 && error.code == "NoSuchKey")
    }

    // MARK: - Multipart upload
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html: parts of 5 MiB to
    // 5 GiB (the last one may be smaller), numbered 1…10,000.

    /// The smallest part S3 accepts, except the last one.
    public static let minimumPartSize = 5 << 20

    /// CreateMultipartUpload: the upload's id.
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
    public func createMultipartUpload(
        _ location: S3Location, contentType: String = "application/octet-stream"
    ) async throws(AWSError) -> String {
        let r = try await send(
            "POST", location.bucket, key: location.key, query: [("uploads", "")],
            headers: [("Content-Type", contentType)], operation: "CreateMultipartUpload")
        guard let id = XMLText(r.body).first("UploadId"), !id.isEmpty else {
            throw AWSError(.invalidResponse, "CreateMultipartUpload \(location): no UploadId in the answer")
        }
        return id
    }

    /// UploadPart: the part's ETag, which CompleteMultipartUpload names.
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html
    public func uploadPart(
        _ location: S3Location, uploadID: String, partNumber: Int, body: Data
    ) async throws(AWSError) -> String {
        let r = try await send(
            "PUT", location.bucket, key: location.key,
            query: [("partNumber", String(partNumber)), ("uploadId", uploadID)], body: body,
            // A body without a type goes out as a form (libcurl's default), which moto parses
            // for parameters and then loses partNumber.
            headers: [("Content-Type", "application/octet-stream")], operation: "UploadPart")
        guard let eTag = r.header("ETag") else {
            throw AWSError(.invalidResponse, "UploadPart \(location) part \(partNumber): no ETag in the answer")
        }
        return eTag
    }

    /// CompleteMultipartUpload: the parts, in order, become the object. S3 may answer 200 with an
    /// `<Error>` body when it fails after it started answering; that is an error too.
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
    public func completeMultipartUpload(
        _ location: S3Location, uploadID: String, partETags: [String]
    ) async throws(AWSError) {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for (i, eTag) in partETags.enumerated() {
            xml += "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\(Self.xmlEscaped(eTag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let r = try await send(
            "POST", location.bucket, key: location.key, query: [("uploadId", uploadID)], body: Data(xml.utf8),
            headers: [("Content-Type", "application/xml")], operation: "CompleteMultipartUpload")
        let answer = XMLText(r.body)
        if answer.first("Error") != nil || (answer.first("Code") != nil && answer.first("Location") == nil) {
            throw AWSError(
                .service, "CompleteMultipartUpload \(location): \(answer.first("Message") ?? "failed")",
                code: answer.first("Code") ?? "InternalError", httpStatus: r.status)
        }
    }

    /// AbortMultipartUpload: the parts uploaded so far are dropped (they cost storage otherwise).
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html
    public func abortMultipartUpload(_ location: S3Location, uploadID: String) async throws(AWSError) {
        _ = try await send(
            "DELETE", location.bucket, key: location.key, query: [("uploadId", uploadID)],
            operation: "AbortMultipartUpload")
    }

    static func xmlEscaped(_ text: String) -> String {
        text.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
    }
}
