import AWS
import Coordinator
import CrawlKit
import Foundation

/// `crawlrun export RUN`: a run's results as CSV or flat JSON Lines (`ResultExport`), from a
/// local run directory or an S3 one.
struct ExportCommand: Command {
    static let name = "export"
    static let arguments = ArgumentSpec(
        flags: ["--explode"], options: ["--format", "--fields", "--separator", "--output"], aliases: ["-o": "--output"],
        positionals: 1...1, positionalName: "a run directory")
    static let help = """
        usage: crawlrun export RUN [--format csv|jsonl] [--fields NAME,…] [--separator S] [--explode]
                               [--output FILE]

        Writes a run's results (RUN/results.jsonl) as CSV (RFC 4180, the default) or JSON Lines,
        one row per URL, to standard output or FILE. RUN is a run directory (runs/latest, runs/<run-id>),
        a results .jsonl file, or s3://BUCKET/PREFIX/runs/<run-id> (its results.jsonl, read with the
        AWS_* environment's credentials and region).

        Columns: url, ok, status, finalUrl, title, error (the kind), errorMessage, then the fields:
        those --fields names, in that order, else every field of the run, sorted by name.
        A list field (NAME[]) is joined with " | " in CSV (--separator changes it) and stays an
        array in JSON Lines; --explode gives one row per item instead (several lists side by side).

        Exit codes: 0 written · 2 the results cannot be read · 64 usage (an unknown field too).
        """

    let source: String
    let export: ResultExport
    let output: String?

    init(_ parsed: ParsedArguments) throws(UsageError) {
        source = parsed.positionals[0]
        let names: [String] = ResultExport.Format.allCases.map { $0.rawValue }
        let chosen: ResultExport.Format? = try parsed.choice("--format", ResultExport.Format.self, names: names)
        let format: ResultExport.Format = chosen ?? .csv
        var fields: [String]?
        if let list = parsed.value("--fields") {
            let given: [String] = list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            guard !given.isEmpty, given.allSatisfy({ !$0.isEmpty }) else {
                throw UsageError("--fields takes field names separated by commas, as in price,tags")
            }
            fields = given
        }
        let separator = parsed.value("--separator") ?? ResultExport.defaultSeparator
        export = ResultExport(format: format, fields: fields, separator: separator, explode: parsed.flag("--explode"))
        output = parsed.value("--output")
    }

    func run() async throws -> ExitCode {
        let (data, name) = try await read()
        let records: [ResultRecord]
        do {
            records = try ResultExport.records(data, name: name)
        } catch {
            throw ExportFailure(error.description, cause: nil)
        }
        let bytes: [UInt8]
        do {
            bytes = try export.render(records)  // only an unknown --fields name fails
        } catch {
            throw UsageError(error.description)
        }
        if let output {
            do {
                try Data(bytes).write(to: URL(fileURLWithPath: output), options: .atomic)
            } catch {
                throw ExportFailure("cannot write \(output)", cause: error.localizedDescription)
            }
            StandardError.write("crawlrun: \(records.count) URLs from \(name) written to \(output)\n")
        } else {
            StandardOutput.write(bytes)
        }
        return .ok
    }

    /// The results file's bytes and its name for messages.
    func read() async throws -> (Data, String) {
        if source.hasPrefix("s3://") {
            guard let location = S3Location(uri: source), !location.bucket.isEmpty else {
                throw UsageError("\"\(source)\" is not an S3 location: write s3://BUCKET/PREFIX/runs/<run-id>")
            }
            var key = location.key
            while key.hasSuffix("/") { key.removeLast() }
            if !key.hasSuffix(".jsonl") { key += (key.isEmpty ? "" : "/") + RunLayout.results }
            let object = S3Location(bucket: location.bucket, key: key)
            let variables = ProcessInfo.processInfo.environment
            let region: String = AWSEnvironment(variables).region() ?? "us-east-1"
            let aws = AWSServices(region: region, variables: variables)
            do {
                let data: Data = try await aws.s3.getObject(object)
                return (data, object.description)
            } catch {
                let missing: Bool = error.httpStatus == 404 || error.code == "NoSuchKey"
                if missing {
                    throw ExportFailure(object.description + " does not exist (is the run finished?)", cause: nil)
                }
                throw ExportFailure("cannot read " + object.description, cause: error.description)
            }
        }
        var isDirectory: ObjCBool = false
        let path: String
        if FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), !isDirectory.boolValue {
            path = source
        } else {
            path = RunLayout(directory: source).resultsPath
        }
        guard FileManager.default.fileExists(atPath: path) else {
            if FileManager.default.fileExists(atPath: source) {
                throw UsageError(source + " has no " + RunLayout.results + " (the run has not merged its results yet)")
            }
            throw UsageError(source + " does not exist: give a run directory (runs/latest), a .jsonl file or s3://…")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ExportFailure("cannot read \(path)", cause: nil)
        }
        return (data, path)
    }
}

/// The results could not be read or written (exit 2).
struct ExportFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String, cause: String?) { description = cause.map { "\(message): \($0)" } ?? message }
}
