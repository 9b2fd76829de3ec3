import AWS
import HTTP
import JSONKit

/// AWS's query protocol on moto_server, for the tests' set-up: IAM users, keys and policies, and
/// EC2's subnets, gateways and routes. Signed with a set-up key: moto checks nothing during its
/// first INITIAL_NO_AUTH_ACTION_COUNT calls. Each call is tried once (a set-up failure must show).
/// https://docs.aws.amazon.com/IAM/latest/APIReference/CommonParameters.html
public struct MotoQuery: Sendable {
    public let endpoint: String
    let http = CurlHTTPClient(connectTimeout: .seconds(2), timeout: .seconds(30))
    let credentials: CredentialChain

    public init(endpoint: String) {
        self.endpoint = endpoint
        credentials = CredentialChain(
            environment: ["AWS_ACCESS_KEY_ID": "AKIASETUPSETUPSETUP0", "AWS_SECRET_ACCESS_KEY": "setup"], http: http)
    }

    /// Calls `action` of `service` (API `version`); the answer's root element.
    public func call(
        _ service: String, version: String, _ action: String, _ parameters: [(String, String)] = []
    ) async throws -> XMLNode {
        var client = QueryProtocolClient(
            service: service, version: version, region: "us-east-1", endpoint: endpoint, credentials: credentials,
            http: http, bucket: TokenBucket(capacity: 100, refillPerSecond: 100))
        client.retry.maxAttempts = 1
        return try await client.call(action, parameters)
    }

    public func iam(_ action: String, _ parameters: [(String, String)]) async throws -> XMLNode {
        try await call("iam", version: "2010-05-08", action, parameters)
    }

    public func ec2(_ action: String, _ parameters: [(String, String)] = []) async throws -> XMLNode {
        try await call("ec2", version: "2016-11-15", action, parameters)
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
    public func defaultSubnet() async throws -> String { try await defaultSubnetAndVPC().subnet }

    /// A subnet of moto's default VPC, and the VPC: one EC2 call.
    public func defaultSubnetAndVPC() async throws -> (subnet: String, vpc: String) {
        let xml = try await ec2("DescribeSubnets")
        guard let id = xml.first("subnetId"), let vpc = xml.first("vpcId") else {
            throw FixtureError("moto has no default subnet")
        }
        return (id, vpc)
    }

    /// Makes `routeTable` public: a new internet gateway attached to `vpc` and the route
    /// 0.0.0.0/0 to it. Three EC2 calls; the gateway's id.
    @discardableResult
    public func routeToInternet(vpc: String, routeTable: String) async throws -> String {
        guard let igw = try await ec2("CreateInternetGateway").first("internetGatewayId") else {
            throw FixtureError("moto created no internet gateway")
        }
        _ = try await ec2("AttachInternetGateway", [("InternetGatewayId", igw), ("VpcId", vpc)])
        _ = try await ec2(
            "CreateRoute",
            [("RouteTableId", routeTable), ("DestinationCidrBlock", "0.0.0.0/0"), ("GatewayId", igw)])
        return igw
    }
}

extension ECRClient {
    /// A repository holding `image` (a manifest with no layers): what `doctor` looks for in ECR.
    /// Two calls: CreateRepository, PutImage.
    public func createFakeImage(_ image: ECRImageReference) async throws {
        _ = try await client.call("CreateRepository", ["repositoryName": .string(image.repository)])
        try await putFakeImage(image)
    }

    /// `image` (a manifest with no layers) in its existing repository: one call, PutImage.
    public func putFakeImage(_ image: ECRImageReference) async throws {
        let manifest: JSONValue = [
            "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": [
                "mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": "sha256:00",
            ],
            "layers": [],
        ]
        _ = try await client.call(
            "PutImage",
            [
                "repositoryName": .string(image.repository), "imageTag": .string(image.tag ?? "latest"),
                "imageManifest": .string(String(decoding: manifest.encoded(), as: UTF8.self)),
            ])
    }
}
