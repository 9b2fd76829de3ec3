import AWS
import CrawlKit

/// `crawlrun doctor`'s network and image checks: the commonest first-run failure of Fargate is a
/// task that cannot pull its image (CannotPullContainerError) because its subnet has no way out.
/// The verdicts are pure functions of what EC2 and ECR answered; `Doctor.checkNetwork` fetches.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html
enum DoctorNetwork {
    /// A check that got no answer at all (no network, a wrong AWS_ENDPOINT_URL): the endpoint
    /// and libcurl's cause, said once; every later check would only repeat it.
    static func noAnswer(_ error: AWSError) -> String {
        "no answer: \(error.message)" + (error.cause.map { ": \($0)" } ?? "")
    }

    static let noAnswerFix = "check the network, or AWS_ENDPOINT_URL when using moto or LocalStack"

    /// Why the remaining checks are skipped after `error`, when it is a request that got no answer.
    static func unreachable(_ error: AWSError) -> String? {
        error.kind == .transport ? "no answer from AWS (see above)" : nil
    }

    /// What a task reaches before its containers start: ECR's API and registry, S3 (where ECR
    /// keeps image layers) and CloudWatch Logs (awslogs).
    /// https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html
    static let requiredEndpoints = ["ecr.api", "ecr.dkr", "s3", "logs"]

    /// A subnet passes with a route 0.0.0.0/0 to an internet gateway when tasks get a public IP,
    /// a route to a NAT gateway, or VPC endpoints for every service in `requiredEndpoints`.
    static func subnet(
        _ subnet: EC2Subnet, routeTable: EC2RouteTable?, endpoints: [EC2VpcEndpoint], assignPublicIp: Bool,
        region: String
    ) throws(DoctorFailure) -> String {
        let route = routeTable?.defaultRoute
        let table = routeTable?.id ?? "its route table"
        let igw = route?.gatewayId.flatMap { $0.hasPrefix("igw-") ? $0 : nil }
        let nat = route?.natGatewayId.flatMap { $0.hasPrefix("nat-") ? $0 : nil }
        if let igw, assignPublicIp {
            return "\(subnet.id): public, 0.0.0.0/0 → \(igw) (\(table)), tasks get a public IP"
        }
        if let nat { return "\(subnet.id): private, 0.0.0.0/0 → \(nat) (\(table))" }
        let missing = missingEndpoints(endpoints, routeTable: routeTable?.id, region: region)
        if missing.isEmpty {
            return "\(subnet.id): VPC endpoints for \(requiredEndpoints.joined(separator: ", ")); no route to the "
                + "internet, so the crawler reaches only addresses inside the VPC"
        }
        if let igw {
            throw DoctorFailure(
                "\(subnet.id) routes 0.0.0.0/0 to \(igw), but fargate.assignPublicIp is false: tasks get no public "
                    + "IP and cannot pull their images (CannotPullContainerError)",
                hint: "set fargate.assignPublicIp to true, or use a private subnet whose route table has a NAT gateway")
        }
        throw DoctorFailure(
            "\(subnet.id): no route to the registry: \(table) has no 0.0.0.0/0 route to a NAT or internet gateway, "
                + "and the VPC has no endpoint for \(missing.joined(separator: ", ")); tasks would fail with "
                + "CannotPullContainerError",
            hint:
                "add a route 0.0.0.0/0 → a NAT gateway to \(table), or VPC endpoints for ecr.api, ecr.dkr and logs "
                + "(interface, private DNS on) and s3 (gateway, on \(table)), or use a public subnet with "
                + "fargate.assignPublicIp true")
    }

    /// The short names of `requiredEndpoints` the VPC lacks. An interface endpoint counts when it
    /// is available with private DNS (tasks resolve the service's usual name to it); S3 also counts
    /// as a gateway endpoint on the subnet's route table.
    static func missingEndpoints(_ endpoints: [EC2VpcEndpoint], routeTable: String?, region: String) -> [String] {
        requiredEndpoints.filter { short in
            let service = "com.amazonaws.\(region).\(short)"
            return !endpoints.contains { e in
                guard e.serviceName == service, e.isAvailable else { return false }
                if e.type.lowercased() == "gateway" { return routeTable.map { e.routeTableIds.contains($0) } ?? false }
                return e.privateDnsEnabled || short == "s3"
            }
        }
    }

