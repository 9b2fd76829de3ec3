import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

public enum Backend: String, Sendable, CaseIterable { case local, docker, fargate }

/// A validated job file (README, "Job file").
public struct Job: Sendable {
    public var name: String
    public var path: String
    /// Inline URLs, or nil when they come from `urlsFile`.
    public var inlineURLs: [String]?
    public var urlsFile: String?
    public var batchSize: Int?
    public var tasks: Int?
    public var groupByHost: Bool
    public var removeTrackingParameters: Bool
    public var crawl: CrawlOptions
    public var task: TaskSettings
    public var fargate: FargateSettings
    public var local = LocalSettings()
    /// Sessions and tabs per task: the job's, or chosen from `task` (also written into `crawl`).
    public var concurrency = CrawlConcurrency(sessions: 1, tabsPerSession: 1, sessionsFrom: .job, tabsFrom: .job)
    public var docker = DockerSettings()
    /// The backend the job was checked for: the caller's, else the job's own `backend`, else local.
    public var backend = Backend.local
    /// Limits per host across the fleet (`politeness`).
    public var politeness = PolitenessSettings()

    public static let defaultBatchSize = 50
}

/// The local backend: the sidecar as a process on this machine (README, "Backends").
public struct LocalSettings: Sendable {
    /// chromedriver's path (`CHROMEDRIVER` in the environment also sets it).
    public var chromedriver: String?
    /// A Selenium server command instead of chromedriver; `{port}` is replaced by the task's port.
    public var seleniumCommand: [String]?
    public var maxTasks: Int?
    /// How long the sidecar may take to report ready before the task fails to start.
    public var healthTimeout = 60.0
    public init() {}
}

/// The docker backend: the task definition as containers on a Docker Engine API (README, "The
/// docker backend").
public struct DockerSettings: Sendable {
    /// The engine, as `DOCKER_HOST` names one (`unix:///path`, `tcp://HOST:PORT`); nil: DOCKER_HOST.
    public var host: String?
    public var maxTasks: Int?
    /// How long the sidecar may take to become healthy; nil: the task definition's
    /// `startPeriod + retries × interval`.
    public var healthTimeout: Double?
    public init() {}
}

public struct TaskSettings: Sendable {
    public var cpu = 1024
    public var memory = 2048
    public var architecture = "X86_64"
    /// A pinned tag: a moving tag would make two runs of one job differ. Unset in the job, it
    /// follows `architecture` (`defaultSidecarImage`).
    public var sidecarImage = TaskSettings.defaultSidecarImage(architecture: "X86_64")
    public var crawlerImage = "crawlrun/crawler:latest"
    public var stopTimeout = 30
    public var environment: [String: String] = [:]
    /// Planning assumptions for the estimate.
    public var secondsPerPage = 2.0
    public var startupSeconds = 60.0
    public var maxRunSeconds = 3600.0
    public var retries = 2

    /// Selenium's standalone Chrome is built for x86_64 only (Google ships no Chrome for Linux on
    /// ARM64); its standalone Chromium, from the same release, for both.
    /// https://github.com/SeleniumHQ/docker-selenium/releases/tag/4.21.0-20240522 (the first with aarch64)
    public static func defaultSidecarImage(architecture: String) -> String {
        architecture == "ARM64"
            ? "selenium/standalone-chromium:4.27.0-20241225" : "selenium/standalone-chrome:4.27.0-20241225"
    }
}

public struct FargateSettings: Sendable {
    public var region: String?
    public var cluster = "default"
    public var subnets: [String] = []
    public var securityGroups: [String] = []
    public var assignPublicIp = false
    public var executionRoleArn: String?
    public var taskRoleArn: String?
    public var logGroup = "/crawlrun"
    public var bucket: String?
    public var prefix = "crawlrun/"
    public var capacityProviders: [(provider: String, weight: Int, base: Int)] = []
    public var maxConcurrentTasks = 10
    public var platformVersion = "LATEST"
    /// Tags for every task, beside crawlrun's own (`crawlrun:run`, `crawlrun:batch`, …).
    public var tags: [String: String] = [:]
    /// A task still PROVISIONING or PENDING this long after its launch is stopped and retried
    /// (RunTask has no timeout of its own).
    public var provisioningTimeout = 600.0
    /// `fargate.schedule`: the coordinator task and the schedule (`crawlrun schedule`).
    public var schedule = ScheduleSettings()
}

