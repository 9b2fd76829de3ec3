import JSONKit

/// The ECS task definition every backend runs, in the shape
/// `aws ecs register-task-definition --cli-input-json` takes.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
public enum TaskDefinition {
    public static let sidecarName = "webdriver"
    public static let crawlerName = "crawler"
    /// Seconds ECS waits for the sidecar to become HEALTHY before it stops the task.
    public static let sidecarStartTimeout = 120

    public static func render(_ job: Job) -> JSONValue {
        let t = job.task
        let f = job.fargate
        // No `awslogs-create-group`: it would make the execution role need logs:CreateLogGroup
        // (denied, the task stops with ResourceInitializationError); crawlrun creates the group
        // before the first task (FargateBackend.prepare, crawlrun doctor).
        // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html
        func logs(_ prefix: String) -> JSONValue {
            [
                "logDriver": "awslogs",
                "options": [
                    "awslogs-group": .string(f.logGroup), "awslogs-region": .string(f.region ?? "us-east-1"),
                    "awslogs-stream-prefix": .string(prefix),
                ],
            ]
        }
        let sessions = job.crawl.sessions
        // Soft reservations (never hard limits): the browser gets the task's memory but what the
        // crawler needs (about 25 MB resident, README "Benchmark"). They also make the definition
        // runnable on moto_server, which needs a container-level figure to place a task.
        let crawlerReservation = 64
        // The sidecar is essential: a crawler without a browser cannot make progress, and ECS
        // stops the task so the coordinator retries the missing URLs on a fresh one. (A restart
        // policy would keep the task alive, but a restarted Selenium loses its sessions anyway and
        // the crawler already recovers from that; an essential sidecar fails fast and visibly.)
        let sidecar: JSONValue = [
            "name": .string(sidecarName),
            "image": .string(t.sidecarImage),
            "essential": true,
            "memoryReservation": .number(Double(max(64, t.memory - crawlerReservation))),
            "portMappings": [["containerPort": 4444, "protocol": "tcp"]],
            "environment": .array([
                env("SE_NODE_MAX_SESSIONS", String(sessions)),
                env("SE_NODE_OVERRIDE_MAX_SESSIONS", "true"),
                env("SE_NODE_SESSION_TIMEOUT", "300"),
                // Fargate has no /dev/shm sizing: Chrome must not rely on it.
                env("SE_BROWSER_ARGS_DISABLE_DSHM", "--disable-dev-shm-usage"),
                env("SE_START_XVFB", "false"),
            ]),
            "healthCheck": [
                "command": ["CMD-SHELL", "curl -sf http://localhost:4444/status | grep -q '\"ready\": *true'"],
                "interval": 5, "timeout": 3, "retries": 10, "startPeriod": 10,
            ],
            "linuxParameters": ["initProcessEnabled": true],
            // ECS gives up on the crawler's HEALTHY dependency only when the container depended
            // on (this one) has a startTimeout, counted from its start: without it a sidecar that
            // never becomes healthy keeps the task PENDING, billed, until someone stops it. With
            // it, the crawler is stopped (exit 143, CannotStartContainerError … has timed out) and
            // the task ends within about two minutes (the health check alone gives it 10 s + 10 × 5 s).
            // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html (startTimeout)
            // amazon-ecs-agent agent/engine/dependencygraph/graph.go, hasDependencyTimedOut
            "startTimeout": .number(Double(TaskDefinition.sidecarStartTimeout)),
            "stopTimeout": .number(Double(t.stopTimeout)),
            "logConfiguration": logs("crawlrun"),
        ]
        var crawlerEnv: [JSONValue] = [
            env("WEBDRIVER_URL", "http://127.0.0.1:4444"),
            env("CRAWL_WAIT_TIMEOUT", "120"),
        ]
        for (k, v) in t.environment.sorted(by: { $0.key < $1.key }) { crawlerEnv.append(env(k, v)) }
        let crawler: JSONValue = [
            "name": .string(crawlerName),
            "image": .string(t.crawlerImage),
            "essential": true,
            "memoryReservation": .number(Double(crawlerReservation)),
            "dependsOn": [["containerName": .string(sidecarName), "condition": "HEALTHY"]],
            "environment": .array(crawlerEnv),
            "linuxParameters": ["initProcessEnabled": true],
            "stopTimeout": .number(Double(t.stopTimeout)),
            "logConfiguration": logs("crawlrun"),
        ]
        var def: [String: JSONValue] = [
            "family": .string("crawlrun-" + job.name),
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": .string(String(t.cpu)),
            "memory": .string(String(t.memory)),
            "runtimePlatform": ["cpuArchitecture": .string(t.architecture), "operatingSystemFamily": "LINUX"],
            "containerDefinitions": [sidecar, crawler],
        ]
        if let arn = f.executionRoleArn { def["executionRoleArn"] = .string(arn) }
        if let arn = f.taskRoleArn { def["taskRoleArn"] = .string(arn) }
        return .object(def)
    }

    /// The RunTask container overrides for one batch: references only (the batch's location and
    /// where its results go), never the URL list — overrides are capped at 8192 characters.
    public static func overrides(batchLocation: String, outLocation: String) -> JSONValue {
        [
            "containerOverrides": [
                [
                    "name": .string(crawlerName),
                    "environment": [env("CRAWL_BATCH", batchLocation), env("CRAWL_OUT", outLocation)],
                ]
            ]
        ]
    }

    public static let overridesLimit = 8192

    /// A container's environment: the task definition's, then the RunTask overrides' (what ECS
    /// gives the container, and what the local and Docker backends give it too).
    public static func environment(
        of container: String, in definition: JSONValue, overrides: JSONValue
    )
        -> [String: String]
    {
        var env: [String: String] = [:]
        func add(_ list: JSONValue?) {
            for item in list?.arrayValue ?? [] {
                if let name = item["name"]?.stringValue, let value = item["value"]?.stringValue { env[name] = value }
            }
        }
        let named = { (list: JSONValue?) in list?.arrayValue?.first { $0["name"]?.stringValue == container } }
        add(named(definition["containerDefinitions"])?["environment"])
        add(named(overrides["containerOverrides"])?["environment"])
        return env
    }

    static func env(_ name: String, _ value: String) -> JSONValue { ["name": .string(name), "value": .string(value)] }
}
