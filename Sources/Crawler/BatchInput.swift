import AWS
import CrawlKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads and checks the batch file; every problem names the file.
public enum BatchInput {
    /// A batch from a path, a `file://` URI, or an `s3://` object read through `s3`.
    public static func load(
        _ location: String, s3: S3Client?
    ) async throws(CrawlerFailure)
        -> BatchFile
    {
        guard let object = try CrawlerSettings.s3Location(location, what: "CRAWL_BATCH") else {
            return try load(location)
        }
        guard let client = s3 else {
            throw CrawlerFailure(.badInput, "batch file \(object): no S3 client configured")
        }
        do {
            return try decode(try await client.getObject(object), name: object.description)
        } catch let error as AWSError {
            // A missing batch is bad input (exit 65); anything else is the storage's failure.
            let missing = error.code == "NoSuchKey" || error.code == "NoSuchBucket"
            throw CrawlerFailure(
                missing ? .badInput : .internalError, "batch file \(object) cannot be read: \(error)")
        } catch let error as CrawlerFailure {
            throw error
        } catch {
            throw CrawlerFailure(.internalError, "batch file \(object): \(error)")
        }
    }

    /// A batch from a path or `file://` URI.
    public static func load(_ location: String) throws(CrawlerFailure) -> BatchFile {
        let path = try CrawlerSettings.localPath(location, what: "CRAWL_BATCH")
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw CrawlerFailure(.badInput, "batch file \(path) \(reason)")
        }
        return try decode(data, name: path)
    }

    static func decode(_ data: Data, name: String) throws(CrawlerFailure) -> BatchFile {
        let batch: BatchFile
        do {
            batch = try JSONDecoder().decode(BatchFile.self, from: data)
        } catch {
            throw CrawlerFailure(.badInput, "batch file \(name): \(describeDecodingError(error))")
        }
        if let problem = batch.crawl.rangeProblems().first {
            throw CrawlerFailure(.badInput, "batch file \(name): crawl.\(problem.key) \(problem.message)")
        }
        if batch.batch.isEmpty || batch.batch.contains("/") {
            throw CrawlerFailure(.badInput, "batch file \(name): batch must be a non-empty name without '/'")
        }
        return batch
    }
}
