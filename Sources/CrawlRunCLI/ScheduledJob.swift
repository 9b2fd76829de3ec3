import AWS
import CrawlKit
import FargateBackend
import Foundation
import JSONKit

/// What `crawlrun schedule` puts on S3 for a job, and the RunTask a schedule makes.
enum ScheduledJob {
    /// The job file and its urlsFile (renamed to its base name beside the job), keyed by the
    /// SHA-256 of both: the same job uploads to the same keys.
    static func files(job: Job, path: String) throws -> (jobKey: String, objects: [(String, Data)]) {
        guard let source = FileManager.default.contents(atPath: path),
            case .object(var root) = try? JSONValue.decode(source)
        else { throw JobError(file: path, problems: [JobProblem("job", "cannot be read")]) }
        var list: (name: String, body: Data)?
        if let file = job.urlsFile {
            guard let body = FileManager.default.contents(atPath: file) else {
                throw JobError(file: path, problems: [JobProblem("urlsFile", "\(file) cannot be read")])
            }
            let name = file.split(separator: "/").last.map(String.init) ?? "urls.txt"
            root["urlsFile"] = .string(name)
            list = (name, body)
        }
        let jobBody = JSONValue.object(root).encoded()
        let hash = SHA256.hex([UInt8](jobBody) + [UInt8](list?.body ?? Data()))
        let key = CoordinatorTask.jobKey(job, contentHash: hash)
        var objects = [(key, jobBody)]
        if let list {
            objects.append((key.split(separator: "/").dropLast().joined(separator: "/") + "/" + list.name, list.body))
        }
        return (key, objects)
    }

    /// The RunTask EventBridge Scheduler makes for `target` (its EcsParameters).
    static func runTask(_ target: ScheduleTarget) -> RunTaskRequest {
        var request = RunTaskRequest(cluster: target.clusterArn, taskDefinition: target.taskDefinitionArn)
        request.network = AwsVpcConfiguration(
            subnets: target.subnets, securityGroups: target.securityGroups, assignPublicIp: target.assignPublicIp)
        request.platformVersion = target.platformVersion
        request.startedBy = "crawlrun-schedule"
        return request
    }
}