extension Job {
    /// Whether a Fargate platform version (`LATEST` or `1.4.0`) is at least `minimum`.
    static func platformAtLeast(_ version: String, _ minimum: [Int]) -> Bool {
        if version == "LATEST" { return true }
        let parts = version.split(separator: ".").map { Int($0) ?? 0 }
        for (i, m) in minimum.enumerated() {
            let p = i < parts.count ? parts[i] : 0
            if p != m { return p > m }
        }
        return true
    }
}

/// A job file that cannot run: every problem, each with its place. Exit code 65.
public struct JobError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var problems: [JobProblem]
    public init(file: String, problems: [JobProblem]) {
        self.file = file
        self.problems = problems
    }
    public var description: String {
        "\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s")\n"
            + problems.map { "  \($0.place): \($0.message)" }.joined(separator: "\n")
    }
}

/// Valid Fargate task sizes (ECS-NOTES.md; AWS "Task CPU and memory").
public enum FargateSizes {
    public static func memoryChoices(cpu: Int) -> [Int]? {
        switch cpu {
        case 256: return [512, 1024, 2048]
        case 512: return Array(stride(from: 1024, through: 4096, by: 1024))
        case 1024: return Array(stride(from: 2048, through: 8192, by: 1024))
        case 2048: return Array(stride(from: 4096, through: 16384, by: 1024))
        case 4096: return Array(stride(from: 8192, through: 30720, by: 1024))
        case 8192: return Array(stride(from: 16384, through: 61440, by: 4096))
        case 16384: return Array(stride(from: 32768, through: 122_880, by: 8192))
        default: return nil
        }
    }
    public static let cpuChoices = [256, 512, 1024, 2048, 4096, 8192, 16384]

    static func describe(_ memory: [Int]) -> String {
        memory.count <= 3
            ? memory.map(String.init).joined(separator: ", ")
            : "\(memory[0])–\(memory[memory.count - 1]) in steps of \(memory[1] - memory[0])"
    }
}

extension Job {
    /// Reads and validates a job file for `backend` (nil: the job's own `backend`, else local);
    /// throws a JobError listing every problem.
    public static func load(path: String, backend: Backend?) throws -> Job {
        let bytes: [UInt8]
        do {
            bytes = try FileText.contents(of: path)
        } catch {
            throw JobError(file: path, problems: [JobProblem("(file)", error.message)])
        }
        return try parse(Data(bytes), path: path, backend: backend)
    }

