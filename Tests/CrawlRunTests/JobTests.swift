import CrawlKit
import Foundation
import Testing

@testable import Coordinator
@testable import CrawlRunCLI

@Suite struct JobValidationTests {
    static let fargate =
        #""fargate": {"region": "us-east-1", "subnets": ["subnet-1"], "executionRoleArn": "arn:aws:iam::1:role/e", "taskRoleArn": "arn:aws:iam::1:role/t", "bucket": "b"}"#

    /// (job JSON, backend, the exact problem lines expected).
    static let cases: [(String, Backend, [String])] = [
        (#"{"urls": ["http://a/"], "crawll": {}}"#, .local, [#"crawll: unknown key (did you mean "crawl"?)"#]),
        (
            #"{"urls": ["http://a/"], "crawl": {"pageLoadTimeot": 5}}"#, .local,
            [#"crawl.pageLoadTimeot: unknown key (did you mean "pageLoadTimeout"?)"#]
        ),
        (
            #"{"urls": ["http://a/"], "crawl": {"pageLoadTimeout": "5"}}"#, .local,
            [#"crawl.pageLoadTimeout: expected a number, found the string "5""#]
        ),
        (
            #"{"urls": ["http://a/"], "crawl": {"pageLoadTimeout": 0}}"#, .local,
            ["crawl.pageLoadTimeout: must be between 0.1 and 600, found 0"]
        ),
        (
            #"{"urls": ["http://a/"], "crawl": {"sessions": 2.5}}"#, .local,
            ["crawl.sessions: expected an integer, found a number"]
        ),
        (
            #"{"urls": ["http://a/"], "crawl": {"maxAttempts": 11}}"#, .local,
            ["crawl.maxAttempts: must be between 1 and 10, found 11"]
        ),
        (
            #"{"urls": ["http://a/"], "crawl": {"screenshot": "onerror"}}"#, .local,
            [#"crawl.screenshot: "onerror" is not one of never, onError, always (did you mean "onError"?)"#]
        ),
        (
            #"{"urls": ["http://a/"], "crawl": {"webdriver": "websocket"}}"#, .local,
            [#"crawl.webdriver: "websocket" is not one of auto, bidi, classic"#]
        ),
        (
            #"{"urls": ["http://a/"], "crawl": {"fields": {"p": {"attr": "href"}}}}"#, .local,
            ["crawl.fields.p.selector: required key is missing"]
        ),
        (
            #"{"urls": ["http://a/"], "crawl": {"fields": {"p": 3}}}"#, .local,
            ["crawl.fields.p: expected an object, found a number"]
        ),
        (
            #"{"urls": ["http://a/"], "crawl": {"allowPrivateNetworks": "yes"}}"#, .local,
            [#"crawl.allowPrivateNetworks: expected true or false, found the string "yes""#]
        ),
        (#"{"urls": "http://a/"}"#, .local, [#"urls: expected an array, found the string "http://a/""#]),
        (#"{"crawl": {}}"#, .local, ["urls: required: give urls (a list) or urlsFile (a path)"]),
        (#"{"urls": [], "urlsFile": "x.txt"}"#, .local, ["urlsFile: give urls or urlsFile, not both"]),
        (#"{"urlsFile": "missing.txt"}"#, .local, ["urlsFile: DIR/missing.txt does not exist"]),
        (
            #"{"urls": ["http://a/"], "batching": {"batchSize": 10, "tasks": 3}}"#, .local,
            ["batching.tasks: give batchSize or tasks, not both"]
        ),
        (
            #"{"urls": ["http://a/"], "batching": {"batchSize": 0}}"#, .local,
            ["batching.batchSize: must be between 1 and 100000, found 0"]
        ),
        (
            #"{"urls": ["http://a/"], "task": {"cpu": 1024, "memory": 1024}}"#, .local,
            ["task.memory: 1024 MiB is not valid with cpu 1024; choose 2048–8192 in steps of 1024"]
        ),
        (
            #"{"urls": ["http://a/"], "task": {"cpu": 300, "memory": 1024}}"#, .local,
            ["task.cpu: 300 is not a Fargate cpu value; choose one of 256, 512, 1024, 2048, 4096, 8192, 16384"]
        ),
        (
            #"{"urls": ["http://a/"], "task": {"architecture": "arm64"}}"#, .local,
            [#"task.architecture: "arm64" is not one of X86_64, ARM64 (did you mean "ARM64"?)"#]
        ),
        (
            #"{"urls": ["http://a/"], "task": {"stopTimeout": 300}}"#, .local,
            ["task.stopTimeout: must be between 2 and 120, found 300"]
        ),
        (
            #"{"name": "my job!", "urls": ["http://a/"]}"#, .local,
            ["name: use letters, digits, - and _ only (it names the ECS task definition family)"]
        ),
        (
            #"{"urls": ["http://a/"]}"#, .fargate,
            ["fargate: required for the fargate backend (subnets, roles, bucket…)"]
        ),
        (
            #"{"urls": ["http://a/"], "fargate": {"region": "us-east-1", "subnets": [], "executionRoleArn": "arn:aws:iam::1:role/e", "taskRoleArn": "role/t", "bucket": "b"}}"#,
            .fargate,
            [
                "fargate.subnets: required for the fargate backend: at least one subnet id",
                #"fargate.taskRoleArn: "role/t" is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"#,
            ]
        ),
        (
            // Issue 19 item 12: ARM64 on FARGATE_SPOT needs platform 1.4.0+ (LATEST, the default, is).
            #"{"urls": ["http://a/"], "task": {"architecture": "ARM64"}, "fargate": {"region": "us-east-1", "subnets": ["subnet-1"], "executionRoleArn": "arn:aws:iam::1:role/e", "taskRoleArn": "arn:aws:iam::1:role/t", "bucket": "b", "platformVersion": "1.3.0", "capacityProviders": [{"provider": "FARGATE_SPOT", "weight": 1}]}}"#,
            .fargate,
            [
                "fargate.platformVersion: FARGATE_SPOT runs ARM64 tasks on platform version 1.4.0 or later, not 1.3.0; set it to LATEST or 1.4.0"
            ]
        ),
        (
            #"{"urls": ["http://a/"], "fargate": {"region": "us-east-1", "subnets": ["sn-1"], "executionRoleArn": "arn:aws:iam::1:role/e", "taskRoleArn": "arn:aws:iam::1:role/t"}}"#,
            .fargate,
            [
                #"fargate.subnets[0]: "sn-1" is not a subnet id (subnet-…)"#,
                "fargate.bucket: required for the fargate backend: batches and results travel through S3",
            ]
        ),
        (
            "{\"urls\": [", .local,
            ["line 1, column 11: the file ends inside the array opened at line 1, column 10: a ] is missing"]
        ),
    ]

    @Test(arguments: cases.indices)
    func badJobFiles(index: Int) throws {
        let (text, backend, expected) = Self.cases[index]
        let dir = tempDir("job")
        let path = dir + "/job.json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: JobError.self) { _ = try Job.load(path: path, backend: backend) }
        let got = (error?.problems ?? []).map { $0.description.replacingOccurrences(of: dir, with: "DIR") }
        #expect(got == expected)
    }

    /// Issue 19 item 12: ARM64 with FARGATE_SPOT runs on platform 1.4.0 and later (LATEST).
    @Test func arm64OnFargateSpotIsAllowed() throws {
        for version in ["LATEST", "1.4.0"] {
            let doc =
                #"{"urls": ["http://a/"], "task": {"architecture": "ARM64"}, "fargate": {"region": "us-east-1", "subnets": ["subnet-1"], "executionRoleArn": "arn:aws:iam::123456789012:role/e", "taskRoleArn": "arn:aws:iam::123456789012:role/t", "bucket": "b", "platformVersion": "\#(version)", "capacityProviders": [{"provider": "FARGATE_SPOT", "weight": 1}]}}"#
            let job = try Job.parse(Data(doc.utf8), path: "job.json", backend: .fargate)
            #expect(job.task.architecture == "ARM64" && job.fargate.capacityProviders.first?.provider == "FARGATE_SPOT")
        }
    }

    @Test func everyMistakeIsReportedAtOnce() throws {
        let dir = tempDir("job")
        let path = dir + "/job.json"
        try
            #"{"urls": ["http://a/", "ftp://b/", "not a url"], "crawl": {"sesions": 2, "maxAttempts": 0}, "task": {"cpu": 1024, "memory": 512}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: JobError.self) { _ = try Job.load(path: path, backend: .local) }
        #expect(
            error?.problems.map(\.place) == ["crawl.maxAttempts", "crawl.sesions", "task.memory", "urls[1]", "urls[2]"])
        // In a job without other mistakes, URL problems come from the planner's pass.
        try #"{"urls": ["http://a/", "ftp://b/", "not a url"]}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let job = try Job.load(path: path, backend: .local)
        let urlError = #expect(throws: JobError.self) { _ = try Planner(job: job).check() }
        #expect(
            urlError?.problems.map(\.description) == [
                #"urls[1]: "ftp://b/": scheme ftp is not crawled (http or https only)"#,
                #"urls[2]: "not a url" is not a valid URL"#,
            ])
    }

    @Test func urlListErrorsNameFileAndLine() throws {
        let dir = tempDir("job")
        try "# comment\nhttp://a/1\n\n  mailto:x@y  \nhttp://a/2\n".write(
            toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        try #"{"urlsFile": "urls.txt"}"#.write(toFile: dir + "/job.json", atomically: true, encoding: .utf8)
        let job = try Job.load(path: dir + "/job.json", backend: .local)
        let error = #expect(throws: JobError.self) { _ = try Planner(job: job).check() }
        #expect(error?.problems.map(\.place) == ["\(dir)/urls.txt:4"])
    }
}

@Suite struct PlannerTests {
    func plan(_ urls: [String], batching: String = "{}") throws -> (PlanSummary, [[String]]) {
        let dir = tempDir("plan")
        let list = urls.map { "\"\($0)\"" }.joined(separator: ",")
        try #"{"urls": [\#(list)], "batching": \#(batching)}"#.write(
            toFile: dir + "/j.json", atomically: true, encoding: .utf8)
        let planner = Planner(job: try Job.load(path: dir + "/j.json", backend: .local))
        let summary = try planner.check()
        var batches: [[String]] = []
        planner.assign(summary: summary) { i, u in
            if batches.count <= i { batches.append([]) }
            batches[i].append(u)
        }
        return (summary, batches)
    }

    @Test func normalisesAndDeduplicates() throws {
        let n = URLNormalizer(removeTrackingParameters: true)
        #expect(
            try n.normalize("HTTP://Example.COM:80/a?utm_source=x&id=3#top").get().url == "http://example.com/a?id=3")
        #expect(try n.normalize("https://example.com:443").get().url == "https://example.com/")
        #expect(try n.normalize("https://example.com:8443/p").get().url == "https://example.com:8443/p")
        let (s, b) = try plan(["http://a/1", "HTTP://A/1", "http://a/1#x", "http://a/2"])
        #expect(s.inputURLs == 4 && s.distinctURLs == 2 && s.duplicates == 2)
        #expect(b == [["http://a/1", "http://a/2"]], "the first spelling is kept")
    }

    @Test func balancedDeterministicBatches() throws {
        let urls = (1...103).map { "http://h\($0 % 7)/p\($0)" }
        let (s, b) = try plan(urls, batching: #"{"batchSize": 25}"#)
        #expect(s.batchCount == 5)
        #expect(b.map(\.count) == [21, 21, 21, 20, 20])
        #expect(b.flatMap { $0 } == urls, "every URL exactly once, in order")
        #expect(try plan(urls, batching: #"{"batchSize": 25}"#).1 == b)
        #expect(Planner.batchID(0, of: 5) == "0001" && Planner.batchID(12344, of: 20000) == "12345")
        let (t, byTasks) = try plan(urls, batching: #"{"tasks": 4}"#)
        #expect(t.batchCount == 4 && byTasks.map(\.count) == [26, 26, 26, 25])
    }

    @Test func groupByHostKeepsHostsTogether() throws {
        let urls = (0..<40).map { "http://h\($0 % 4)/p\($0)" }
        let (_, b) = try plan(urls, batching: #"{"batchSize": 10, "groupByHost": true}"#)
        #expect(b.count == 4 && Set(b.flatMap { $0 }) == Set(urls))
        for batch in b { #expect(Set(batch.map { URL(string: $0)?.host ?? "" }).count == 1) }
    }

    @Test func taskDefinitionHasBothContainers() throws {
        let dir = tempDir("td")
        try FileManager.default.copyItem(atPath: packageRoot + "/jobs/fargate-example.json", toPath: dir + "/job.json")
        try FileManager.default.copyItem(atPath: packageRoot + "/jobs/demo-urls.txt", toPath: dir + "/demo-urls.txt")
        let job = try Job.load(path: dir + "/job.json", backend: .fargate)
        let td = TaskDefinition.render(job)
        #expect(td["family"] == "crawlrun-catalog-crawl" && td["networkMode"] == "awsvpc")
        #expect(td["requiresCompatibilities"] == ["FARGATE"] && td["cpu"] == "1024" && td["memory"] == "4096")
        let containers = td["containerDefinitions"]?.arrayValue ?? []
        #expect(containers.map { $0["name"] } == ["webdriver", "crawler"])
        let sidecar = containers[0]
        #expect(sidecar["portMappings"]?.arrayValue?.first?["containerPort"] == 4444)
        #expect(sidecar["healthCheck"]?["command"]?.arrayValue?.last?.stringValue?.contains("/status") == true)
        #expect(sidecar["environment"]?.arrayValue?.contains(["name": "SE_NODE_MAX_SESSIONS", "value": "2"]) == true)
        let crawler = containers[1]
        #expect(crawler["dependsOn"] == [["containerName": "webdriver", "condition": "HEALTHY"]])
        #expect(crawler["logConfiguration"]?["logDriver"] == "awslogs")
        let overrides = TaskDefinition.overrides(
            batchLocation: "s3://b/p/run/batches/0001.json", outLocation: "s3://b/p/run/results/0001.jsonl")
        #expect(overrides.encoded().count < TaskDefinition.overridesLimit)
    }
}
