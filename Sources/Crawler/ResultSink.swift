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
public actor ResultSink {
    private let fd: Int32
    public let path: String
    /// The folder holding the results file; artifact paths in records are relative to it.
    public let directory: String
    public private(set) var written = 0

    public init(location: String) throws(CrawlerFailure) {
        let path = try CrawlerSettings.localPath(location, what: "CRAWL_OUT")
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
            return relative
        } catch {
            return nil
        }
    }

    public func close() {
        _ = Glibc.close(fd)
    }
}
