import AWS
import Coordinator
import CrawlKit
import Foundation
import Synchronization

/// The job's lease on S3 (`JobLease` holds the rules): created with `If-None-Match: *`, renewed
/// every third of its period and taken over with `If-Match` on the ETag read, so of two
/// coordinators only one ever holds it. https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
public final class S3JobLease: Sendable {
    public enum Failure: Error, Sendable {
        /// A live coordinator holds the job.
        case held(JobLease)
        case io(RunFailure)
    }

    let s3: S3Client
    public let location: S3Location
    public let seconds: Double
    private struct Held {
        var lease: JobLease
        var eTag: String?
        var renewer: Task<Void, Never>?
        var released = false
    }
    private let held: Mutex<Held>

    private init(s3: S3Client, location: S3Location, seconds: Double, lease: JobLease, eTag: String?) {
        self.s3 = s3
        self.location = location
        self.seconds = seconds
        held = Mutex(Held(lease: lease, eTag: eTag))
    }

    public var lease: JobLease { held.withLock { $0.lease } }

    /// Takes the job's lease for `run`, or fails with the live holder. `previous`: the expired
    /// lease taken over (its run is the one to resume). With `wait`, polls until the holder ends.
    public static func acquire(
        s3: S3Client, bucket: String, prefix: String, job: String, run: String, owner: String, seconds: Double,
        wait: Bool, waiting: @Sendable (JobLease) -> Void = { _ in }
    ) async throws(Failure) -> (lease: S3JobLease, previous: JobLease?) {
        let location = S3Location(bucket: bucket, key: RunLayout.leaseKey(prefix: prefix, job: job))
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        var told = false
        var conflicts = 0
        // Created first, read only when it exists: S3 answers a GetObject of a missing key 403,
        // not 404, to a caller whose s3:ListBucket is limited to a prefix (the coordinator's
        // policy), so reading first would fail every first run on real AWS.
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Permissions)
        do {
            let mine = JobLease(
                job: job, run: run, owner: owner, token: token, acquiredAt: Timestamp.now(),
                expiresAt: Timestamp.epochSeconds() + seconds)
            let eTag = try await s3.putObject(
                location, body: try JSONEncoder().encode(mine), contentType: "application/json", condition: .absent)
            return (S3JobLease(s3: s3, location: location, seconds: seconds, lease: mine, eTag: eTag), nil)
        } catch let error as AWSError where S3Client.isConditionFailure(error) {
            // It exists: read it and decide below.
        } catch let error as AWSError {
            throw .io(Self.failure(error, location))
        } catch {
            throw .io(RunFailure("cannot encode the lease", error: error))
        }
        while true {
            let found: (body: Data, eTag: String?)?
            do {
                found = try await s3.getObjectIfPresent(location)
            } catch {
                throw .io(Self.failure(error, location))
            }
            let existing = found.flatMap { try? JSONDecoder().decode(JobLease.self, from: $0.body) }
            let now = Timestamp.epochSeconds()
            let mine = JobLease(
                job: job, run: run, owner: owner, token: token, acquiredAt: Timestamp.now(), expiresAt: now + seconds)
            let condition: S3Client.WriteCondition
            var previous: JobLease?
            switch JobLease.decide(found: existing, exists: found != nil, now: now, token: token) {
            case .ours:
                return (S3JobLease(s3: s3, location: location, seconds: seconds, lease: mine, eTag: found?.eTag), nil)
            case .held(let other):
                guard wait else { throw .held(other) }
                if !told { waiting(other) }
                told = true
                try? await Task.sleep(for: .seconds(min(5, max(0.5, other.expiresAt - now))))
                continue
            case .create:
                condition = .absent
            case .takeOver(let before):
                guard let eTag = found?.eTag else { throw .io(RunFailure("the lease \(location) has no ETag")) }
                condition = .matches(eTag: eTag)
                previous = before
            }
            do {
                let eTag = try await s3.putObject(
                    location, body: try JSONEncoder().encode(mine), contentType: "application/json",
                    condition: condition)
                return (S3JobLease(s3: s3, location: location, seconds: seconds, lease: mine, eTag: eTag), previous)
            } catch let error as AWSError where S3Client.isConditionFailure(error) {
                // Another coordinator wrote the lease between our read and our write: read again.
                conflicts += 1
                if conflicts > 20 { throw .io(Self.failure(error, location)) }
                continue
            } catch let error as AWSError {
                throw .io(Self.failure(error, location))
            } catch {
                throw .io(RunFailure("cannot encode the lease", error: error))
            }
        }
    }

    static func failure(_ error: AWSError, _ location: S3Location) -> RunFailure {
        if error.code == "NoSuchBucket" {
            return RunFailure(
                "the bucket \(location.bucket) does not exist (--runs-dir s3://\(location.bucket)/…); create it or name another"
            )
        }
        return RunFailure("cannot take the job's lease \(location)", error: error)
    }

    /// Points the lease at another run (a taken-over lease resumes the run it names; a new run
    /// names itself), with a fresh expiry.
    public func retarget(run: String) async throws(RunFailure) {
        var lease = self.lease
        lease.run = run
        try await write(lease)
    }

    private func write(_ lease: JobLease) async throws(RunFailure) {
        let renewed = lease.renewed(now: Timestamp.epochSeconds(), seconds: seconds)
        let eTag = held.withLock { $0.eTag }
        do {
            let body = (try? JSONEncoder().encode(renewed)) ?? Data()
            let new = try await s3.putObject(
                location, body: body, contentType: "application/json",
                condition: eTag.map { .matches(eTag: $0) } ?? .absent)
            held.withLock { h in
                h.lease = renewed
                h.eTag = new
            }
        } catch {
            throw RunFailure("the lease \(location) could not be renewed", error: error)
        }
    }

    /// Renews every third of the period. `lost` is called once when another coordinator holds
    /// the lease now (it expired while this one could not renew): this one must stop.
    public func keepRenewing(lost: @escaping @Sendable (String) -> Void) {
        let task = Task.detached { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(seconds / JobLease.renewalsPerPeriod))
                if Task.isCancelled { return }
                do throws(RunFailure) {
                    try await write(lease)
                } catch {
                    let gone = lease.expiresAt < Timestamp.epochSeconds()
                    let code = (error.cause?.error as? AWSError)?.code
                    if code == "PreconditionFailed" || code == "NoSuchKey" || gone {
                        lost("the job's lease \(location) is lost (\(error)); another coordinator may hold it now")
                        return
                    }
                }
            }
        }
        held.withLock { $0.renewer = task }
    }

    /// Ends the lease: the next coordinator creates its own at once.
    public func release() async {
        let (renewer, eTag) = held.withLock { h in
            defer {
                h.renewer = nil
                h.released = true
            }
            return (h.renewer, h.released ? nil : h.eTag)
        }
        renewer?.cancel()
        guard eTag != nil else { return }
        // Delete only our own lease: it is ours if its token is (a lease lost meanwhile is not).
        if let found = try? await s3.getObjectIfPresent(location),
            let current = try? JSONDecoder().decode(JobLease.self, from: found.body), current.token == lease.token
        {
            try? await s3.deleteObject(location)
        }
    }
}
