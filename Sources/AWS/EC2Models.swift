/// A subnet. https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Subnet.html
public struct EC2Subnet: Sendable, Equatable {
    public var id: String
    public var vpcId: String
    public var availabilityZone: String?
    public var cidrBlock: String?
    public var mapPublicIpOnLaunch: Bool

    public init(id: String, vpcId: String, availabilityZone: String? = nil, mapPublicIpOnLaunch: Bool = false) {
        self.id = id
        self.vpcId = vpcId
        self.availabilityZone = availabilityZone
        self.mapPublicIpOnLaunch = mapPublicIpOnLaunch
    }

    init(_ x: XMLNode) {
        id = x.string("subnetId") ?? ""
        vpcId = x.string("vpcId") ?? ""
        availabilityZone = x.string("availabilityZone")
        cidrBlock = x.string("cidrBlock")
        mapPublicIpOnLaunch = x.string("mapPublicIpOnLaunch") == "true"
    }
}

/// One route: a destination and the gateway it goes to.
/// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html
public struct EC2Route: Sendable, Equatable {
    public var destinationCidrBlock: String?
    public var destinationPrefixListId: String?
    /// `igw-…` (internet gateway), `vgw-…`, or `local`.
    public var gatewayId: String?
    public var natGatewayId: String?
    public var transitGatewayId: String?
    /// `active`, or `blackhole` when the target is gone.
    public var state: String?

    public init(destination: String?, gatewayId: String? = nil, natGatewayId: String? = nil, state: String? = "active")
    {
        destinationCidrBlock = destination
        self.gatewayId = gatewayId
        self.natGatewayId = natGatewayId
        self.state = state
    }

    init(_ x: XMLNode) {
        destinationCidrBlock = x.string("destinationCidrBlock")
        destinationPrefixListId = x.string("destinationPrefixListId")
        gatewayId = x.string("gatewayId")
        natGatewayId = x.string("natGatewayId")
        transitGatewayId = x.string("transitGatewayId")
        state = x.string("state")
    }

    public var isActive: Bool { state == nil || state == "active" }
}

/// A route table with its routes and the subnets it is associated with.
/// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RouteTable.html
public struct EC2RouteTable: Sendable, Equatable {
    public var id: String
    public var vpcId: String
    public var routes: [EC2Route]
    public var subnetIds: [String]
    /// The VPC's main table: subnets without an explicit association use it.
    public var isMain: Bool

    public init(id: String, vpcId: String, routes: [EC2Route], subnetIds: [String] = [], isMain: Bool = false) {
        self.id = id
        self.vpcId = vpcId
        self.routes = routes
        self.subnetIds = subnetIds
        self.isMain = isMain
    }

    init(_ x: XMLNode) {
        id = x.string("routeTableId") ?? ""
        vpcId = x.string("vpcId") ?? ""
        routes = x.items("routeSet").map(EC2Route.init)
        let associations = x.items("associationSet")
        subnetIds = associations.compactMap { $0.string("subnetId") }
        isMain = associations.contains { $0.string("main") == "true" }
    }

    /// The active route for 0.0.0.0/0, if any.
    public var defaultRoute: EC2Route? {
        routes.first { $0.destinationCidrBlock == "0.0.0.0/0" && $0.isActive }
    }
}

/// A VPC endpoint: `com.amazonaws.<region>.ecr.api` and the like.
/// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcEndpoint.html
public struct EC2VpcEndpoint: Sendable, Equatable {
    public var id: String
    public var serviceName: String
    /// `Interface` or `Gateway`.
    public var type: String
    /// `available` when usable (also `pending`, `failed`, `deleted`…; case varies by API age).
    public var state: String
    public var routeTableIds: [String]
    public var subnetIds: [String]
    public var privateDnsEnabled: Bool

    public init(
        id: String, serviceName: String, type: String, state: String = "available", routeTableIds: [String] = [],
        subnetIds: [String] = [], privateDnsEnabled: Bool = true
    ) {
        self.id = id
        self.serviceName = serviceName
        self.type = type
        self.state = state
        self.routeTableIds = routeTableIds
        self.subnetIds = subnetIds
        self.privateDnsEnabled = privateDnsEnabled
    }

    init(_ x: XMLNode) {
        id = x.string("vpcEndpointId") ?? ""
        serviceName = x.string("serviceName") ?? ""
        type = x.string("vpcEndpointType") ?? ""
        state = x.string("state") ?? ""
        routeTableIds = x.items("routeTableIdSet").map(\.text)
        subnetIds = x.items("subnetIdSet").map(\.text)
        privateDnsEnabled = x.string("privateDnsEnabled") == "true"
    }

    public var isAvailable: Bool { state.lowercased() == "available" }
}

/// One rule of a security group: a protocol (`-1` is all), a port range and the addresses.
/// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpPermission.html
public struct EC2Permission: Sendable, Equatable {
    public var ipProtocol: String
    public var fromPort: Int?
    public var toPort: Int?
    public var ipv4Ranges: [String]
    public var ipv6Ranges: [String]
    public var prefixListIds: [String]

    public init(ipProtocol: String, fromPort: Int? = nil, toPort: Int? = nil, ipv4Ranges: [String]) {
        self.ipProtocol = ipProtocol
        self.fromPort = fromPort
        self.toPort = toPort
        self.ipv4Ranges = ipv4Ranges
        ipv6Ranges = []
        prefixListIds = []
    }

    init(_ x: XMLNode) {
        ipProtocol = x.string("ipProtocol") ?? ""
        fromPort = x.string("fromPort").flatMap { Int($0) }
        toPort = x.string("toPort").flatMap { Int($0) }
        ipv4Ranges = x.items("ipRanges").compactMap { $0.string("cidrIp") }
        ipv6Ranges = x.items("ipv6Ranges").compactMap { $0.string("cidrIpv6") }
        prefixListIds = x.items("prefixListIds").compactMap { $0.string("prefixListId") }
    }

    /// True when the rule lets TCP port `port` through (all traffic, or TCP with the port in range).
    public func allowsTCP(_ port: Int) -> Bool {
        if ipProtocol == "-1" || ipProtocol == "all" { return true }
        guard ipProtocol == "tcp" || ipProtocol == "6" else { return false }
        guard let from = fromPort, let to = toPort else { return true }
        return (from...max(from, to)).contains(port) || (from == -1 && to == -1)
    }
}

/// A security group with its outbound rules.
/// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SecurityGroup.html
public struct EC2SecurityGroup: Sendable, Equatable {
    public var id: String
    public var name: String
    public var vpcId: String?
    public var egress: [EC2Permission]

    public init(id: String, name: String, egress: [EC2Permission]) {
        self.id = id
        self.name = name
        self.egress = egress
    }

    init(_ x: XMLNode) {
        id = x.string("groupId") ?? ""
        name = x.string("groupName") ?? ""
        vpcId = x.string("vpcId")
        egress = x.items("ipPermissionsEgress").map(EC2Permission.init)
    }
}
