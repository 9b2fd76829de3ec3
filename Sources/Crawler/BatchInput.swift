import CrawlKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads and checks the batch file; every problem names the file.
public enum BatchInput {
    public static func load(_ location: String) throws(CrawlerFailure) -> BatchFile {
        let path = try CrawlerSettings.localPath(location, what: "CRAWL_BATCH")
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw CrawlerFailure(.badInput, "batch file \(path) \(reason)")
        }
        let batch: BatchFile
        do {
            batch = try JSONDecoder().decode(BatchFile.self, from: data)
        } catch {
            throw CrawlerFailure(.badInput, "batch file \(path): \(describeDecodingError(error))")
        }
        if let problem = batch.crawl.rangeProblems().first {
            throw CrawlerFailure(.badInput, "batch file \(path): crawl.\(problem.key) \(problem.message)")
        }
        if batch.batch.isEmpty || batch.batch.contains("/") {
            throw CrawlerFailure(.badInput, "batch file \(path): batch must be a non-empty name without '/'")
        }
        return batch
    }
}
