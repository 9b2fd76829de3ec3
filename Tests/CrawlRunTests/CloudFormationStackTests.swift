import AWS
import CrawlKit
import Foundation
import JSONKit
import ProcessKit
import TestSupport
import Testing

@testable import CrawlRunCLI

/// deploy/cloudformation.yaml: cfn-lint clean, deployed on moto's CloudFormation, its policies
/// equal to what `crawlrun iam-policy` prints for the job `crawlrun init --from-stack` fills
/// from it, and `crawlrun doctor` passing against the stack under the stack's own coordinator
/// policy.
@Suite(.serialized) struct CloudFormationStackTests {
    static let template = packageRoot + "/deploy/cloudformation.yaml"

    /// cfn-lint (PyPI; scripts/setup.sh installs it) finds nothing: no error, warning or note.
    @Test func templateIsCfnLintClean() async throws {
        let env = ProcessInfo.processInfo.environment
        let dirs = (env["PATH"] ?? "").split(separator: ":").map(String.init) + [(env["HOME"] ?? "") + "/.local/bin"]
        guard
            let lint = dirs.map({ $0 + "/cfn-lint" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            Issue.record("cfn-lint not found: scripts/setup.sh installs it (CRAWLRUN_NEEDS_MOTO=1)")
            return
        }
        let output = LineBox()
        let process = try ChildProcess(
            lint, arguments: [Self.template], environment: env, stdout: .lines { output.append($0) },
            stderr: .lines { output.append($0) })
        let status = await process.wait()
        #expect(status == .exited(0), "cfn-lint: \(output.text)")
        #expect(output.text.isEmpty, "cfn-lint: \(output.text)")
    }

    /// The template on moto: a private subnet of moto's default VPC (no route to the internet)
    /// made usable by the template's VPC endpoints. `init --from-stack` fills the example job;
    /// the stack's three policies equal `iam-policy`'s for it; `doctor`, signed with a user
    /// holding the stack's coordinator policy, passes every check.
    @Test func stackFillsAJobThatDoctorPasses() async throws {
        let moto = try await MotoServer.start(initialNoAuthActions: 1000)
        defer { Task { await moto.stop() } }
        let query = MotoQuery(endpoint: moto.url)
        let setup = [
            "AWS_ACCESS_KEY_ID": "AKIASETUPSETUPSETUP0", "AWS_SECRET_ACCESS_KEY": "setup", "AWS_SESSION_TOKEN": "",
            "AWS_PROFILE": "", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto.url,
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "AWS_CONFIG_FILE": "/nonexistent",
        ]
        // moto's default VPC (its only one) and two of its subnets.
        let described = try await query.ec2("DescribeSubnets")
        let subnets = described.items("subnetSet").compactMap { $0.string("subnetId") }
        let vpc = try #require(described.first("vpcId"))
        let mainTable = try await query.ec2(
            "DescribeRouteTables",
            [
                ("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc), ("Filter.2.Name", "association.main"),
                ("Filter.2.Value.1", "true"),
            ])
        let routeTable = try #require(mainTable.first("routeTableId"))
        let parameters = [
            ("JobName", "catalog-crawl"), ("VpcId", vpc), ("SubnetIds", subnets.prefix(2).joined(separator: ",")),
            ("PrivateEndpoints", "true"), ("RouteTableIds", routeTable),
        ]
        _ = try await query.call(
            "cloudformation", version: "2010-05-15", "CreateStack",
            [
                ("StackName", "crawl-catalog"),
                ("TemplateBody", try String(contentsOfFile: Self.template, encoding: .utf8)),
                ("Capabilities.member.1", "CAPABILITY_IAM"),
            ]
                + parameters.enumerated().flatMap { n, p in
                    [
                        ("Parameters.member.\(n + 1).ParameterKey", p.0),
                        ("Parameters.member.\(n + 1).ParameterValue", p.1),
                    ]
                })
        let aws = AWSServices(region: "us-east-1", variables: setup)
        let stack = try await CloudFormationClient(aws).describeStack("crawl-catalog")
        #expect(stack.status == "CREATE_COMPLETE", "\(stack.statusReason ?? "")")
        let o = stack.outputs
        // moto's CloudFormation ignores AWS::ECS::Cluster's CapacityProviders (checked in the
        // template's text below, and by cfn-lint); associate them as the stack does on AWS, so
        // doctor's capacity-provider check sees the cluster a real stack makes.
        _ = try await aws.ecs.client.call(
            "PutClusterCapacityProviders",
            [
                "cluster": .string(try #require(o["Cluster"])), "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
                "defaultCapacityProviderStrategy": [],
            ])

        // The example job, its URLs on loopback, filled from the stack.
        var example = try readJSON(packageRoot + "/jobs/fargate-example.json").objectValue ?? [:]
        example["urlsFile"] = nil
        example["urls"] = ["http://127.0.0.1:9/"]
        let jobPath = try writeJob(.object(example), in: tempDir("stack-job"))
        let filled = try await CrawlrunProcess.run(
            ["init", "--from-stack", "crawl-catalog", jobPath, "--output", jobPath], environment: setup)
        #expect(filled.code == 0, "\(filled.stderr)")
        #expect(filled.stderr.contains("crawlrun doctor \(jobPath)"), "\(filled.stderr)")
        let job = try Job.load(path: jobPath, backend: .fargate)
        #expect(job.fargate.cluster == "crawlrun-catalog-crawl" && job.fargate.cluster == o["Cluster"])
        #expect(job.fargate.subnets == Array(subnets.prefix(2)) && job.fargate.assignPublicIp == false)
        #expect(job.fargate.bucket == o["Bucket"] && job.fargate.logGroup == "/crawlrun/catalog-crawl")
        #expect(job.fargate.capacityProviders.count == 2, "the job's other fargate keys are kept")
        #expect(job.task.crawlerImage == (o["CrawlerRepositoryUri"] ?? "") + ":1.0.0")
        #expect(job.task.sidecarImage == (o["SidecarRepositoryUri"] ?? "") + ":4.27.0-20241225")

        // What goes wrong says so: no stack (2), another job's name (65), no --from-stack (64).
        let noStack = try await CrawlrunProcess.run(["init", "--from-stack", "nope", jobPath], environment: setup)
        #expect(noStack.code == 2 && noStack.stderr.contains("Stack with id nope does not exist"), "\(noStack.stderr)")
        var other = example
        other["name"] = "blog"
        let otherPath = try writeJob(.object(other), in: tempDir("stack-other"))
        let renamed = try await CrawlrunProcess.run(
            ["init", "--from-stack", "crawl-catalog", otherPath], environment: setup)
        #expect(renamed.code == 65 && renamed.stderr.contains("\"blog\" is not the stack's job"), "\(renamed.stderr)")
        let usage = try await CrawlrunProcess.run(["init", jobPath])
        #expect(usage.code == 64 && usage.stderr.contains("init needs --from-stack STACK"), "\(usage.stderr)")

        // The stack's policies are the printed ones, statement for statement.
        let printed = try await CrawlrunProcess.run(["iam-policy", jobPath, "--json"])
        #expect(printed.code == 0, "\(printed.stderr)")
        let policies = try #require(try JSONValue.decode(Data(printed.stdout.utf8)).objectValue)
        let deployed: [String: JSONValue] = [
            "coordinator": try await Self.document(query, arn: try #require(o["CoordinatorPolicyArn"])),
            "taskRole": try await Self.rolePolicy(query, role: try #require(o["TaskRoleArn"])),
            "executionRole": try await Self.rolePolicy(query, role: try #require(o["ExecutionRoleArn"])),
        ]
        for (name, document) in policies {
            let stacked = try #require(deployed[name], "iam-policy prints \(name), the template has no such policy")
            #expect(
                Self.normalized(stacked) == Self.normalized(document),
                "the template's \(name) policy differs from `crawlrun iam-policy`'s:\n\(stacked.prettyPrinted())\nprinted:\n\(document.prettyPrinted())"
            )
        }
        if policies["executionRole"] == nil {
            // Until iam-policy prints the execution role's policy: ECR pulls of the two
            // repositories and the log writes of the job's log group, nothing else.
            let statements = try #require(deployed["executionRole"]?["Statement"]?.arrayValue)
            let actions = Set(statements.flatMap { Self.strings($0["Action"]) })
            #expect(
                actions == [
                    "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer", "logs:CreateLogStream", "logs:PutLogEvents",
                ])
            let resources = Set(statements.flatMap { Self.strings($0["Resource"]) })
            #expect(
                resources.allSatisfy {
                    $0 == "*" || $0.contains("repository/crawlrun/")
                        || $0.contains(":log-group:/crawlrun/catalog-crawl")
                })
        }

        // The images pushed (moto: a manifest without layers), then doctor with a user holding the
        // stack's coordinator policy (ECS and Logs statements widened where moto cannot evaluate
        // resources: MotoAccount.motoEvaluable), every call signed and authorized.
        for image in [job.task.crawlerImage, job.task.sidecarImage] {
            try await aws.ecr().putFakeImage(try #require(ECRImageReference(image)))
        }
        let coordinator = try await query.user(
            "crawlrun-coordinator", policy: MotoAccount.motoEvaluable(try #require(deployed["coordinator"])))
        try await moto.enforceAuthentication()
        var env = setup
        env["AWS_ACCESS_KEY_ID"] = coordinator.accessKeyId
        env["AWS_SECRET_ACCESS_KEY"] = coordinator.secretAccessKey
        let doctor = try await CrawlrunProcess.run(["doctor", jobPath], environment: env)
        #expect(doctor.code == 0, "\(doctor.stdout)\n\(doctor.stderr)")
        // Every check, one per subnet: "All N checks passed.", no ✗ and nothing skipped.
        #expect(doctor.stdout.contains("checks passed.") && !doctor.stdout.contains("✗"), "\(doctor.stdout)")
        #expect(doctor.stdout.contains("crawlrun-catalog-crawl is ACTIVE"))
        #expect(doctor.stdout.contains("/crawlrun/catalog-crawl exists"), "the stack made the log group")
        #expect(doctor.stdout.contains("VPC endpoints for ecr.api, ecr.dkr, s3, logs"), "\(doctor.stdout)")
        #expect(
            doctor.stdout.contains("crawlrun/crawler:1.0.0 in ECR; ") && doctor.stdout.contains("crawlrun/sidecar:"))

        // moto 5.2.1 builds AWS::ECS::Cluster from its name alone (moto/ecs/models.py
        // Cluster.create_from_cloudformation_json), so the capacity providers can only be read
        // in the template here; cfn-lint checks the property against the resource's schema.
        let text = try String(contentsOfFile: Self.template, encoding: .utf8)
        #expect(text.contains("CapacityProviders: [FARGATE, FARGATE_SPOT]"))
    }

    /// A customer managed policy's default document (IAM answers it URL-encoded).
    static func document(_ query: MotoQuery, arn: String) async throws -> JSONValue {
        let policy = try await query.iam("GetPolicy", [("PolicyArn", arn)])
        let version = try #require(policy.first("DefaultVersionId"))
        let answer = try await query.iam("GetPolicyVersion", [("PolicyArn", arn), ("VersionId", version)])
        let text = try #require(answer.first("Document"))
        return try JSONValue.decode(Data((text.removingPercentEncoding ?? text).utf8))
    }

    /// The statements of every managed policy attached to `role` (its ARN), as one document.
    static func rolePolicy(_ query: MotoQuery, role: String) async throws -> JSONValue {
        let name = String(role.split(separator: "/").last ?? "")
        let attached = try await query.iam("ListAttachedRolePolicies", [("RoleName", name)])
        var statements: [JSONValue] = []
        for member in attached.child("ListAttachedRolePoliciesResult")?.child("AttachedPolicies")?.children("member")
            ?? []
        {
            let document = try await document(query, arn: try #require(member.string("PolicyArn")))
            statements += document["Statement"]?.arrayValue ?? []
        }
        return ["Version": "2012-10-17", "Statement": .array(statements)]
    }

    static func strings(_ value: JSONValue?) -> [String] {
        value?.stringValue.map { [$0] } ?? value?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// Statements by Sid, with Action and Resource as sorted lists: the same permissions
    /// whatever the order or the string-or-list spelling.
    static func normalized(_ policy: JSONValue) -> JSONValue {
        var bySid: [String: JSONValue] = [:]
        for (n, statement) in (policy["Statement"]?.arrayValue ?? []).enumerated() {
            guard case .object(var s) = statement else { continue }
            for key in ["Action", "Resource"] where s[key] != nil {
                s[key] = .array(strings(s[key]).sorted().map { .string($0) })
            }
            bySid[s["Sid"]?.stringValue ?? "#\(n)"] = .object(s)
        }
        return ["Version": policy["Version"] ?? .null, "Statement": .object(bySid)]
    }
}

/// `init --from-stack`'s rules on their own.
struct StackJobTests {
    static func stack(status: String = "CREATE_COMPLETE", _ outputs: [String: String] = [:]) -> CloudFormationStack {
        var all = [
            "JobName": "shop", "Region": "eu-west-1", "Cluster": "crawlrun-shop", "Subnets": "subnet-1,subnet-2",
            "SecurityGroups": "sg-1", "AssignPublicIp": "true",
            "ExecutionRoleArn": "arn:aws:iam::123456789012:role/x-ExecutionRole-1",
            "TaskRoleArn": "arn:aws:iam::123456789012:role/x-TaskRole-1", "LogGroup": "/crawlrun/shop",
            "Bucket": "x-bucket-1", "Prefix": "crawlrun/",
            "CrawlerRepositoryUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/crawlrun/crawler",
            "SidecarRepositoryUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/crawlrun/sidecar",
        ]
        all.merge(outputs) { $1 }
        return CloudFormationStack(name: "x", status: status, outputs: all)
    }

    @Test func fillsTheFargateBlockAndKeepsTheRest() throws {
        let job: JSONValue = [
            "name": "shop", "urlsFile": "urls.txt",
            "task": ["crawlerImage": "crawlrun/crawler:2.1", "sidecarImage": "selenium/standalone-chrome@sha256:ab"],
            "fargate": ["region": "us-east-1", "maxConcurrentTasks": 5, "subnets": ["subnet-old"]],
        ]
        let filled = try StackJob.fill(
            job, stack: Self.stack(), jobPath: "/jobs/shop.json", outputPath: "/out/shop.json")
        #expect(filled["fargate"]?["region"] == "eu-west-1" && filled["fargate"]?["maxConcurrentTasks"] == 5)
        #expect(
            filled["fargate"]?["subnets"] == ["subnet-1", "subnet-2"] && filled["fargate"]?["assignPublicIp"] == true)
        #expect(filled["task"]?["crawlerImage"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/crawlrun/crawler:2.1")
        #expect(
            filled["task"]?["sidecarImage"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/crawlrun/sidecar@sha256:ab"
        )
        #expect(filled["urlsFile"] == "/jobs/urls.txt", "a relative urlsFile still names the job's file")
        let inPlace = try StackJob.fill(job, stack: Self.stack(), jobPath: "/jobs/shop.json", outputPath: nil)
        #expect(inPlace["urlsFile"] == "urls.txt")
        let new = try StackJob.fill(nil, stack: Self.stack(), jobPath: nil, outputPath: nil)
        #expect(
            new["name"] == "shop" && new["task"]?["crawlerImage"]?.stringValue?.hasSuffix("/crawler:latest") == true)
        #expect(new["task"]?["sidecarImage"]?.stringValue?.hasSuffix("/sidecar:4.27.0-20241225") == true)
        #expect(StackJob.tagSuffix("localhost:5000/crawler") == ":latest")
    }

    @Test func refusesAnotherJobOrAnUnfinishedStack() throws {
        #expect {
            try StackJob.fill(["name": "blog"], stack: Self.stack(), jobPath: "blog.json", outputPath: nil)
        } throws: { error in
            let e = error as? JobError
            return e?.file == "blog.json" && e?.problems.first?.place == "name"
                && e?.description.contains("\"blog\" is not the stack's job \"shop\"") == true
        }
        #expect {
            try StackJob.fill(nil, stack: Self.stack(status: "CREATE_IN_PROGRESS"), jobPath: nil, outputPath: nil)
        } throws: { "\($0)".contains("is CREATE_IN_PROGRESS") }
        #expect {
            try StackJob.fill(nil, stack: Self.stack(["Bucket": ""]), jobPath: nil, outputPath: nil)
        } throws: { "\($0)".contains("lacks the output Bucket") }
    }
}
