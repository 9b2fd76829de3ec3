import AWS
import Coordinator
import CrawlKit
import Foundation
import JSONKit

/// `crawlrun run s3://BUCKET/KEY.json`: the job file (and its `urlsFile`, a key beside it) copied
/// into a local folder, so the job is read exactly as a local one. What the coordinator task runs
/// (`crawlrun schedule` uploads both; CoordinatorTask.jobKey).
enum JobDownload {
    /// The local path of the job; `path` itself when it is not an s3:// URI.
    static func localPath(_ path: String) async throws -> String {
        guard path.hasPrefix("s3://") else { return path }
        guard let location = S3Location(uri: path), location.key.hasSuffix(".json") else {
            throw JobError(file: path, problems: [JobProblem("job", "expected s3://BUCKET/KEY.json")])
        }
        let variables = ProcessInfo.processInfo.environment
        let s3 = AWSServices(region: AWSEnvironment(variables).region() ?? "us-east-1", variables: variables).s3
        let folder = try RemoteRun.scratchDirectory()
        let body = try await fetch(s3, location, job: path)
        let local = folder + "/" + (location.key.split(separator: "/").last.map(String.init) ?? "job.json")
        try write(body, to: local)
        // A relative urlsFile lives beside the job on S3 as it does on disk.
        if let list = (try? JSONValue.decode(body))?["urlsFile"]?.stringValue, !list.hasPrefix("/"),
            !list.contains("..")
        {
            let directory = location.key.split(separator: "/").dropLast().joined(separator: "/")
            let key = directory.isEmpty ? list : directory + "/" + list
            let urls = try await fetch(s3, S3Location(bucket: location.bucket, key: key), job: path)
            try FileManager.default.createDirectory(
                atPath: Paths.directory(of: folder + "/" + list), withIntermediateDirectories: true)
            try write(urls, to: folder + "/" + list)
        }
        return local
    }

    static func fetch(_ s3: S3Client, _ location: S3Location, job: String) async throws -> Data {
        do {
            return try await s3.getObject(location)
        } catch {
            let what = location.description == job ? "the job file" : "urlsFile \(location)"
            throw JobError(file: job, problems: [JobProblem("job", "\(what) cannot be read from S3: \(error.message)")])
        }
    }

    static func write(_ data: Data, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw RunFailure("cannot write \(path)")
        }
    }
}
