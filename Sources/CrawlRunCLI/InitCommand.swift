import AWS
import Coordinator
import CrawlKit
import Foundation
import JSONKit

/// `crawlrun init --from-stack STACK [JOB]`: a job whose `fargate` block (and image names) come
/// from the outputs of a stack made from deploy/cloudformation.yaml.
struct InitCommand: Command {
    static let name = "init"
    static let arguments = ArgumentSpec(
        options: ["--from-stack", "--output", "--region"], aliases: ["-o": "--output"], positionals: 0...1,
        positionalName: "a job file")
    static let help = """
        usage: crawlrun init --from-stack STACK [JOB] [--output FILE] [--region REGION]

        Reads the outputs of STACK, a CloudFormation stack made from deploy/cloudformation.yaml,
        and prints JOB (or a new job named after the stack's JobName) with:
          fargate  region, cluster, subnets, securityGroups, assignPublicIp, executionRoleArn,
                   taskRoleArn, logGroup, bucket and prefix from the stack (other keys kept);
          task     crawlerImage and sidecarImage in the stack's ECR repositories, with the tags
                   JOB's images had (push them there: `crawlrun doctor` checks they exist).
        The stack's policies allow one job name: JOB's "name" must be the stack's JobName.
        --output FILE writes the job there (FILE may be JOB) instead of standard output; keys are
        sorted. --region is the stack's Region (else AWS_REGION, AWS_DEFAULT_REGION, the profile).

        Exit codes: 0 written · 2 the stack cannot be read or is not complete · 64 usage ·
        65 invalid job file, or its name is not the stack's.
        """

    let stackName: String
    let jobPath: String?
    let output: String?
    let region: String?
    let variables: [String: String]

    init(_ parsed: ParsedArguments) throws(UsageError) {
        guard let stack = parsed.value("--from-stack"), !stack.isEmpty else {
            throw UsageError("init needs --from-stack STACK (a stack made from deploy/cloudformation.yaml)")
        }
        stackName = stack
        jobPath = parsed.positionals.first
        output = parsed.value("--output")
        variables = ProcessInfo.processInfo.environment
        region = parsed.value("--region") ?? AWSEnvironment(variables).region()
    }

    func run() async throws -> ExitCode {
        let original = try jobPath.map(Self.readJob)
        guard let region else {
            throw InitFailure("no Region for the stack: give --region, or set AWS_REGION")
        }
        let cloudFormation = CloudFormationClient(AWSServices(region: region, variables: variables))
        let stack: CloudFormationStack
        do {
            stack = try await cloudFormation.describeStack(stackName)
        } catch {
            throw InitFailure("cannot read the stack \(stackName) in \(region): \(error)")
        }
        let filled = try StackJob.fill(original, stack: stack, jobPath: jobPath, outputPath: output)
        let text = filled.prettyPrinted() + "\n"
        if let output {
            do {
                try RunStore.writeAtomically(path: output, Array(text.utf8))
            } catch {
                throw InitFailure("\(error.message)\(error.cause.map { ": \($0)" } ?? "")")
            }
        } else {
            StandardOutput.write(Array(text.utf8))
        }
        StandardError.write(StackJob.nextSteps(stack, written: output))
        return .ok
    }

    /// The job file as JSON, for rewriting: a syntax error names its line (exit 65).
    static func readJob(_ path: String) throws -> JSONValue {
        let bytes: [UInt8]
        do {
            bytes = try FileText.contents(of: path)
        } catch {
            throw JobError(file: path, problems: [JobProblem("(file)", error.message)])
        }
        do {
            return try JSONParser.parse(bytes).value
        } catch {
            throw JobError(
                file: path, problems: [JobProblem("line \(error.line), column \(error.column)", error.message)])
        }
    }
}

/// A stack `init` cannot use: printed as `crawlrun: MESSAGE`, exit 2.
struct InitFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// The rules of `init --from-stack`, as a pure function of the job and the stack.
enum StackJob {
    /// The outputs deploy/cloudformation.yaml declares and `fill` reads.
    static let outputs = [
        "JobName", "Region", "Cluster", "Subnets", "SecurityGroups", "AssignPublicIp", "ExecutionRoleArn",
        "TaskRoleArn", "LogGroup", "Bucket", "Prefix", "CrawlerRepositoryUri", "SidecarRepositoryUri",
    ]

