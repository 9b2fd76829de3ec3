import AWS
import CrawlKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Appends records to the results file, one write(2) per record as each URL finishes, so a
/// crawler killed at any moment loses at most the URLs in flight. Artifacts go beside it.
/// For an `s3://` destination the file is spooled in a private temporary folder and `publish`
/// uploads it, with the artifacts, when the batch ends.
public actor ResultSink {
    private let fd: Int32
    public let path: String
    /// The folder holding the results file; artifact paths in records are relative to it.
    public let directory: String
    public private(set) var written = 0
    /// Where `publish` uploads the results; nil for a local destination.
    public let upload: S3Location?
    private var artifacts: [String] = []
    /// Set by `close()`: a worker still running after the stop grace (the crawler leaves without
    /// waiting for its in-flight commands) writes nothing more, and never to a reused descriptor.
    private var closed = false

    public init(location: String) throws(CrawlerFailure) {
        upload = try CrawlerSettings.s3Location(location, what: "CRAWL_OUT")
        let path: String
        if upload != nil {
            var template = Array(((ProcessEnvironment.current["TMPDIR"] ?? "/tmp") + "/crawler-XXXXXX").utf8CString)
            guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
                throw CrawlerFailure(
                    .outputFailed, "cannot make a spool folder for \(location): \(String(cString: strerror(errno)))")
            }
            path = String(cString: made) + "/results.jsonl"
        } else {
            path = try CrawlerSettings.localPath(location, what: "CRAWL_OUT")
        }
        let directory = Paths.directory(of: path)
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CrawlerFailure(
                .outputFailed, "results file \(path) cannot be opened: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        self.path = path
        self.directory = directory.isEmpty ? "." : directory
    }

    public func append(_ record: ResultRecord) throws(CrawlerFailure) {
        guard !closed else { return }
        let line = record.jsonLine()
        let ok = line.withUnsafeBytes { buf -> Bool in
            var offset = 0
            while offset < buf.count {
                let n = write(fd, buf.baseAddress.map { $0 + offset }, buf.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        guard ok else {
            throw CrawlerFailure(
                .outputFailed, "results file \(path) cannot be written: \(String(cString: strerror(errno)))")
        }
        written += 1
    }

    /// Writes an artifact (screenshot, page source) under `artifacts/<batch>/`; the path
    /// relative to the results folder, or nil when it could not be written.
    public func saveArtifact(_ data: Data, batch: String, name: String) -> String? {
        let relative = "artifacts/\(batch)/\(name)"
        let folder = directory + "/artifacts/" + batch
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        do {
            try data.write(to: URL(fileURLWithPath: directory + "/" + relative))
            artifacts.append(relative)
            return relative
        } catch {
            return nil
        }
    }

    /// Uploads the results file, then the artifacts beside it (`<folder of the key>/artifacts/…`),
    /// and removes the spool folder. Does nothing for a local destination.
    public func publish(using s3: S3Client?) async throws(CrawlerFailure) {
        guard let upload else { return }
        guard let s3 else { throw CrawlerFailure(.outputFailed, "results \(upload): no S3 client configured") }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let folder = Paths.directory(of: upload.key)
        do {
            for relative in artifacts {
                guard let data = FileManager.default.contents(atPath: directory + "/" + relative) else { continue }
                let key = folder.isEmpty ? relative : folder + "/" + relative
                try await s3.putObject(S3Location(bucket: upload.bucket, key: key), body: data)
            }
            let results = FileManager.default.contents(atPath: path) ?? Data()
            try await s3.putObject(upload, body: results, contentType: "application/x-ndjson")
        } catch {
            throw CrawlerFailure(.outputFailed, "results \(upload) cannot be written: \(error)")
        }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(fd)
    }
}
