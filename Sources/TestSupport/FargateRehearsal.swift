import HTTP
import JSONKit
import ProcessKit
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The Fargate rehearsal (scripts/rehearsal: moto plus an agent that runs every task as local
/// processes) as a child process on a free loopback port, and its control API: set-up, faults,
/// and what it saw. It stops every task process it started when it is stopped, or when this
/// process dies. `PYTHON` overrides the interpreter.
public final class FargateRehearsal: Sendable {
    public let endpoint: String
    /// The rehearsal's own pid, from its ready line.
    public let pid: Int32
    public let process: ChildProcess
    private let errors: Lines
    private let http = CurlHTTPClient(connectTimeout: .seconds(2), timeout: .seconds(120))

    /// What the set-up created: the coordinator user's key and the resources a job names.
    public struct SetUp: Sendable {
        public let accessKeyId: String
        public let secretAccessKey: String
        public let region: String
        public let subnets: [String]
        public let securityGroups: [String]
        public let executionRoleArn: String
        public let taskRoleArn: String
    }

    private init(endpoint: String, pid: Int32, process: ChildProcess, errors: Lines) {
        self.endpoint = endpoint
        self.pid = pid
        self.process = process
        self.errors = errors
    }

    /// scripts/rehearsal of this checkout (found from this file's path).
    public static var scriptsDirectory: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/scripts/rehearsal"
    }

    /// Starts the rehearsal running tasks with `crawler` and waits for its ready line.
    public static func start(crawler: String, arguments: [String] = []) async throws -> FargateRehearsal {
        var env = ProcessInfo.processInfo.environment
        env["PYTHONPATH"] = scriptsDirectory
        let ready = Lines()
        let errors = Lines()
        let process = try ChildProcess(
            env["PYTHON"] ?? "python3", arguments: ["-m", "rehearsal", "--crawler", crawler] + arguments,
            environment: env, stdout: .lines { ready.append($0) }, stderr: .lines { errors.append($0) },
            name: "rehearsal")
        _ = await eventually(timeout: .seconds(60)) { ready.first != nil || process.exitStatus != nil }
        guard let line = ready.first, let json = try? JSONValue.decode(Data(line.utf8)),
            let endpoint = json["endpoint"]?.stringValue, let pid = json["pid"]?.intValue
        else {
            await process.terminate(grace: .seconds(5))
            throw FixtureError("the rehearsal did not start: \(errors.tail)")
        }
        return FargateRehearsal(endpoint: endpoint, pid: Int32(pid), process: process, errors: errors)
    }

    /// One call of the control API (`/_rehearsal/PATH`); its JSON answer.
    @discardableResult
    public func control(_ method: String, _ path: String, _ body: JSONValue? = nil) async throws -> JSONValue {
        let r = try await http.send(
            HTTPRequest(
                method: method, url: endpoint + "/_rehearsal/" + path,
                headers: [("Content-Type", "application/json")], body: body.map { $0.encoded() }))
        guard r.status == 200 else {
            throw FixtureError(
                "rehearsal \(method) /_rehearsal/\(path): HTTP \(r.status) \(String(decoding: r.body, as: UTF8.self))")
        }
        return try JSONValue.decode(r.body)
    }

    /// Creates the cluster, log group, bucket, roles and a coordinator user holding `policies`
    /// (`crawlrun iam-policy --json`'s document); signatures and IAM are checked from then on.
    public func setUp(
        cluster: String, logGroup: String, bucket: String, prefix: String, policies: JSONValue
    )
        async throws -> SetUp
    {
        let answer = try await control(
            "POST", "setup",
            [
                "cluster": .string(cluster), "logGroup": .string(logGroup), "bucket": .string(bucket),
                "prefix": .string(prefix), "policies": policies,
            ])
        func strings(_ key: String) -> [String] { answer[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        guard let key = answer["accessKeyId"]?.stringValue, let secret = answer["secretAccessKey"]?.stringValue,
            let region = answer["region"]?.stringValue, let execution = answer["executionRoleArn"]?.stringValue,
            let task = answer["taskRoleArn"]?.stringValue
        else { throw FixtureError("rehearsal set-up: unexpected answer") }
        return SetUp(
            accessKeyId: key, secretAccessKey: secret, region: region, subnets: strings("subnets"),
            securityGroups: strings("securityGroups"), executionRoleArn: execution, taskRoleArn: task)
    }

    /// Makes `job` ready to run here, as scripts/rehearse-fargate.sh does (`python3 -m
    /// rehearsal.prepare`): writes `copy`, the job with a fargate section naming the rehearsal's
    /// cluster, subnets, roles, log group and bucket; sets the rehearsal up with the policies
    /// `crawlrun iam-policy` prints for it. Returns the environment `crawlrun` needs: the
    /// endpoint, the region and the coordinator user's key.
    public func prepare(
        job: String, copy: String, crawlrun: String, scheduled: Bool = false
    ) async throws -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["PYTHONPATH"] = Self.scriptsDirectory
        let out = Lines()
        let errors = Lines()
        let process = try ChildProcess(
            env["PYTHON"] ?? "python3",
            arguments: ["-m", "rehearsal.prepare", "--endpoint", endpoint, "--crawlrun", crawlrun]
                + (scheduled ? ["--scheduled"] : []) + [job, copy],
            environment: env, stdout: .lines { out.append($0) }, stderr: .lines { errors.append($0) },
            name: "rehearsal.prepare")
        let status = await process.wait(timeout: .seconds(120))
        await process.outputDrained()
        guard status == .exited(0) else {
            throw FixtureError(
                "rehearsal.prepare \(job) failed (\(status.map { "\($0)" } ?? "timed out")): \(errors.tail)")
        }
        var exports: [String: String] = [
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
        ]
        for line in out.all where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let eq = assignment.firstIndex(of: "=") else { continue }
            var value = String(assignment[assignment.index(after: eq)...])
            // shlex.quote: 'value' when the value has characters a shell would read.
            if value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") {
                value = String(value.dropFirst().dropLast())
            }
            exports[String(assignment[..<eq])] = value
        }
        guard exports["AWS_ACCESS_KEY_ID"] != nil else { throw FixtureError("rehearsal.prepare printed no key") }
        return exports
    }

    /// Arms `fault` (scripts/rehearsal/rehearsal/faults.py lists them) for `count` occurrences.
    public func fault(_ fault: String, count: Int = 1, _ parameters: [String: JSONValue] = [:]) async throws {
        var body = parameters
        body["fault"] = .string(fault)
        body["count"] = .number(Double(count))
        try await control("POST", "faults", .object(body))
    }

    /// Every task RunTask created: taskArn, startedBy, tags, clientToken, states, containers, pids.
    public func tasks() async throws -> [JSONValue] {
        try await control("GET", "tasks")["tasks"]?.arrayValue ?? []
    }

    /// API calls counted per "service:Action" (e.g. "ecs:DescribeTasks").
    public func calls() async throws -> [String: Int] {
        (try await control("GET", "calls")["calls"]?.objectValue ?? [:]).compactMapValues(\.intValue)
    }

    /// SIGTERM: the rehearsal stops every task process, then exits.
    @discardableResult
    public func stop() async -> ExitStatus {
        await process.terminate(grace: .seconds(30))
    }

    /// The rehearsal's last standard-error lines, for a failure's message.
    public var log: String { errors.tail }
}

/// Lines from a child's output, kept for the launcher.
private final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var first: String? { lines.withLock { $0.first } }
    var all: [String] { lines.withLock { $0 } }
    var tail: String { lines.withLock { $0.suffix(30).joined(separator: "\n") } }
}