    /// Passes when some outbound rule of the task's groups lets HTTPS (TCP 443, or all traffic)
    /// go to 0.0.0.0/0: ECR, S3 and Logs are HTTPS endpoints, and so are most crawled sites.
    static func securityGroups(_ groups: [EC2SecurityGroup], wanted: [String]) throws(DoctorFailure) -> String {
        if wanted.isEmpty {
            throw DoctorFailure("no security group found", hint: "set fargate.securityGroups")
        }
        let found = Set(groups.map(\.id))
        let absent = wanted.filter { !found.contains($0) }
        if !absent.isEmpty {
            throw DoctorFailure(
                "\(absent.joined(separator: ", ")) \(absent.count == 1 ? "does" : "do") not exist",
                hint: "fix fargate.securityGroups (security groups of the subnets' VPC)")
        }
        for group in groups {
            if let rule = group.egress.first(where: { $0.allowsTCP(443) && $0.ipv4Ranges.contains("0.0.0.0/0") }) {
                let what = rule.ipProtocol == "-1" ? "all traffic" : "HTTPS"
                return "\(group.id) (\(group.name)) allows \(what) out to 0.0.0.0/0"
            }
        }
        let ids = wanted.joined(separator: ", ")
        throw DoctorFailure(
            "no outbound rule of \(ids) allows HTTPS (TCP 443) to 0.0.0.0/0: tasks cannot reach ECR, S3 or Logs",
            hint:
                "add an outbound rule HTTPS (TCP 443) to 0.0.0.0/0, e.g. aws ec2 authorize-security-group-egress "
                + "--group-id \(wanted.first ?? "sg-…") --protocol tcp --port 443 --cidr 0.0.0.0/0")
    }

    /// What ECR said about one image of the task definition.
    enum ImageOutcome: Sendable {
        case found(ECRImageReference)
        case missingImage(ECRImageReference)
        case missingRepository(ECRImageReference)
        /// Not in a private ECR registry: not checked.
        case elsewhere(String)
    }

    /// Docker Hub's pull rate limit for unauthenticated pulls: 10 an hour per IPv4 address (or
    /// IPv6 /64). Every Fargate task pulls its images, and tasks behind one NAT gateway share its
    /// address: past the limit a pull fails with `toomanyrequests`.
    /// https://docs.docker.com/docker-hub/usage/
    static let dockerHubAnonymousPullsPerHour = 10

    /// Whether an image reference names Docker Hub (no registry host, or docker.io's).
    static func isDockerHub(_ image: String) -> Bool {
        guard let slash = image.firstIndex(of: "/") else { return true }
        let first = image[..<slash]
        if ["docker.io", "index.docker.io", "registry-1.docker.io"].contains(first) { return true }
        return !first.contains(".") && !first.contains(":") && first != "localhost"
    }

    /// Passes when every ECR image exists and no image would be pulled anonymously from Docker
    /// Hub by more tasks than its hourly limit; images elsewhere are named as not checked.
    static func images(
        _ outcomes: [(field: String, outcome: ImageOutcome)], tasks: Int = 1
    ) throws(DoctorFailure)
        -> String
    {
        var notes: [String] = []
        var problems: [(String, String)] = []
        var hub: [(field: String, image: String)] = []
        for (field, outcome) in outcomes {
            switch outcome {
            case .found(let ref): notes.append("\(ref) in ECR")
            case .elsewhere(let image) where isDockerHub(image):
                hub.append((field, image))
                notes.append(
                    "\(image) from Docker Hub (\(tasks) task\(tasks == 1 ? "" : "s"), within its anonymous limit)")
            case .elsewhere(let image): notes.append("\(image) not in ECR (not checked)")
            case .missingImage(let ref):
                problems.append(("\(field) \(ref): no such tag in \(ref.registryId)/\(ref.repository)", field))
            case .missingRepository(let ref):
                problems.append(("\(field): repository \(ref.repository) does not exist in \(ref.registryId)", field))
            }
        }
        if !problems.isEmpty {
            throw DoctorFailure(
                problems.map(\.0).joined(separator: "; ") + " (tasks would fail with CannotPullContainerError)",
                hint: "push the image (docker push …) or fix \(problems.map(\.1).joined(separator: " and "))")
        }
        if !hub.isEmpty, tasks > dockerHubAnonymousPullsPerHour {
            throw DoctorFailure(
                "\(hub.map { "\($0.field) \($0.image)" }.joined(separator: ", ")) would be pulled from Docker Hub by each of "
                    + "\(tasks) tasks; Docker Hub allows \(dockerHubAnonymousPullsPerHour) anonymous pulls an hour per "
                    + "address (tasks behind one NAT share one): pulls would fail with toomanyrequests",
                hint:
                    "serve the image from the account's ECR: a pull-through cache rule for Docker Hub (aws ecr "
                    + "create-pull-through-cache-rule, with a Docker Hub credential in Secrets Manager) or a copy "
                    + "(docker pull, tag, push), then set \(hub.map(\.field).joined(separator: " and ")) to the ECR image "
                    + "(README, \"Images from ECR\")")
        }
        return notes.joined(separator: "; ")
    }
}

