import AWS
import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// IAM on moto_server, for the tests' set-up: a user with an access key and a policy attached.
/// IAM speaks AWS's query protocol (a form-encoded POST, answers in XML), which CrawlRun itself
/// never needs, so this small caller lives with the tests.
/// https://docs.aws.amazon.com/IAM/latest/APIReference/CommonParameters.html
public struct MotoIAM: Sendable {
    public let endpoint: String
    let http = CurlHTTPClient(connectTimeout: .seconds(2), timeout: .seconds(30))

    public init(endpoint: String) { self.endpoint = endpoint }

    /// Calls an IAM action with the given parameters; the answer's XML.
    public func call(_ action: String, _ parameters: [(String, String)]) async throws -> XMLText {
        let body = ([("Action", action), ("Version", "2010-05-08")] + parameters)
            .map { "\(SigV4.uriEncode($0.0, keepSlash: false))=\(SigV4.uriEncode($0.1, keepSlash: false))" }
            .joined(separator: "&")
        let amzDate = JSONProtocolClient.amzDate()
        var headers: [(name: String, value: String)] = [
            ("Host", String(endpoint.split(separator: "/").last ?? "")), ("X-Amz-Date", amzDate),
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ]
        let signature = SigV4.sign(
            SigV4.Request(method: "POST", path: "/", headers: headers, payloadHash: SHA256.hex(Array(body.utf8))),
            accessKeyId: "AKIASETUPSETUPSETUP0", secretAccessKey: "setup", region: "us-east-1", service: "iam",
            amzDate: amzDate)
        headers.append(("Authorization", signature.authorization))
        let r = try await http.send(
            HTTPRequest(
                method: "POST", url: endpoint + "/", headers: headers.filter { $0.name != "Host" },
                body: Data(body.utf8)))
        guard r.status == 200 else {
            throw FixtureError(
                "IAM \(action): HTTP \(r.status): \(String(decoding: r.body.prefix(400), as: UTF8.self))")
        }
        return XMLText(r.body)
    }

    /// A user with `policy` attached and a fresh access key: four IAM calls.
    public func user(_ name: String, policy: JSONValue) async throws -> (accessKeyId: String, secretAccessKey: String) {
        _ = try await call("CreateUser", [("UserName", name)])
        let key = try await call("CreateAccessKey", [("UserName", name)])
        let created = try await call(
            "CreatePolicy",
            [("PolicyName", name + "-policy"), ("PolicyDocument", String(decoding: policy.encoded(), as: UTF8.self))])
        guard let id = key.first("AccessKeyId"), let secret = key.first("SecretAccessKey"),
            let arn = created.first("Arn")
        else { throw FixtureError("IAM set-up for \(name): unexpected answers") }
        _ = try await call("AttachUserPolicy", [("UserName", name), ("PolicyArn", arn)])
        return (id, secret)
    }
}