    static func fill(
        _ job: JSONValue?, stack: CloudFormationStack, jobPath: String?, outputPath: String?
    ) throws -> JSONValue {
        guard stack.isUsable else {
            throw InitFailure(
                "the stack \(stack.name) is \(stack.status)\(stack.statusReason.map { " (\($0))" } ?? ""): "
                    + "its outputs are final once it is CREATE_COMPLETE or UPDATE_COMPLETE")
        }
        let o = stack.outputs
        let missing = outputs.filter { (o[$0] ?? "").isEmpty && $0 != "Prefix" }
        guard missing.isEmpty, let name = o["JobName"] else {
            throw InitFailure(
                "the stack \(stack.name) lacks the output\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")): "
                    + "was it made from deploy/cloudformation.yaml?")
        }
        let path = jobPath ?? "(new job)"
        guard case .object(var root) = job ?? ["name": .string(name)] else {
            throw JobError(file: path, problems: [JobProblem("(root)", "a job is a JSON object")])
        }
        if let current = root["name"]?.stringValue, current != name {
            throw JobError(
                file: path,
                problems: [
                    JobProblem(
                        "name",
                        "\"\(current)\" is not the stack's job \"\(name)\": its policies allow the task definition "
                            + "family crawlrun-\(name) and the prefix \(o["Prefix"] ?? "")\(name)/ only; rename the "
                            + "job or make a stack for it (JobName=\(current))")
                ])
        }
        root["name"] = .string(name)
        var fargate = root["fargate"]?.objectValue ?? [:]
        let list = { (key: String) -> JSONValue in
            .array((o[key] ?? "").split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) })
        }
        fargate["region"] = .string(o["Region"] ?? "")
        fargate["cluster"] = .string(o["Cluster"] ?? "")
        fargate["subnets"] = list("Subnets")
        fargate["securityGroups"] = list("SecurityGroups")
        fargate["assignPublicIp"] = .bool(o["AssignPublicIp"] == "true")
        fargate["executionRoleArn"] = .string(o["ExecutionRoleArn"] ?? "")
        fargate["taskRoleArn"] = .string(o["TaskRoleArn"] ?? "")
        fargate["logGroup"] = .string(o["LogGroup"] ?? "")
        fargate["bucket"] = .string(o["Bucket"] ?? "")
        fargate["prefix"] = .string(o["Prefix"] ?? "")
        root["fargate"] = .object(fargate)

        var task = root["task"]?.objectValue ?? [:]
        let architecture = task["architecture"]?.stringValue ?? "X86_64"
        let crawler = task["crawlerImage"]?.stringValue ?? "crawlrun/crawler:latest"
        let sidecar = task["sidecarImage"]?.stringValue ?? TaskSettings.defaultSidecarImage(architecture: architecture)
        task["crawlerImage"] = .string((o["CrawlerRepositoryUri"] ?? "") + tagSuffix(crawler))
        task["sidecarImage"] = .string((o["SidecarRepositoryUri"] ?? "") + tagSuffix(sidecar))
        root["task"] = .object(task)

        // A relative urlsFile is anchored at the job's folder: keep it pointing there.
        if let urls = root["urlsFile"]?.stringValue, !urls.hasPrefix("/"), let jobPath {
            let from = URL(fileURLWithPath: jobPath).deletingLastPathComponent().standardizedFileURL.path
            let to = URL(fileURLWithPath: outputPath ?? jobPath).deletingLastPathComponent().standardizedFileURL.path
            if from != to { root["urlsFile"] = .string(URL(fileURLWithPath: from).appendingPathComponent(urls).path) }
        }
        return .object(root)
    }

    /// `:TAG` or `@DIGEST` of an image reference (`:latest` when it has neither): the same image
    /// pushed to the stack's repository keeps its name there.
    static func tagSuffix(_ image: String) -> String {
        if let at = image.firstIndex(of: "@") { return String(image[at...]) }
        let name = image.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        if let colon = name.lastIndex(of: ":") { return String(name[colon...]) }
        return ":latest"
    }

    /// What is left to do, for standard error.
    static func nextSteps(_ stack: CloudFormationStack, written: String?) -> String {
        let job = written ?? "JOB"
        return """
            crawlrun init: the job's fargate block and images from the stack \(stack.name)\(written.map { ", written to \($0)" } ?? "")
            next: push the two images to \(stack.outputs["CrawlerRepositoryUri"] ?? "") and \(stack.outputs["SidecarRepositoryUri"] ?? "") (README, "AWS set-up"),
                  attach \(stack.outputs["CoordinatorPolicyArn"] ?? "the stack's CoordinatorPolicyArn") to whoever runs crawlrun,
                  then: crawlrun doctor \(job)

            """
    }
}
