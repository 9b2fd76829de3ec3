import AWS
import CrawlKit
import Foundation
import JSONKit

#if canImport(Glibc)
    import Glibc
#endif

/// One check's outcome.
public struct DoctorCheck: Sendable {
    public enum State: Sendable { case passed, failed, skipped }
    public var name: String
    public var state: State
    public var detail: String
    public var hint: String?

    /// `✓ name  detail`, and a `fix:` line under a failed check.
    public var line: String {
        let mark: String
        switch state {
        case .passed: mark = "✓"
        case .failed: mark = "✗"
        case .skipped: mark = "-"
        }
        var line = "\(mark) \(name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(detail)"
        if let hint, state == .failed { line += "\n    fix: \(hint)" }
        return line
    }
}

/// Runs the checks in order, telling `output` each line as it is known.
public struct Doctor {
    let job: Job
    let variables: [String: String]
    let output: @Sendable (String) -> Void
    public private(set) var results: [DoctorCheck] = []
    /// Set when AWS rejected the credentials themselves: every later call would fail the same way.
    private var rejected: String?

    public init(job: Job, variables: [String: String], output: @escaping @Sendable (String) -> Void) {
        self.job = job
        self.variables = variables
        self.output = output
    }

    mutating func record(_ check: DoctorCheck) {
        results.append(check)
        output(check.line)
    }

    mutating func pass(_ name: String, _ detail: String) {
        record(DoctorCheck(name: name, state: .passed, detail: detail))
    }
    mutating func fail(_ name: String, _ detail: String, hint: String?) {
        record(DoctorCheck(name: name, state: .failed, detail: detail, hint: hint))
    }

    public mutating func run(region: String?, jobProblems: [JobProblem]) async {
        let job = self.job
        let f = job.fargate
        guard let region else {
            fail(
                "region", "none: the job has no fargate.region and no AWS_REGION is set",
                hint: "set fargate.region in the job file")
            return
        }
        let aws = AWSServices(region: region, variables: variables)
        for override in aws.endpointOverrides { output("  endpoint override: \(override)") }

        if await !checkCredentials(aws) { rejected = "no credentials" }
        pass("region", f.region != nil ? "\(region) (job fargate.region)" : "\(region) (environment)")

        if jobProblems.isEmpty {
            pass("job", "fargate section complete (\(f.subnets.count) subnet\(f.subnets.count == 1 ? "" : "s"))")
        } else {
            fail(
                "job", jobProblems.map(\.description).joined(separator: "; "),
                hint: "complete the fargate section of \(job.path) (README, \"AWS set-up\")")
        }
        checkRoles()

        await network("cluster") { () async throws -> String in
            let out = try await aws.ecs.describeClusters([f.cluster])
            guard let cluster = out["clusters"]?.arrayValue?.first else {
                throw DoctorFailure(
                    "cluster \"\(f.cluster)\" does not exist in \(region)",
                    hint:
                        "create it (aws ecs create-cluster --cluster-name \(f.cluster) --region \(region)) or fix fargate.cluster"
                )
            }
            let status = cluster["status"]?.stringValue ?? "unknown"
            guard status == "ACTIVE" else {
                throw DoctorFailure(
                    "cluster \"\(f.cluster)\" is \(status), not ACTIVE",
                    hint: "use an ACTIVE cluster in fargate.cluster")
            }
            if let problem = FargateCapacity.problem(job, cluster: cluster) {
                throw DoctorFailure(problem.message, hint: problem.fix)
            }
            let running = cluster["runningTasksCount"]?.intValue ?? 0
            let providers = (cluster["capacityProviders"]?.arrayValue ?? []).compactMap(\.stringValue)
            return "\(f.cluster) is ACTIVE (\(running) running task\(running == 1 ? "" : "s")"
                + (f.capacityProviders.isEmpty ? "" : "; capacity providers \(providers.joined(separator: ", "))") + ")"
        }

        await network("log group") { () async throws -> String in
            do {
                _ = try await aws.logs.describeLogStreams(group: f.logGroup, limit: 1)
                return "\(f.logGroup) exists"
            } catch let error as AWSError where error.code == "ResourceNotFoundException" {
                try await aws.logs.createLogGroup(f.logGroup)
                return "\(f.logGroup) created (it did not exist)"
            }
        }

        await network("bucket prefix") { () async throws -> String in
            try await Self.probe(aws.s3, bucket: f.bucket ?? "", prefix: IAMPolicy.jobPrefix(job))
        }

        await network("task definition") { () async throws -> String in
            let r = try await TaskDefinitionRegistry.ensure(TaskDefinition.render(job), ecs: aws.ecs)
            let name = "crawlrun-\(job.name):\(r.revision)"
            return r.reused ? "\(name) is identical to the job's (reused)" : "\(name) registered"
        }
        await checkNetwork(aws, region: region)
    }

