import AWS
import CrawlKit
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

@testable import FargateBackend

/// `crawlrun doctor`'s network and image checks: the verdicts alone, EC2's XML, and the whole
/// check against moto's EC2 and ECR with a public and a private subnet.
@Suite struct DoctorNetworkTests {
    static let region = "us-east-1"
    static let subnet = EC2Subnet(id: "subnet-1", vpcId: "vpc-1")

    func verdict(
        _ table: EC2RouteTable?, endpoints: [EC2VpcEndpoint] = [], publicIp: Bool
    ) -> Result<String, DoctorFailure> {
        Result { () throws(DoctorFailure) -> String in
            try DoctorNetwork.subnet(
                Self.subnet, routeTable: table, endpoints: endpoints, assignPublicIp: publicIp, region: Self.region)
        }
    }

    static func table(_ routes: [EC2Route]) -> EC2RouteTable {
        EC2RouteTable(
            id: "rtb-1", vpcId: "vpc-1", routes: [EC2Route(destination: "10.0.0.0/16", gatewayId: "local")] + routes)
    }

    @Test func subnetVerdicts() throws {
        let igw = Self.table([EC2Route(destination: "0.0.0.0/0", gatewayId: "igw-9")])
        #expect(
            try verdict(igw, publicIp: true).get()
                == "subnet-1: public, 0.0.0.0/0 → igw-9 (rtb-1), tasks get a public IP")
        // A public subnet without a public IP: the classic CannotPullContainerError.
        guard case .failure(let noIP) = verdict(igw, publicIp: false) else { throw FixtureError("expected ✗") }
        #expect(noIP.message.contains("routes 0.0.0.0/0 to igw-9, but fargate.assignPublicIp is false"))
        #expect(noIP.hint.hasPrefix("set fargate.assignPublicIp to true"))

        let nat = Self.table([EC2Route(destination: "0.0.0.0/0", natGatewayId: "nat-7")])
        #expect(try verdict(nat, publicIp: false).get() == "subnet-1: private, 0.0.0.0/0 → nat-7 (rtb-1)")
        let blackhole = Self.table([EC2Route(destination: "0.0.0.0/0", natGatewayId: "nat-7", state: "blackhole")])
        guard case .failure(let dead) = verdict(blackhole, publicIp: false) else { throw FixtureError("expected ✗") }
        #expect(dead.message.contains("no route to the registry"), "a blackhole route leads nowhere")

