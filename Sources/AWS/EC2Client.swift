import HTTP

/// AWS's query protocol: a form-encoded `POST /` (`Action=…&Version=…&…`), answers in XML.
/// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html
public struct QueryProtocolClient: Sendable {
    let endpointClient: SignedEndpoint
    public let version: String
    public var retry = RetryPolicy()
    public var endpoint: String { endpointClient.url }

    public init(
        service: String, version: String, region: String, endpoint: String, credentials: CredentialChain?,
        http: any HTTPTransport, bucket: TokenBucket
    ) {
        endpointClient = SignedEndpoint(
            service: service, region: region, url: endpoint, credentials: credentials, http: http, bucket: bucket)
        self.version = version
    }

    /// Calls `action`; the answer's root element.
    public func call(_ action: String, _ parameters: [(String, String)] = []) async throws(AWSError) -> XMLNode {
        let body = SigV4.encodeQuery([("Action", action), ("Version", version)] + parameters)
        let response = try await endpointClient.post(
            action, headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: Array(body.utf8), retry: retry)
        guard let root = XMLNode.parse(response.body) else {
            throw AWSError(.invalidResponse, "\(endpointClient.service) \(action) answered with invalid XML")
        }
        return root
    }

    /// Every `<item>` of the list `listName`, following `nextToken` over every page.
    public func callPaged(
        _ action: String, _ parameters: [(String, String)], list listName: String
    ) async throws(AWSError) -> [XMLNode] {
        var items: [XMLNode] = []
        var token: String?
        var seen: Set<String> = []
        repeat {
            let page = try await call(action, parameters + (token.map { [("NextToken", $0)] } ?? []))
            items += page.items(listName)
            token = page.string("nextToken").flatMap { $0.isEmpty ? nil : $0 }
            if let t = token, !seen.insert(t).inserted { token = nil }
        } while token != nil
        return items
    }
}

/// An EC2 filter: `Filter.N.Name` with its values `Filter.N.Value.M`.
public struct EC2Filter: Sendable {
    public var name: String
    public var values: [String]
    public init(_ name: String, _ values: [String]) {
        self.name = name
        self.values = values
    }

    static func encode(_ filters: [EC2Filter]) -> [(String, String)] {
        filters.enumerated().flatMap { n, f in
            [("Filter.\(n + 1).Name", f.name)] + f.values.enumerated().map { ("Filter.\(n + 1).Value.\($0 + 1)", $1) }
        }
    }

    static func list(_ name: String, _ values: [String]) -> [(String, String)] {
        values.enumerated().map { ("\(name).\($0 + 1)", $1) }
    }
}

/// Amazon EC2, the four read-only calls `crawlrun doctor` needs to tell whether a task in a
/// subnet can reach ECR, S3 and CloudWatch Logs. API version 2016-11-15, SigV4 service `ec2`.
/// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Welcome.html
public struct EC2Client: Sendable {
    public var client: QueryProtocolClient

    public init(region: String, environment: AWSEnvironment, credentials: CredentialChain, http: any HTTPTransport) {
        let endpoint = environment.endpoint(service: "EC2", host: "ec2.\(region).amazonaws.com").url
        // Describe calls share EC2's "non-mutating" bucket: burst 100, refill 20 a second.
        // https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
        client = QueryProtocolClient(
            service: "ec2", version: "2016-11-15", region: region, endpoint: endpoint, credentials: credentials,
            http: http, bucket: TokenBucket(capacity: 100, refillPerSecond: 20))
    }

    public func describeSubnets(_ ids: [String]) async throws(AWSError) -> [EC2Subnet] {
        try await client.callPaged("DescribeSubnets", EC2Filter.list("SubnetId", ids), list: "subnetSet")
            .map(EC2Subnet.init)
    }

    public func describeRouteTables(filters: [EC2Filter]) async throws(AWSError) -> [EC2RouteTable] {
        try await client.callPaged("DescribeRouteTables", EC2Filter.encode(filters), list: "routeTableSet")
            .map(EC2RouteTable.init)
    }

    /// The route table a subnet uses: the one explicitly associated with it, else its VPC's main
    /// table. https://docs.aws.amazon.com/vpc/latest/userguide/RouteTables.html
    public func routeTable(subnet: EC2Subnet) async throws(AWSError) -> EC2RouteTable? {
        let explicit = try await describeRouteTables(filters: [EC2Filter("association.subnet-id", [subnet.id])])
        if let table = explicit.first { return table }
        let main = try await describeRouteTables(filters: [
            EC2Filter("vpc-id", [subnet.vpcId]), EC2Filter("association.main", ["true"]),
        ])
        return main.first
    }

    public func describeVpcEndpoints(vpcId: String) async throws(AWSError) -> [EC2VpcEndpoint] {
        try await client.callPaged(
            "DescribeVpcEndpoints", EC2Filter.encode([EC2Filter("vpc-id", [vpcId])]), list: "vpcEndpointSet"
        ).map(EC2VpcEndpoint.init)
    }

    /// The groups named, or those the filters select. With neither, every group of the Region.
    public func describeSecurityGroups(
        _ ids: [String], filters: [EC2Filter] = []
    ) async throws(AWSError) -> [EC2SecurityGroup] {
        try await client.callPaged(
            "DescribeSecurityGroups", EC2Filter.list("GroupId", ids) + EC2Filter.encode(filters),
            list: "securityGroupInfo"
        ).map(EC2SecurityGroup.init)
    }
}