    /// Validates a job document; `path` names it in messages and anchors a relative `urlsFile`.
    /// Every problem is reported at once: syntax aside, schema, selectors, files and URLs.
    /// `backend` overrides the job's own `backend` key (`--backend`); nil keeps it.
    public static func parse(_ data: Data, path: String, backend requested: Backend?) throws -> Job {
        let document: JSONDocument
        do {
            document = try JSONParser.parse([UInt8](data))
        } catch {
            throw JobError(
                file: path, problems: [JobProblem("line \(error.line), column \(error.column)", error.message)])
        }
        let raw = document.value
        var problems = document.duplicateKeys.map {
            JobProblem($0.path, "given twice (lines \($0.firstLine) and \($0.line)): keep one")
        }
        Shape.job.check(raw, at: "", into: &problems)
        guard raw.objectValue != nil else { throw JobError(file: path, problems: problems) }
        let backend = requested ?? raw["backend"]?.stringValue.flatMap(Backend.init(rawValue:)) ?? .local

        var job = Job(
            name: raw["name"]?.stringValue ?? Self.defaultName(path), path: path,
            // Non-strings are reported by the schema; "" keeps the others at their index.
            inlineURLs: raw["urls"]?.arrayValue?.map { $0.stringValue ?? "" }, urlsFile: nil,
            batchSize: raw["batching"]?["batchSize"]?.intValue, tasks: raw["batching"]?["tasks"]?.intValue,
            // A job with per-host limits keeps each host's URLs together unless it says otherwise:
            // a host spread over every batch would hold every batch to its limit.
            groupByHost: raw["batching"]?["groupByHost"]?.boolValue ?? (raw["politeness"] != nil),
            removeTrackingParameters: raw["batching"]?["removeTrackingParameters"]?.boolValue ?? false,
            crawl: CrawlOptions(), task: TaskSettings(), fargate: FargateSettings())
        job.backend = backend
        if let name = raw["name"]?.stringValue, !name.isEmpty,
            !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
                || name.count > 200
        {
            problems.append(
                JobProblem("name", "use letters, digits, - and _ only (it names the ECS task definition family)"))
        }
        switch (raw["urls"], raw["urlsFile"]?.stringValue) {
        case (nil, nil): problems.append(JobProblem("urls", "required: give urls (a list) or urlsFile (a path)"))
        case (.some, .some): problems.append(JobProblem("urlsFile", "give urls or urlsFile, not both"))
        case (nil, .some(let file)):
            let base = Paths.directory(of: path)
            let full = file.hasPrefix("/") ? file : (base.isEmpty ? file : base + "/" + file)
            do {
                try FileText.checkReadable(full)
                job.urlsFile = full
            } catch {
                problems.append(JobProblem("urlsFile", error.message))
            }
        default: break
        }
        if job.batchSize != nil && job.tasks != nil {
            problems.append(JobProblem("batching.tasks", "give batchSize or tasks, not both"))
        }
        if let crawl = raw["crawl"], crawl.objectValue != nil,
            let decoded = try? JSONDecoder().decode(CrawlOptions.self, from: crawl.encoded())
        {
            job.crawl = decoded
        }
        job.task = Self.taskSettings(raw["task"])
        job.politeness = PolitenessSettings.read(raw["politeness"], into: &problems)
        if !RobotsParser.isValidProductToken(job.crawl.robotsProductToken) {
            problems.append(
                JobProblem(
                    "crawl.robotsProductToken", "use letters, _ and - only (RFC 9309 §2.2.1), e.g. CrawlRun"))
        }
        // A job that obeys robots.txt says who it is, unless it names its own user agent.
        if job.crawl.robotsTxt == .obey && job.crawl.userAgent == nil {
            job.crawl.userAgent = job.crawl.defaultUserAgent
        }
        job.concurrency = CrawlConcurrency.choose(
            cpu: job.task.cpu, memory: job.task.memory, sessions: raw["crawl"]?["sessions"]?.intValue,
            tabs: raw["crawl"]?["tabsPerSession"]?.intValue)
        job.crawl.sessions = job.concurrency.sessions
        job.crawl.tabsPerSession = job.concurrency.tabsPerSession
        if let problem = job.crawl.blockProblem() { problems.append(JobProblem("crawl.block", problem)) }
        if let problem = job.crawl.blockHostsProblem() { problems.append(JobProblem("crawl.blockHosts", problem)) }
        problems += CrawlOptions.requestProblems(inJob: raw["crawl"]).map { JobProblem("crawl." + $0.key, $0.message) }
        job.fargate = Self.fargateSettings(raw["fargate"])
        if let local = raw["local"] {
            job.local.chromedriver = local["chromedriver"]?.stringValue
            job.local.seleniumCommand = local["seleniumCommand"]?.arrayValue?.compactMap(\.stringValue)
            job.local.maxTasks = local["maxTasks"]?.intValue
            job.local.healthTimeout = local["healthTimeout"]?.doubleValue ?? job.local.healthTimeout
            if let command = job.local.seleniumCommand, command.isEmpty {
                problems.append(JobProblem("local.seleniumCommand", "give the command and its arguments"))
            }
        }
        if let docker = raw["docker"] {
            job.docker.host = docker["host"]?.stringValue
            job.docker.maxTasks = docker["maxTasks"]?.intValue
            job.docker.healthTimeout = docker["healthTimeout"]?.doubleValue
            if let host = job.docker.host, !host.hasPrefix("unix:///"), !host.hasPrefix("tcp://") {
                problems.append(
                    JobProblem(
                        "docker.host",
                        "\"\(host)\" is not an engine address: use unix:///path/to.sock or tcp://HOST:PORT"))
            }
        }
        if raw["task"] != nil || backend == .fargate {
            if let memory = FargateSizes.memoryChoices(cpu: job.task.cpu) {
                if !memory.contains(job.task.memory) {
                    problems.append(
                        JobProblem(
                            "task.memory",
                            "\(job.task.memory) MiB is not valid with cpu \(job.task.cpu); choose \(FargateSizes.describe(memory))"
                        ))
                }
            } else {
                problems.append(
                    JobProblem(
                        "task.cpu",
                        "\(job.task.cpu) is not a Fargate cpu value; choose one of \(FargateSizes.cpuChoices.map(String.init).joined(separator: ", "))"
                    ))
            }
            // FARGATE_SPOT runs ARM64 (Graviton) Linux tasks on platform version 1.4.0 and later
            // (it once ran X86_64 only; AWS Batch's RuntimePlatform reference now excludes only
            // Windows from Fargate Spot). https://docs.aws.amazon.com/batch/latest/APIReference/API_RuntimePlatform.html
            if job.task.architecture == "ARM64",
                job.fargate.capacityProviders.contains(where: { $0.provider == "FARGATE_SPOT" }),
                !Self.platformAtLeast(job.fargate.platformVersion, [1, 4, 0])
            {
                problems.append(
                    JobProblem(
                        "fargate.platformVersion",
                        "FARGATE_SPOT runs ARM64 tasks on platform version 1.4.0 or later, not \(job.fargate.platformVersion); set it to LATEST or 1.4.0"
                    ))
            }
        }
        if backend == .fargate { problems += Self.fargateProblems(raw["fargate"], job.fargate) }
        if !problems.isEmpty {
            // The planner checks the URLs of a valid job; with other mistakes, name the URLs'
            // too, so that one round of fixes is enough. One problem per place.
            let named = Set(problems.map(\.place))
            problems += Planner(job: job).urlProblems().filter { !named.contains($0.place) }
            throw JobError(file: path, problems: problems)
        }
        return job
    }

