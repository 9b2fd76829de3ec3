import HTTP

/// A stack as DescribeStacks tells it: what `crawlrun init --from-stack` reads.
public struct CloudFormationStack: Sendable, Equatable {
    public var name: String
    public var id: String
    /// `CREATE_COMPLETE`, `UPDATE_IN_PROGRESS`, `ROLLBACK_COMPLETE`, …
    public var status: String
    public var statusReason: String?
    public var outputs: [String: String]
    public var parameters: [String: String]

    /// Outputs are final once a create or update has finished (a rolled-back update keeps the
    /// previous, complete outputs).
    /// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html
    public var isUsable: Bool {
        ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"].contains(status)
    }

    public init(
        name: String, id: String = "", status: String, statusReason: String? = nil, outputs: [String: String],
        parameters: [String: String] = [:]
    ) {
        self.name = name
        self.id = id
        self.status = status
        self.statusReason = statusReason
        self.outputs = outputs
        self.parameters = parameters
    }

    init(_ member: XMLNode) {
        name = member.string("StackName") ?? ""
        id = member.string("StackId") ?? ""
        status = member.string("StackStatus") ?? ""
        statusReason = member.string("StackStatusReason")
        outputs = Self.pairs(member.child("Outputs"), key: "OutputKey", value: "OutputValue")
        parameters = Self.pairs(member.child("Parameters"), key: "ParameterKey", value: "ParameterValue")
    }

    static func pairs(_ list: XMLNode?, key: String, value: String) -> [String: String] {
        var out: [String: String] = [:]
        for member in list?.children("member") ?? [] {
            if let k = member.string(key) { out[k] = member.string(value) ?? "" }
        }
        return out
    }
}

/// AWS CloudFormation, read only: the one call `crawlrun init --from-stack` makes. Query
/// protocol, API version 2010-05-15, SigV4 service `cloudformation`; lists are `<member>`s.
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
public struct CloudFormationClient: Sendable {
    public var client: QueryProtocolClient

    public init(region: String, environment: AWSEnvironment, credentials: CredentialChain, http: any HTTPTransport) {
        let endpoint = environment.endpoint(
            service: "CLOUDFORMATION", host: "cloudformation.\(region).amazonaws.com"
        ).url
        client = QueryProtocolClient(
            service: "cloudformation", version: "2010-05-15", region: region, endpoint: endpoint,
            credentials: credentials, http: http, bucket: TokenBucket(capacity: 20, refillPerSecond: 5))
    }

    /// With the Region, credentials and connections of `aws`.
    public init(_ aws: AWSServices) {
        self.init(region: aws.region, environment: aws.environment, credentials: aws.credentials, http: aws.http)
    }

    /// The stack named `name` (or its ARN). A stack that does not exist is AWS's
    /// `ValidationError` ("Stack with id NAME does not exist").
    public func describeStack(_ name: String) async throws(AWSError) -> CloudFormationStack {
        let root = try await client.call("DescribeStacks", [("StackName", name)])
        guard let member = root.child("DescribeStacksResult")?.child("Stacks")?.children("member").first else {
            throw AWSError(.invalidResponse, "CloudFormation DescribeStacks answered no stack for \(name)")
        }
        return CloudFormationStack(member)
    }
}
