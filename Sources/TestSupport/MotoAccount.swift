import AWS
import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// AWS's query protocol (a form-encoded POST, answers in XML) on moto_server, for the tests'
/// set-up: IAM users, keys and policies, and EC2's default subnets. CrawlRun itself never needs
/// this protocol, so the small caller lives with the tests.
/// https://docs.aws.amazon.com/IAM/latest/APIReference/CommonParameters.html
public struct MotoQuery: Sendable {
    public let endpoint: String
    let http = CurlHTTPClient(connectTimeout: .seconds(2), timeout: .seconds(30))

    public init(endpoint: String) { self.endpoint = endpoint }

    /// Calls `action` of `service` (API `version`); the answer's XML. Signed with a set-up key:
    /// moto checks nothing during its first INITIAL_NO_AUTH_ACTION_COUNT calls.
    public func call(
        _ service: String, version: String, _ action: String, _ parameters: [(String, String)] = []
    ) async throws -> XMLText {
        let body = SigV4.encodeQuery([("Action", action), ("Version", version)] + parameters)
        let r = try await http.send(
            SigV4.signedRequest(
                method: "POST", base: endpoint, path: "/",
                headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                body: Data(body.utf8), payloadHash: SHA256.hex(Array(body.utf8)),
                credentials: AWSCredentials(
                    accessKeyId: "AKIASETUPSETUPSETUP0", secretAccessKey: "setup", source: "moto set-up"),
                region: "us-east-1", service: service))
        guard r.status == 200 else {
            throw FixtureError(
                "\(service) \(action): HTTP \(r.status): \(String(decoding: r.body.prefix(400), as: UTF8.self))")
        }
        return XMLText(r.body)
    }

    public func iam(_ action: String, _ parameters: [(String, String)]) async throws -> XMLText {
        try await call("iam", version: "2010-05-08", action, parameters)
    }

    /// A user with `policy` attached and a fresh access key: four IAM calls.
    public func user(_ name: String, policy: JSONValue) async throws -> (accessKeyId: String, secretAccessKey: String) {
        _ = try await iam("CreateUser", [("UserName", name)])
        let key = try await iam("CreateAccessKey", [("UserName", name)])
        let created = try await iam(
            "CreatePolicy",
            [("PolicyName", name + "-policy"), ("PolicyDocument", String(decoding: policy.encoded(), as: UTF8.self))])
        guard let id = key.first("AccessKeyId"), let secret = key.first("SecretAccessKey"),
            let arn = created.first("Arn")
        else { throw FixtureError("IAM set-up for \(name): unexpected answers") }
        _ = try await iam("AttachUserPolicy", [("UserName", name), ("PolicyArn", arn)])
        return (id, secret)
    }

    /// A subnet of moto's default VPC (RunTask checks that the subnet exists): one EC2 call.
    public func defaultSubnet() async throws -> String {
        let xml = try await call("ec2", version: "2016-11-15", "DescribeSubnets")
        guard let id = xml.first("subnetId") else { throw FixtureError("moto has no default subnet") }
        return id
    }
}
