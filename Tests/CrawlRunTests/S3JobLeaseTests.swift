import AWS
import Coordinator
import Foundation
import S3Runs
import Synchronization
import TestSupport
import Testing

/// The job's lease on moto_server.
@Suite struct S3JobLeaseTests {
    /// Another coordinator wrote the lease (its ETag changed): the first renewal's
    /// PreconditionFailed — the AWS error kept as the failure's cause, asked for its code, not
    /// searched in words — says the lease is lost at once, long before it would have expired.
    @Test func aLeaseAnotherCoordinatorWroteIsLostAtTheNextRenewal() async throws {
        let peer = try await S3Peer.start()
        defer { Task { await peer.moto.stop() } }
        let seconds = 30.0
        let (lease, previous) = try await S3JobLease.acquire(
            s3: peer.s3, bucket: S3Peer.bucket, prefix: "runs", job: "shop", run: "20261208-010000-0001",
            owner: "test", seconds: seconds, wait: false)
        #expect(previous == nil)
        try await peer.s3.putObject(lease.location, body: Data(#"{"taken": true}"#.utf8))
        let lost = Mutex<String?>(nil)
        lease.keepRenewing { why in lost.withLock { $0 = why } }
        // The renewal comes a third of the period in; the lease expires at the end of it.
        let seen = await eventually(timeout: .seconds(seconds * 0.8)) { lost.withLock { $0 } != nil }
        await lease.release()
        #expect(seen, "the lease is lost at the renewal, not once it expired")
        #expect(lost.withLock { $0 }?.contains("is lost") == true)
    }
}