        // Endpoints: interface ones with private DNS, S3 as a gateway on the subnet's table.
        let p = "com.amazonaws.us-east-1."
        var endpoints = [
            EC2VpcEndpoint(id: "vpce-1", serviceName: p + "ecr.api", type: "Interface"),
            EC2VpcEndpoint(id: "vpce-2", serviceName: p + "ecr.dkr", type: "Interface"),
            EC2VpcEndpoint(id: "vpce-3", serviceName: p + "s3", type: "Gateway", routeTableIds: ["rtb-other"]),
        ]
        let local = Self.table([])
        guard case .failure(let none) = verdict(local, endpoints: endpoints, publicIp: false) else {
            throw FixtureError("expected ✗")
        }
        #expect(
            none.message
                == "subnet-1: no route to the registry: rtb-1 has no 0.0.0.0/0 route to a NAT or internet gateway, and the VPC has no endpoint for s3, logs; tasks would fail with CannotPullContainerError"
        )
        #expect(none.hint.contains("add a route 0.0.0.0/0 → a NAT gateway to rtb-1, or VPC endpoints for ecr.api"))
        endpoints[2].routeTableIds = ["rtb-1"]
        endpoints.append(EC2VpcEndpoint(id: "vpce-4", serviceName: p + "logs", type: "Interface"))
        #expect(try verdict(local, endpoints: endpoints, publicIp: false).get().contains("VPC endpoints for ecr.api"))
        endpoints[0].privateDnsEnabled = false
        #expect(DoctorNetwork.missingEndpoints(endpoints, routeTable: "rtb-1", region: Self.region) == ["ecr.api"])
    }

    @Test func securityGroupAndImageVerdicts() throws {
        let all = EC2SecurityGroup(
            id: "sg-1", name: "default", egress: [EC2Permission(ipProtocol: "-1", ipv4Ranges: ["0.0.0.0/0"])])
        #expect(
            try DoctorNetwork.securityGroups([all], wanted: ["sg-1"])
                == "sg-1 (default) allows all traffic out to 0.0.0.0/0")
        let https = EC2SecurityGroup(
            id: "sg-2", name: "web",
            egress: [EC2Permission(ipProtocol: "tcp", fromPort: 443, toPort: 443, ipv4Ranges: ["0.0.0.0/0"])])
        #expect(try DoctorNetwork.securityGroups([https], wanted: ["sg-2"]).hasSuffix("allows HTTPS out to 0.0.0.0/0"))
        let closed = EC2SecurityGroup(
            id: "sg-3", name: "tight",
            egress: [
                EC2Permission(ipProtocol: "tcp", fromPort: 80, toPort: 80, ipv4Ranges: ["0.0.0.0/0"]),
                EC2Permission(ipProtocol: "tcp", fromPort: 443, toPort: 443, ipv4Ranges: ["10.0.0.0/8"]),
            ])
        #expect(throws: DoctorFailure.self) { try DoctorNetwork.securityGroups([closed], wanted: ["sg-3"]) }
        do {
            _ = try DoctorNetwork.securityGroups([closed], wanted: ["sg-3"])
        } catch {
            #expect(error.message.hasPrefix("no outbound rule of sg-3 allows HTTPS (TCP 443) to 0.0.0.0/0"))
            #expect(error.hint.contains("--group-id sg-3 --protocol tcp --port 443 --cidr 0.0.0.0/0"))
        }
        #expect(throws: DoctorFailure.self) { try DoctorNetwork.securityGroups([all], wanted: ["sg-1", "sg-9"]) }

        let ecrImage = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/crawler:2.1"
        let ref = try #require(ECRImageReference(ecrImage))
        #expect(ref.registryId == "123456789012" && ref.region == "eu-west-1" && ref.repository == "team/crawler")
        #expect(ref.tag == "2.1" && ref.digest == nil && ref.description == "team/crawler:2.1")
        let pinned = try #require(ECRImageReference("123456789012.dkr.ecr.us-east-1.amazonaws.com/c@sha256:ab"))
        #expect(pinned.digest == "sha256:ab" && pinned.tag == nil)
        #expect(ECRImageReference("123456789012.dkr.ecr.us-east-1.amazonaws.com/c")?.tag == "latest")
        #expect(ECRImageReference("selenium/standalone-chrome:4.27.0") == nil)
        #expect(ECRImageReference("public.ecr.aws/x/y:1") == nil)
        #expect(
            try DoctorNetwork.images([
                ("task.crawlerImage", .found(ref)), ("task.sidecarImage", .elsewhere("selenium/x:1")),
            ])
                == "team/crawler:2.1 in ECR; selenium/x:1 from Docker Hub (1 task, within its anonymous limit)")
        #expect(
            try DoctorNetwork.images([("task.sidecarImage", .elsewhere("quay.io/x/y:1"))], tasks: 500)
                == "quay.io/x/y:1 not in ECR (not checked)")
        // Issue 19 item 13: more tasks than Docker Hub's 10 anonymous pulls an hour.
        do {
            _ = try DoctorNetwork.images(
                [("task.crawlerImage", .found(ref)), ("task.sidecarImage", .elsewhere("selenium/x:1"))], tasks: 100)
            Issue.record("100 tasks pulling from Docker Hub passed")
        } catch {
            #expect(
                error.message.contains(
                    "task.sidecarImage selenium/x:1 would be pulled from Docker Hub by each of 100 tasks"))
            #expect(error.message.contains("toomanyrequests") && error.hint.contains("pull-through cache rule"))
        }
        #expect(DoctorNetwork.isDockerHub("selenium/standalone-chrome:4.27.0") && DoctorNetwork.isDockerHub("ubuntu"))
        #expect(DoctorNetwork.isDockerHub("docker.io/library/ubuntu:24.04"))
        #expect(!DoctorNetwork.isDockerHub(ecrImage) && !DoctorNetwork.isDockerHub("localhost:5000/x"))
        do {
            _ = try DoctorNetwork.images([("task.crawlerImage", .missingImage(ref))])
            Issue.record("a missing image passed")
        } catch {
            #expect(
                error.message.hasPrefix("task.crawlerImage team/crawler:2.1: no such tag in 123456789012/team/crawler"))
            #expect(error.hint == "push the image (docker push …) or fix task.crawlerImage")
        }
    }

    /// Issue 19 item 11: a strategy naming a provider the cluster lacks is found before any
    /// RunTask, with the command that associates it (keeping the cluster's own).
    @Test func capacityProvidersMustBeAssociated() throws {
        var doc = try readJSON(packageRoot + "/jobs/fargate-example.json")
        doc = .object(
            (doc.objectValue ?? [:]).merging(["urls": ["https://example.com/"]]) { $1 }.filter { $0.key != "urlsFile" })
        let job = try Job.parse(doc.encoded(), path: "job.json", backend: .fargate)
        #expect(Set(job.fargate.capacityProviders.map(\.provider)) == ["FARGATE", "FARGATE_SPOT"])
        let bare: JSONValue = ["clusterName": "crawlers", "capacityProviders": []]
        let problem = try #require(FargateCapacity.problem(job, cluster: bare))
        #expect(
            problem.message.contains("FARGATE_SPOT and FARGATE") || problem.message.contains("FARGATE and FARGATE_SPOT")
        )
        #expect(
            problem.fix.hasPrefix("aws ecs put-cluster-capacity-providers --cluster crawlers --capacity-providers "))
        let half: JSONValue = ["capacityProviders": ["FARGATE"]]
        #expect(FargateCapacity.missing(job, cluster: half) == ["FARGATE_SPOT"])
        #expect(
            FargateCapacity.fix(job, cluster: half, missing: ["FARGATE_SPOT"]).contains(
                "--capacity-providers FARGATE FARGATE_SPOT"))
        #expect(FargateCapacity.problem(job, cluster: ["capacityProviders": ["FARGATE_SPOT", "FARGATE"]]) == nil)
    }

    /// EC2's nested lists, as the query protocol sends them.
    @Test func ec2XMLReadsNestedLists() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <DescribeRouteTablesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
              <requestId>r-1</requestId>
              <routeTableSet><item>
                <routeTableId>rtb-1</routeTableId><vpcId>vpc-1</vpcId>
                <routeSet>
                  <item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><state>active</state></item>
                  <item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><natGatewayId>nat-5</natGatewayId><state>active</state></item>
                </routeSet>
                <associationSet><item><routeTableAssociationId>a-1</routeTableAssociationId><subnetId>subnet-1</subnetId><main>false</main></item></associationSet>
                <tagSet><item><key>Name</key><value>a &amp; b</value></item></tagSet>
              </item></routeTableSet>
            </DescribeRouteTablesResponse>
            """
        let root = try #require(XMLNode.parse(Array(xml.utf8)))
        let tables = root.items("routeTableSet")
        #expect(tables.count == 1 && tables[0].items("routeSet").count == 2)
        #expect(tables[0].items("tagSet").first?.string("value") == "a & b")
        #expect(root.first("natGatewayId") == "nat-5")
    }
}

/// The same checks on moto's EC2 and ECR: a public subnet (route to an internet gateway) passes,
/// a private one (no route, no endpoints) fails with the fix, then passes once the VPC has
/// endpoints for ECR, S3 and Logs.
@Suite(.serialized) struct DoctorNetworkMotoTests {
    @Test func publicAndPrivateSubnetsOnMoto() async throws {
        let moto = try await MotoServer.start()
        defer { Task { await moto.stop() } }
        let q = MotoQuery(endpoint: moto.url)
        let vpc = try #require(try await q.ec2("CreateVpc", [("CidrBlock", "10.20.0.0/16")]).first("vpcId"))
        func subnet(_ cidr: String) async throws -> String {
            try #require(try await q.ec2("CreateSubnet", [("VpcId", vpc), ("CidrBlock", cidr)]).first("subnetId"))
        }
        let publicSubnet = try await subnet("10.20.1.0/24")
        let privateSubnet = try await subnet("10.20.2.0/24")
        let publicTable = try #require(try await q.ec2("CreateRouteTable", [("VpcId", vpc)]).first("routeTableId"))
        _ = try await q.ec2("AssociateRouteTable", [("RouteTableId", publicTable), ("SubnetId", publicSubnet)])
        let igw = try await q.routeToInternet(vpc: vpc, routeTable: publicTable)
        let group = try #require(
            try await q.ec2(
                "CreateSecurityGroup", [("GroupName", "crawl"), ("GroupDescription", "crawl"), ("VpcId", vpc)]
            )
            .first("groupId"))
        let mainTable = try #require(
            try await q.ec2(
                "DescribeRouteTables",
                [
                    ("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc), ("Filter.2.Name", "association.main"),
                    ("Filter.2.Value.1", "true"),
                ]
            ).first("routeTableId"))
        let variables = [
            "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "x", "AWS_ENDPOINT_URL": moto.url,
        ]
        let aws = AWSServices(region: "us-east-1", variables: variables)
        // The crawler's image in moto's ECR (moto's account is the example job's).
        try await aws.ecr().createFakeImage(
            try #require(ECRImageReference("123456789012.dkr.ecr.us-east-1.amazonaws.com/crawlrun-crawler:1.0.0")))
        var document = try readJSON(packageRoot + "/jobs/fargate-example.json")
        if case .object(var root) = document, case .object(var fargate)? = root["fargate"] {
            fargate["subnets"] = [.string(publicSubnet), .string(privateSubnet)]
            fargate["securityGroups"] = [.string(group)]
            fargate["assignPublicIp"] = true
            root["fargate"] = .object(fargate)
            root["urlsFile"] = nil
            root["urls"] = ["http://127.0.0.1:9/"]
            document = .object(root)
        }
        let job = try Job.load(path: try writeJob(document, in: tempDir("doctor-net")), backend: .fargate)
        func check(_ job: Job = job) async -> [DoctorCheck] {
            var doctor = Doctor(job: job, variables: variables) { _ in }
            await doctor.checkNetwork(aws, region: "us-east-1")
            return doctor.results
        }

        let first = await check()
        #expect(first.map(\.name) == ["subnet", "subnet", "security groups", "images"])
        #expect(first[0].state == .passed)
        #expect(
            first[0].detail == "\(publicSubnet): public, 0.0.0.0/0 → \(igw) (\(publicTable)), tasks get a public IP")
        #expect(first[1].state == .failed)
        #expect(
            first[1].detail
                == "\(privateSubnet): no route to the registry: \(mainTable) has no 0.0.0.0/0 route to a NAT or internet gateway, and the VPC has no endpoint for ecr.api, ecr.dkr, s3, logs; tasks would fail with CannotPullContainerError"
        )
        #expect(
            first[1].hint?.hasPrefix("add a route 0.0.0.0/0 → a NAT gateway to \(mainTable), or VPC endpoints") == true)
        #expect(first[2].state == .passed && first[2].detail == "\(group) (crawl) allows all traffic out to 0.0.0.0/0")
        #expect(first[3].state == .passed, "\(first[3].detail)")
        #expect(first[3].detail.hasPrefix("crawlrun-crawler:1.0.0 in ECR; selenium/standalone-chrome"))

        // Endpoints for ECR (api, dkr), Logs (interface) and S3 (gateway on the main table), and
        // a security group that lets only HTTP out: the private subnet passes, the group fails.
        for service in ["ecr.api", "ecr.dkr", "logs"] {
            _ = try await q.ec2(
                "CreateVpcEndpoint",
                [
                    ("VpcId", vpc), ("ServiceName", "com.amazonaws.us-east-1." + service),
                    ("VpcEndpointType", "Interface"),
                    ("SubnetId.1", privateSubnet), ("PrivateDnsEnabled", "true"),
                ])
        }
        _ = try await q.ec2(
            "CreateVpcEndpoint",
            [
                ("VpcId", vpc), ("ServiceName", "com.amazonaws.us-east-1.s3"), ("VpcEndpointType", "Gateway"),
                ("RouteTableId.1", mainTable),
            ])
        _ = try await q.ec2(
            "RevokeSecurityGroupEgress",
            [
                ("GroupId", group), ("IpPermissions.1.IpProtocol", "-1"),
                ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"),
            ])
        _ = try await q.ec2(
            "AuthorizeSecurityGroupEgress",
            [
                ("GroupId", group), ("IpPermissions.1.IpProtocol", "tcp"), ("IpPermissions.1.FromPort", "80"),
                ("IpPermissions.1.ToPort", "80"), ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"),
            ])
        let second = await check()
        #expect(second[1].state == .passed, "\(second[1].detail)")
        #expect(second[1].detail.hasPrefix("\(privateSubnet): VPC endpoints for ecr.api, ecr.dkr, s3, logs"))
        #expect(second[2].state == .failed && second[2].detail.hasPrefix("no outbound rule of \(group) allows HTTPS"))

        // No security group in the job: ECS uses the VPC's default group, so that one is checked.
        if case .object(var root) = document, case .object(var fargate)? = root["fargate"] {
            fargate["securityGroups"] = []
            root["fargate"] = .object(fargate)
            document = .object(root)
        }
        let noGroups = try Job.load(path: try writeJob(document, in: tempDir("doctor-net-sg")), backend: .fargate)
        let third = await check(noGroups)
        #expect(third[2].state == .passed && third[2].detail.hasSuffix("(default) allows all traffic out to 0.0.0.0/0"))

        // ECR: a tag that is not there, and a repository that is not there.
        let ecrClient = aws.ecr()
        let missingTag = try #require(
            ECRImageReference("123456789012.dkr.ecr.us-east-1.amazonaws.com/crawlrun-crawler:9.9"))
        #expect(try await ecrClient.describeImage(missingTag) == nil)
        #expect(
            try await ecrClient.describeImage(try #require(ECRImageReference(job.task.crawlerImage)))?.tags == ["1.0.0"]
        )
        await #expect {
            _ = try await ecrClient.describeImage(
                try #require(ECRImageReference("123456789012.dkr.ecr.us-east-1.amazonaws.com/nope:1")))
        } throws: { ($0 as? AWSError)?.category == .notFound }
        await moto.stop()
    }
}
