import CrawlKit
import Foundation

/// crawlrun's exit codes (DESIGN.md).
public enum ExitCode: Int32, Sendable {
    case ok = 0, someFailed = 1, infrastructure = 2, usage = 64, invalidJob = 65, interrupted = 130
}

public struct UsageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// The command-line front end: picks a command, maps errors to exit codes, prints errors once.
public enum CLI {
    public static let usage = """
        usage: crawlrun <command> [options]

        commands:
          run JOB [--max-tasks N] [--runs-dir DIR] [--quiet] [--json]
                   run the job: a task per batch, retries, results in runs/<run-id>/
          crawl URL… [--field NAME=SELECTOR[@ATTR]] …
                   crawl URLs without a job file; JSON Lines on standard output
          plan JOB [--backend local|docker|fargate] [--json]
                   show the batches, task definition and estimate without launching anything
          iam-policy JOB [--json]
                   print the least-privilege IAM policies a Fargate run of JOB needs
          doctor JOB
                   check credentials, cluster, log group, bucket and task definition for a Fargate run
          help     show this help (also: crawlrun <command> --help)

        Exit codes: 0 ok · 1 some URLs failed · 2 run could not finish · 64 usage error ·
        65 invalid job file · 130 interrupted.
        """

    public static func main(_ arguments: [String]) async -> Int32 {
        var args = Array(arguments.dropFirst())
        guard let command = args.first else {
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            return ExitCode.usage.rawValue
        }
        args.removeFirst()
        do {
            switch command {
            case "help", "--help", "-h":
                print(usage)
                return 0
            case "plan":
                return try PlanCommand(arguments: args).run().rawValue
            case "run":
                return try await RunCommand(arguments: args).run().rawValue
            case "crawl":
                return try await CrawlCommand(arguments: args).run().rawValue
            case "iam-policy":
                return try IAMPolicyCommand(arguments: args).run().rawValue
            case "doctor":
                return try await DoctorCommand(arguments: args).run().rawValue
            default:
                throw UsageError("unknown command \"\(command)\"; commands: run, crawl, plan, iam-policy, doctor, help")
            }
        } catch let error as UsageError {
            FileHandle.standardError.write(
                Data("crawlrun: \(error.description)\n(see crawlrun \(command) --help)\n".utf8))
            return ExitCode.usage.rawValue
        } catch let error as JobError {
            FileHandle.standardError.write(Data("crawlrun: invalid job file \(error.description)\n".utf8))
            return ExitCode.invalidJob.rawValue
        } catch let error as RunFailure {
            FileHandle.standardError.write(Data("crawlrun: the run could not go on: \(error)\n".utf8))
            return ExitCode.infrastructure.rawValue
        } catch {
            FileHandle.standardError.write(Data("crawlrun: \(error)\n".utf8))
            return ExitCode.infrastructure.rawValue
        }
    }
}

/// Buffered standard output for large documents (a million-URL plan).
struct OutputBuffer {
    private var bytes: [UInt8] = []
    init() { bytes.reserveCapacity(1 << 16) }
    mutating func write(_ s: String) {
        bytes.append(contentsOf: s.utf8)
        if bytes.count >= 1 << 16 { flush() }
    }
    mutating func write(_ b: [UInt8]) {
        bytes.append(contentsOf: b)
        if bytes.count >= 1 << 16 { flush() }
    }
    mutating func flush() {
        writeAll(1, bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
