import AWS
import Coordinator
import CrawlKit
import Foundation
import S3Runs

/// A run whose runs directory is on S3, seen from the coordinator that drives it: the job's
/// lease, the local working directory the run is mirrored from, the stop requests it obeys.
final class RemoteRun: Sendable {
    let runs: S3Runs
    let lease: S3JobLease
    /// The local directory holding the run's working copy (removed at the end).
    let scratch: String
    let run: String

    init(runs: S3Runs, lease: S3JobLease, scratch: String, run: String) {
        self.runs = runs
        self.lease = lease
        self.scratch = scratch
        self.run = run
    }

    /// The layout as a person sees it: `s3://bucket/prefix/<run-id>/…`.
    var displayLayout: RunLayout { RunLayout(runsDirectory: runs.description, id: run) }
    var layout: RunLayout { RunLayout(runsDirectory: scratch, id: run) }

    func mirror() -> S3RunMirror { S3RunMirror(s3: runs.s3, bucket: runs.bucket, prefix: runs.prefix, layout: layout) }

    /// The S3 client for a runs directory: the job's Region when it names one, else the
    /// environment's. Credentials as for every AWS call (the standard chain).
    static func s3Runs(_ location: RunsLocation, region: String?) -> S3Runs? {
        guard case .s3(let bucket, let prefix) = location else { return nil }
        let variables = ProcessInfo.processInfo.environment
        let region = region ?? AWSEnvironment(variables).region() ?? "us-east-1"
        return S3Runs(s3: AWSServices(region: region, variables: variables).s3, bucket: bucket, prefix: prefix)
    }

    /// A run named as `s3://bucket/prefix/RUN-ID` (`resume`, `stop`): its runs and id; nil for a
    /// run directory on disk.
    static func s3Run(_ argument: String) throws(UsageError) -> (runs: S3Runs, id: String)? {
        let onS3: (location: RunsLocation, id: String)?
        do throws(RunsLocation.Problem) {
            onS3 = try RunsLocation.parseRun(argument)
        } catch {
            throw UsageError(error.message)
        }
        guard let onS3, let runs = s3Runs(onS3.location, region: nil) else { return nil }
        return (runs, onS3.id)
    }

    /// The job's lease for `run`, or nil after saying who holds it (exit 75). `previous`: an
    /// expired lease taken over.
    static func lease(
        _ runs: S3Runs, job: String, run: String, wait: Bool, display: Display
    ) async throws -> (S3JobLease, previous: JobLease?)? {
        let owner = "crawlrun pid \(getpid()) on \(ProcessInfo.processInfo.hostName)"
        do throws(S3JobLease.Failure) {
            let (lease, previous) = try await S3JobLease.acquire(
                s3: runs.s3, bucket: runs.bucket, prefix: runs.prefix, job: job, run: run, owner: owner,
                seconds: JobLease.seconds(environment: ProcessInfo.processInfo.environment), wait: wait,
                waiting: { held in
                    display.note(
                        "job \(job) is already running: \(Self.describe(held)); waiting for it to end (--wait)")
                })
            return (lease, previous)
        } catch .held(let held) {
            StandardError.write(
                "crawlrun: job \(job) is already running: \(describe(held)); not starting another "
                    + "(exit 75; --wait queues behind it)\n")
            return nil
        } catch .io(let failure) {
            throw failure
        }
    }

    static func describe(_ lease: JobLease) -> String {
        "run \(lease.run) (\(lease.owner), lease until \(lease.expires))"
    }

    /// A fresh local directory for the run's working copy.
    static func scratchDirectory() throws(RunFailure) -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((base + "/crawlrun-s3-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
        }
        guard let made else {
            throw RunFailure("cannot create a working directory in \(base)", errno: errno)
        }
        return made
    }

    /// Renews the lease and watches for `crawlrun stop s3://…` (every 2 s) while the run goes.
    func watch(interrupt: @escaping @Sendable (String) -> Void) -> Task<Void, Never> {
        lease.keepRenewing { why in interrupt(why) }
        let runs = self.runs
        let run = self.run
        return Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                if Task.isCancelled { return }
                if await runs.stopRequested(run: run) {
                    await runs.clearStopRequest(run: run)
                    interrupt("crawlrun stop")
                    return
                }
            }
        }
    }

    /// The end: the lease goes (the next coordinator starts at once), the working copy too.
    func end() async {
        await lease.release()
        try? FileManager.default.removeItem(atPath: scratch)
    }
}