extension Doctor {
    /// The subnets, security groups and images of the job, against EC2 and ECR: one line per
    /// subnet, one for the security groups, one for the images.
    mutating func checkNetwork(_ aws: AWSServices, region: String) async {
        let f = job.fargate
        let task = job.task
        // Every batch is a task (retries aside): what pulls the images in the run's first hour.
        let tasks = (try? Planner(job: job).check().batchCount) ?? f.maxConcurrentTasks
        var endpointsByVPC: [String: [EC2VpcEndpoint]] = [:]
        for id in f.subnets {
            await network("subnet") { () async throws -> String in
                let subnet: EC2Subnet
                do {
                    guard let found = try await aws.ec2.describeSubnets([id]).first else {
                        throw Self.noSubnet(id, region)
                    }
                    subnet = found
                } catch let error as AWSError where error.code == "InvalidSubnetID.NotFound" {
                    throw Self.noSubnet(id, region)
                }
                let table = try await aws.ec2.routeTable(subnet: subnet)
                var endpoints = endpointsByVPC[subnet.vpcId] ?? []
                if endpointsByVPC[subnet.vpcId] == nil {
                    endpoints = try await aws.ec2.describeVpcEndpoints(vpcId: subnet.vpcId)
                    endpointsByVPC[subnet.vpcId] = endpoints
                }
                return try DoctorNetwork.subnet(
                    subnet, routeTable: table, endpoints: endpoints, assignPublicIp: f.assignPublicIp, region: region)
            }
        }
        await network("security groups") { () async throws -> String in
            if f.securityGroups.isEmpty {
                // Without security groups ECS gives the task its VPC's default group.
                guard let first = f.subnets.first, let vpc = try await aws.ec2.describeSubnets([first]).first?.vpcId
                else { throw DoctorFailure("the job names no security group", hint: "set fargate.securityGroups") }
                let groups = try await aws.ec2.describeSecurityGroups(
                    [], filters: [EC2Filter("vpc-id", [vpc]), EC2Filter("group-name", ["default"])])
                return try DoctorNetwork.securityGroups(groups, wanted: groups.map(\.id))
            }
            let groups: [EC2SecurityGroup]
            do {
                groups = try await aws.ec2.describeSecurityGroups(f.securityGroups)
            } catch let error as AWSError where error.code == "InvalidGroup.NotFound" {
                throw DoctorFailure(error.message, hint: "fix fargate.securityGroups")
            }
            return try DoctorNetwork.securityGroups(groups, wanted: f.securityGroups)
        }
        await network("images") { () async throws -> String in
            var outcomes: [(String, DoctorNetwork.ImageOutcome)] = []
            for (field, image) in [("task.crawlerImage", task.crawlerImage), ("task.sidecarImage", task.sidecarImage)] {
                guard let ref = ECRImageReference(image) else {
                    outcomes.append((field, .elsewhere(image)))
                    continue
                }
                do {
                    let found = try await aws.ecr(region: ref.region).describeImage(ref)
                    outcomes.append((field, found == nil ? .missingImage(ref) : .found(ref)))
                } catch let error as AWSError where error.code == "RepositoryNotFoundException" {
                    outcomes.append((field, .missingRepository(ref)))
                }
            }
            return try DoctorNetwork.images(outcomes, tasks: tasks)
        }
    }

    static func noSubnet(_ id: String, _ region: String) -> DoctorFailure {
        DoctorFailure("\(id) does not exist in \(region)", hint: "fix fargate.subnets (subnet ids of \(region))")
    }
}
