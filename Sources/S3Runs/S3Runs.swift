import AWS
import Coordinator
import CrawlKit
import Foundation

/// A runs directory on S3 (`--runs-dir s3://BUCKET/PREFIX`): what the commands read there —
/// the runs, a run's state, its whole directory for `resume`, the job's lease, stop requests.
public struct S3Runs: Sendable {
    public let s3: S3Client
    public let bucket: String
    public let prefix: String

    public init(s3: S3Client, bucket: String, prefix: String) {
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
    }

    public var description: String { RunsLocation.s3(bucket: bucket, prefix: prefix).description }

    func location(run: String, _ name: String) -> S3Location {
        S3Location(bucket: bucket, key: RunLayout.key(prefix: prefix, run: run, name))
    }

    func failure(_ error: AWSError, _ what: String) -> RunFailure {
        if error.code == "NoSuchBucket" {
            return RunFailure(
                "the bucket \(bucket) does not exist (--runs-dir \(description)); create it or name another")
        }
        return RunFailure(what, error: error)
    }

    /// The runs' ids (by their shape), newest first: one ListObjectsV2 with a delimiter per page
    /// of 1,000 runs, not a listing of every file.
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html (Delimiter, CommonPrefixes)
    public func runIDs() async throws(RunFailure) -> [String] {
        let base = prefix.isEmpty ? "" : prefix + "/"
        var ids: [String] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("delimiter", "/"), ("prefix", base)]
            if let token { query.append(("continuation-token", token)) }
            let r: Data
            do {
                r = try await s3.send("GET", bucket, key: "", query: query, operation: "ListObjectsV2").body
            } catch {
                throw failure(error, "cannot list \(description)")
            }
            let xml = XMLText(r)
            for p in xml.all("CommonPrefixes") {
                guard let full = p.first("Prefix") else { continue }
                let id = String(full.dropFirst(base.count).dropLast(full.hasSuffix("/") ? 1 : 0))
                if RunLayout.isRunID(id) { ids.append(id) }
            }
            token = xml.first("IsTruncated") == "true" ? xml.first("NextContinuationToken") : nil
        } while token != nil
        return ids.sorted(by: >)
    }

    /// A run's state.json; nil when the run has none.
    public func state(run: String) async throws(RunFailure) -> RunState? {
        let found: (body: Data, eTag: String?)?
        do {
            found = try await s3.getObjectIfPresent(location(run: run, RunLayout.state))
        } catch {
            throw failure(error, "cannot read \(location(run: run, RunLayout.state))")
        }
        guard let found else { return nil }
        do {
            return try JSONDecoder().decode(RunState.self, from: found.body)
        } catch {
            throw RunFailure("cannot read \(location(run: run, RunLayout.state))", error: error)
        }
    }

    /// The job's lease as it is now (nil: none).
    public func lease(job: String) async throws(RunFailure) -> JobLease? {
        let key = S3Location(bucket: bucket, key: RunLayout.leaseKey(prefix: prefix, job: job))
        do {
            return try await s3.getObjectIfPresent(key).flatMap {
                try? JSONDecoder().decode(JobLease.self, from: $0.body)
            }
        } catch {
            throw failure(error, "cannot read \(key)")
        }
    }

    /// Copies the run's files into `layout`'s local directory (resume, stop): every file of the
    /// layout, and results.jsonl followed by the pieces uploaded after it was last whole.
    public func download(run: String, into layout: RunLayout) async throws(RunFailure) {
        let root = RunLayout.key(prefix: prefix, run + "/")
        let objects: [S3Object]
        do {
            objects = try await s3.listObjects(bucket: bucket, prefix: root)
        } catch {
            throw failure(error, "cannot list \(description)/\(run)")
        }
        var pieces: [String] = []
        let files = objects.map { String($0.key.dropFirst(root.count)) }.filter { name in
            if name.hasPrefix(RunLayout.resultPieces + "/") {
                pieces.append(name)
                return false
            }
            return name != RunLayout.stopRequest && !name.isEmpty && !name.hasSuffix("/")
        }
        for sub in RunLayout.directories {
            try? FileManager.default.createDirectory(atPath: layout.path(sub), withIntermediateDirectories: true)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            for name in files {
                if running == 16 {
                    try await group.next()
                    running -= 1
                }
                group.addTask { try await self.fetch(run: run, name, to: layout.path(name)) }
                running += 1
            }
            try await group.waitForAll()
        } catchAs: {
            $0
        }
        guard !pieces.isEmpty else { return }
        guard
            let handle = FileHandle(forWritingAtPath: layout.resultsPath)
                ?? {
                    FileManager.default.createFile(atPath: layout.resultsPath, contents: nil)
                    return FileHandle(forWritingAtPath: layout.resultsPath)
                }()
        else { throw RunFailure("cannot write \(layout.resultsPath)") }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        for name in pieces.sorted() {
            let data: Data
            do {
                data = try await s3.getObject(location(run: run, name))
            } catch {
                throw failure(error, "cannot read \(location(run: run, name))")
            }
            handle.write(data)
        }
    }

    func fetch(run: String, _ name: String, to path: String) async throws(RunFailure) {
        let data: Data
        do {
            data = try await s3.getObject(location(run: run, name))
        } catch {
            throw failure(error, "cannot read \(location(run: run, name))")
        }
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw RunFailure("cannot write \(path)")
        }
    }

    // MARK: - Stop requests

    /// Asks the run's coordinator, wherever it runs, to stop (`crawlrun stop s3://…/RUN-ID`).
    public func requestStop(run: String) async throws(RunFailure) {
        let body = Data("{\"requestedAt\":\"\(Timestamp.now())\"}\n".utf8)
        do {
            try await s3.putObject(
                location(run: run, RunLayout.stopRequest), body: body, contentType: "application/json")
        } catch {
            throw failure(error, "cannot write \(location(run: run, RunLayout.stopRequest))")
        }
    }

    public func stopRequested(run: String) async -> Bool {
        ((try? await s3.headObject(location(run: run, RunLayout.stopRequest))) ?? nil) != nil
    }

    public func clearStopRequest(run: String) async {
        try? await s3.deleteObject(location(run: run, RunLayout.stopRequest))
    }
}

/// Runs a throwing group body and maps what it throws to a `RunFailure`.
func withThrowingTaskGroup(
    of: Void.Type, body: (inout ThrowingTaskGroup<Void, any Error>) async throws -> Void,
    catchAs: (RunFailure) -> RunFailure
) async throws(RunFailure) {
    do {
        try await withThrowingTaskGroup(of: Void.self, returning: Void.self) { group in try await body(&group) }
    } catch let error as RunFailure {
        throw catchAs(error)
    } catch {
        throw RunFailure("\(error)")
    }
}