    mutating func checkRoles() {
        let f = job.fargate
        let problems = [("executionRoleArn", f.executionRoleArn), ("taskRoleArn", f.taskRoleArn)].compactMap {
            key, arn -> String? in
            guard let arn else { return "fargate.\(key) is missing" }
            return Self.isRoleARN(arn) ? nil : "fargate.\(key) \"\(arn)\" is not arn:aws:iam::ACCOUNT:role/NAME"
        }
        if problems.isEmpty {
            let names = [f.executionRoleArn, f.taskRoleArn].compactMap { $0?.split(separator: "/").last }
            pass("roles", "execution role \(names.first ?? ""), task role \(names.last ?? "")")
        } else {
            fail("roles", problems.joined(separator: "; "), hint: "use the roles' ARNs from the IAM console")
        }
    }

    /// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME` with a 12-digit account and IAM's name characters.
    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html
    public static func isRoleARN(_ arn: String) -> Bool {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", ["aws", "aws-cn", "aws-us-gov"].contains(parts[1]),
            parts[2] == "iam", parts[3].isEmpty, parts[4].count == 12,
            parts[4].allSatisfy({ $0.isASCII && $0.isNumber }),
            parts[5].hasPrefix("role/")
        else { return false }
        let name = parts[5].dropFirst(5)
        return !name.isEmpty && !name.hasSuffix("/") && name.count <= 512
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+=,.@_-/".contains($0)) }
    }

    /// Writes, reads and deletes a probe object under the job's prefix: what the coordinator does
    /// with batch files.
    static func probe(_ s3: S3Client, bucket: String, prefix: String) async throws(AWSError) -> String {
        let location = S3Location(bucket: bucket, key: prefix + "doctor/probe-\(UInt64.random(in: 0...UInt64.max))")
        let body = Array("crawlrun doctor probe\n".utf8)
        try await s3.putObject(location, body: Data(body), contentType: "text/plain")
        var failure: AWSError?
        do throws(AWSError) {
            if Array(try await s3.getObject(location)) != body {
                failure = AWSError(.invalidResponse, "the probe read back differs from what was written")
            }
        } catch {
            failure = error
        }
        // Delete even after a failed read, so no probe is left behind.
        try await s3.deleteObject(location)
        if let failure { throw failure }
        return "s3://\(bucket)/\(prefix): write, read and delete work"
    }

    /// Runs a check that calls AWS; skipped once AWS has rejected the credentials.
    mutating func network(_ name: String, _ body: () async throws -> String) async {
        if let rejected {
            record(DoctorCheck(name: name, state: .skipped, detail: "skipped: \(rejected)"))
            return
        }
        do {
            pass(name, try await body())
        } catch let failure as DoctorFailure {
            fail(name, failure.message, hint: failure.hint)
        } catch let error as AWSError {
            let (detail, hint, rejects) = Self.explain(error)
            fail(name, detail, hint: hint)
            if rejects { rejected = "AWS rejected the credentials (see above)" }
            if let unreachable = DoctorNetwork.unreachable(error) { rejected = unreachable }
        } catch {
            fail(name, "\(error)", hint: nil)
        }
    }

    /// What an AWS error means for the user, the fix, and whether it condemns the credentials.
    static func explain(_ error: AWSError) -> (String, String?, Bool) {
        if error.isSignatureMismatch {
            return (
                "the signature does not match: AWS rejects the secret access key (\(error.code))",
                "check AWS_SECRET_ACCESS_KEY, or aws_secret_access_key in the profile, for this key id", true
            )
        }
        if ["InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId"].contains(error.code) {
            return (
                "the access key id is not known to AWS (\(error.code))",
                "check AWS_ACCESS_KEY_ID or the profile; the key may have been deleted", true
            )
        }
        if error.code == "ExpiredToken" || error.code == "ExpiredTokenException" {
            return ("the session token has expired (\(error.code))", "refresh the temporary credentials", true)
        }
        if error.isAccessDenied {
            return (
                "access denied: \(error.message)",
                "attach the coordinator policy printed by `crawlrun iam-policy JOB` to this user or role", false
            )
        }
        if error.kind == .transport { return (DoctorNetwork.noAnswer(error), DoctorNetwork.noAnswerFix, false) }
        if error.code == "NoSuchBucket" {
            return ("\(error.message)", "create the bucket or fix fargate.bucket", false)
        }
        return ("\(error)", nil, false)
    }
}

/// A check's own verdict on what AWS answered (a missing cluster), with its fix.
struct DoctorFailure: Error {
    var message: String
    var hint: String
    init(_ message: String, hint: String) {
        self.message = message
        self.hint = hint
    }
}