    static func defaultName(_ path: String) -> String {
        let base = Paths.removingExtension(Paths.baseName(path))
        let cleaned = String(base.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
        return cleaned.isEmpty ? "crawl" : cleaned
    }

    static func taskSettings(_ v: JSONValue?) -> TaskSettings {
        var t = TaskSettings()
        guard let v else { return t }
        t.cpu = v["cpu"]?.intValue ?? t.cpu
        t.memory = v["memory"]?.intValue ?? t.memory
        t.architecture = v["architecture"]?.stringValue ?? t.architecture
        t.sidecarImage =
            v["sidecarImage"]?.stringValue ?? TaskSettings.defaultSidecarImage(architecture: t.architecture)
        t.crawlerImage = v["crawlerImage"]?.stringValue ?? t.crawlerImage
        t.stopTimeout = v["stopTimeout"]?.intValue ?? t.stopTimeout
        t.environment = v["environment"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        t.secondsPerPage = v["secondsPerPage"]?.doubleValue ?? t.secondsPerPage
        t.startupSeconds = v["startupSeconds"]?.doubleValue ?? t.startupSeconds
        t.maxRunSeconds = v["maxRunSeconds"]?.doubleValue ?? t.maxRunSeconds
        t.retries = v["retries"]?.intValue ?? t.retries
        return t
    }

    static func fargateSettings(_ v: JSONValue?) -> FargateSettings {
        var f = FargateSettings()
        guard let v else { return f }
        f.region = v["region"]?.stringValue
        f.cluster = v["cluster"]?.stringValue ?? f.cluster
        f.subnets = v["subnets"]?.arrayValue?.compactMap(\.stringValue) ?? []
        f.securityGroups = v["securityGroups"]?.arrayValue?.compactMap(\.stringValue) ?? []
        f.assignPublicIp = v["assignPublicIp"]?.boolValue ?? false
        f.executionRoleArn = v["executionRoleArn"]?.stringValue
        f.taskRoleArn = v["taskRoleArn"]?.stringValue
        f.logGroup = v["logGroup"]?.stringValue ?? f.logGroup
        f.bucket = v["bucket"]?.stringValue
        f.prefix = v["prefix"]?.stringValue ?? f.prefix
        f.capacityProviders = (v["capacityProviders"]?.arrayValue ?? []).compactMap { p in
            guard let name = p["provider"]?.stringValue else { return nil }
            return (name, p["weight"]?.intValue ?? 1, p["base"]?.intValue ?? 0)
        }
        f.maxConcurrentTasks = v["maxConcurrentTasks"]?.intValue ?? f.maxConcurrentTasks
        f.platformVersion = v["platformVersion"]?.stringValue ?? f.platformVersion
        f.tags = v["tags"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        f.provisioningTimeout = v["provisioningTimeout"]?.doubleValue ?? f.provisioningTimeout
        f.schedule = ScheduleSettings(v["schedule"])
        return f
    }

    public static func fargateProblems(_ v: JSONValue?, _ f: FargateSettings) -> [JobProblem] {
        var out: [JobProblem] = []
        guard v != nil else {
            return [JobProblem("fargate", "required for the fargate backend (subnets, roles, bucket…)")]
        }
        if f.subnets.isEmpty {
            out.append(JobProblem("fargate.subnets", "required for the fargate backend: at least one subnet id"))
        }
        for (i, s) in f.subnets.enumerated() where !s.hasPrefix("subnet-") {
            out.append(JobProblem("fargate.subnets[\(i)]", "\"\(s)\" is not a subnet id (subnet-…)"))
        }
        for (i, s) in f.securityGroups.enumerated() where !s.hasPrefix("sg-") {
            out.append(JobProblem("fargate.securityGroups[\(i)]", "\"\(s)\" is not a security group id (sg-…)"))
        }
        for (key, arn) in [("executionRoleArn", f.executionRoleArn), ("taskRoleArn", f.taskRoleArn)] {
            guard let arn else {
                out.append(JobProblem("fargate.\(key)", "required for the fargate backend"))
                continue
            }
            if !arn.hasPrefix("arn:aws") || !arn.contains(":iam::") || !arn.contains(":role/") {
                out.append(
                    JobProblem("fargate.\(key)", "\"\(arn)\" is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"))
            }
        }
        if f.bucket == nil {
            out.append(
                JobProblem("fargate.bucket", "required for the fargate backend: batches and results travel through S3"))
        }
        if f.region == nil { out.append(JobProblem("fargate.region", "required for the fargate backend")) }
        // ECS allows 50 tags per task; crawlrun adds four of its own (crawlrun:run, :job, :batch, :attempt).
        if f.tags.count > 46 {
            out.append(JobProblem("fargate.tags", "\(f.tags.count) tags; at most 46 (ECS allows 50, crawlrun adds 4)"))
        }
        for (key, value) in f.tags.sorted(by: { $0.key < $1.key }) {
            if key.isEmpty || key.count > 128 || value.count > 256 {
                out.append(JobProblem("fargate.tags.\(key)", "keys take 1 to 128 characters, values at most 256"))
            } else if key.lowercased().hasPrefix("aws:") || key.hasPrefix("crawlrun:") {
                out.append(JobProblem("fargate.tags.\(key)", "the aws: and crawlrun: prefixes are reserved"))
            }
        }
        return out
    }
}
