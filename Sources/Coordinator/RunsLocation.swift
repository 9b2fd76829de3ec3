import CrawlKit

/// Where runs live: a folder on this machine, or a prefix in an S3 bucket (`--runs-dir
/// s3://BUCKET/PREFIX`). Parsed once, here, for every command that takes a runs directory or a
/// run: a value that starts like a URL but is not `s3://bucket[/prefix]` is a mistake named in
/// one sentence, never a local folder called `s3:`.
public enum RunsLocation: Sendable, Equatable, CustomStringConvertible {
    case disk(String)
    /// `prefix` has no leading or trailing slash; it may be empty (the bucket's root).
    case s3(bucket: String, prefix: String)

    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// `--runs-dir VALUE`.
    public static func parse(_ value: String, option: String = "--runs-dir") throws(Problem) -> RunsLocation {
        let lower = value.lowercased()
        guard lower.hasPrefix("s3:") || value.contains("://") else {
            guard !value.isEmpty else {
                throw Problem(message: "\(option) is empty; give a folder or s3://BUCKET/PREFIX")
            }
            return .disk(value)
        }
        let expected = "expected s3://BUCKET/PREFIX (a bucket name, then an optional key prefix)"
        guard value.hasPrefix("s3://") else {
            throw Problem(message: "\(option) \(value) is not a runs directory: \(expected)")
        }
        let rest = value.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        guard !bucket.isEmpty else {
            throw Problem(message: "\(option) \(value) names no bucket: \(expected)")
        }
        if let why = bucketProblem(bucket) {
            throw Problem(message: "\(option) \(value): \"\(bucket)\" is not a valid S3 bucket name (\(why))")
        }
        var prefix = String(rest.dropFirst(bucket.count))
        while prefix.hasPrefix("/") { prefix.removeFirst() }
        while prefix.hasSuffix("/") { prefix.removeLast() }
        let parts = prefix.split(separator: "/", omittingEmptySubsequences: false)
        if !prefix.isEmpty, parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            throw Problem(message: "\(option) \(value): the key prefix has an empty, \".\" or \"..\" part; \(expected)")
        }
        return .s3(bucket: bucket, prefix: prefix)
    }

    /// A run given by its place (`resume`, `stop`): a run directory on disk, or
    /// `s3://BUCKET/PREFIX/RUN-ID`. Nil for a disk path (the caller keeps its own handling).
    public static func parseRun(_ value: String) throws(Problem) -> (location: RunsLocation, id: String)? {
        guard value.lowercased().hasPrefix("s3:") || value.contains("://") else { return nil }
        let location = try parse(value, option: "the run")
        guard case .s3(let bucket, let prefix) = location, !prefix.isEmpty else {
            throw Problem(message: "\(value) names no run: expected s3://BUCKET/PREFIX/RUN-ID")
        }
        let id = String(prefix.split(separator: "/").last ?? "")
        guard RunLayout.isRunID(id) else {
            throw Problem(
                message: "\(value) names no run: its last part \"\(id)\" is not a run id (YYYYMMDD-HHMMSS-xxxx)")
        }
        let parent = prefix.split(separator: "/").dropLast().joined(separator: "/")
        return (.s3(bucket: bucket, prefix: parent), id)
    }

    /// S3's rules for general purpose bucket names, the ones a typo breaks.
    /// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
    static func bucketProblem(_ name: String) -> String? {
        guard (3...63).contains(name.count) else { return "3 to 63 characters" }
        let allowed = name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-"
        }
        guard allowed else { return "lowercase letters, digits, dots and hyphens only" }
        guard let first = name.first, let last = name.last, first.isLetter || first.isNumber,
            last.isLetter || last.isNumber
        else { return "it must begin and end with a letter or a digit" }
        return nil
    }

    public var isS3: Bool { if case .s3 = self { true } else { false } }

    /// The value as a user writes it (messages, and the runs "directory" a display layout shows).
    public var description: String {
        switch self {
        case .disk(let path): return path
        case .s3(let bucket, let prefix): return "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)")
        }
    }
}
