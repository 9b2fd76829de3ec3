import Foundation
import HTTP
import JSONKit
import Synchronization
import TestSupport
import Testing

@testable import AWS

#if canImport(Glibc)
    import Glibc
#endif

/// The AWS layer's cancellation and concurrency rules: a cancelled call ends at once and is never
/// retried, a cancelled wait for a token takes none, credentials are fetched once for N callers,
/// and DescribeTasks answers for every task asked, 100 per call.
@Suite struct AWSConcurrencyTests {
    /// CPU time of this process (user + system).
    static func cpuTime() -> Duration {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let micros =
            Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000
            + Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        return .microseconds(micros)
    }

    @Test func cancelledTakeReturnsAtOnceAndTakesNoToken() async throws {
        // The next token is 1,000 s away: a waiter that spun or waited for it would show, however
        // late a loaded machine lets the waiter start.
        let bucket = TokenBucket(capacity: 1, refillPerSecond: 0.001)
        try await bucket.take()
        let waiter = Task { try await bucket.take() }
        // Awaited, not timed: at the start of a full test run the two cores' threads are busy
        // with every suite's set-up for seconds (CI saw over 10 s); what is measured comes after.
        #expect(
            await eventually(timeout: .seconds(90)) { await bucket.waiting == 1 }, "the second caller waits for a token")
        let cpuBefore = Self.cpuTime()
        let cancelledAt = ContinuousClock.now
        waiter.cancel()
        let outcome = await waiter.result
        let elapsed = ContinuousClock.now - cancelledAt
        let cpu = Self.cpuTime() - cpuBefore
        #expect(throws: CancellationError.self) { try outcome.get() }
        // The token is 1,000 s away: 5 s tells a return at the cancellation from one at the token,
        // with room for a full test run's load (CI measured 1.1 s there).
        #expect(elapsed < .seconds(5), "returned \(elapsed) after the cancellation, not when a token came")
        #expect(cpu < .milliseconds(500), "no spinning: \(cpu) of CPU while cancelled")
        #expect(await bucket.granted == 1, "the cancelled caller took no token")
        #expect(await bucket.waiting == 0)
    }

    func ecs(_ transport: ClosureTransport, baseDelay: Duration = .milliseconds(1)) -> ECSClient {
        var ecs = ECSClient(
            region: "us-east-1", environment: AWSEnvironment(["AWS_ENDPOINT_URL": "http://127.0.0.1:1"]),
            credentials: CredentialChain(environment: AWSClientUnitTests.keys, http: transport), http: transport)
        ecs.client.retry.baseDelay = baseDelay
        ecs.client.retry.maxDelay = baseDelay
        return ecs
    }

    /// A cancellation during an attempt (the transport's own `CancellationError`, or libcurl's
    /// abort) and during the pause between attempts ends the loop at once, as a cancellation.
    @Test(arguments: ["CancellationError", "curl abort", "during the pause"])
    func cancellationIsNeverRetried(_ when: String) async throws {
        let calls = LineBox()
        let transport = ClosureTransport { _ in
            calls.append("x")
            if when == "during the pause" {
                return HTTPResponse(status: 503, body: Data(#"{"__type":"ServerException","message":"busy"}"#.utf8))
            }
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                if when == "curl abort" {
                    throw HTTPError(code: .cancelled, curlCode: 42, message: "request cancelled", url: "")
                }
                throw error
            }
            return HTTPResponse(status: 200)
        }
        // A long pause between attempts: the cancellation arrives during it.
        let client = ecs(transport, baseDelay: .seconds(20))
        let call = Task { try await client.listTasks(cluster: "c") }
        #expect(await eventually(timeout: .seconds(90)) { calls.count == 1 })  // awaited, as above
        let cancelledAt = ContinuousClock.now
        call.cancel()
        let outcome = await call.result
        // Within 5 s: the attempt would have slept 30 s, the pause 20 s (room for a loaded run).
        #expect(ContinuousClock.now - cancelledAt < .seconds(5))
        #expect(throws: AWSError.self) { try outcome.get() }
        if case .failure(let error as AWSError) = outcome {
            #expect(error.isCancellation && error.category == .cancelled && !error.isRetryable, "\(error)")
            #expect(error.description == "Cancelled: ecs ListTasks was cancelled")
        }
        #expect(calls.count == 1, "a cancelled call is not sent again")
    }

    /// Issue 19 item 14: Fargate takes 20 RunTask calls a second, burst included (the ECS
    /// throttling page), fewer than RunTask's API bucket: 40 launches at once go out 20 at once,
    /// then paced, never faster than Fargate's bucket refills.
    @Test func runTaskCallsArePacedUnderFargatesRate() async throws {
        let sent = Mutex<[ContinuousClock.Instant]>([])
        let transport = ClosureTransport { request in
            if request.header("X-Amz-Target")?.hasSuffix("RunTask") == true {
                sent.withLock { $0.append(.now) }
            }
            return HTTPResponse(status: 200, body: Data(#"{"tasks":[],"failures":[]}"#.utf8))
        }
        let client = ecs(transport)
        let start = ContinuousClock.now
        // One call first: the credentials are fetched once, before the burst.
        var warm = RunTaskRequest(cluster: "c", taskDefinition: "td")
        warm.clientToken = "t0"
        _ = try? await client.runTask(warm)
        await withTaskGroup(of: Void.self) { group in
            for i in 1..<40 {
                group.addTask {
                    var request = RunTaskRequest(cluster: "c", taskDefinition: "td")
                    request.clientToken = "t\(i)"
                    _ = try? await client.runTask(request)
                }
            }
        }
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        let times = sent.withLock { $0 }.map { seconds($0 - start) }.sorted()
        #expect(times.count == 40)
        // Within any first t seconds, at most 20 + 20·t calls (plus one for timer slack).
        for (i, t) in times.enumerated() {
            #expect(Double(i + 1) <= 21 + 20 * t, "call \(i + 1) at \(t) s")
        }
        #expect((times.last ?? 0) >= 0.9, "the last 20 waited for the bucket: \(times.last ?? 0) s")
    }

    /// Twenty concurrent callers, one slow container endpoint: one fetch, one answer for all.
    @Test func credentialRefreshIsSingleFlight() async throws {
        let fail = LineBox()
        let server = try FixtureServer(fixtures: false) { request in
            guard request.url == "/creds" else { return HTTPResponse(status: 404) }
            usleep(200_000)  // a slow endpoint, so that the callers overlap
            if fail.count > 0 { return HTTPResponse(status: 500) }
            return HTTPResponse(status: 200, body: Data(CredentialEndpointTests.temporary.utf8))
        }
        defer { server.stop() }
        let chain = CredentialChain(
            environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/creds", "HOME": tempDir("sf")],
            http: CurlHTTPClient())
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await chain.credentials().accessKeyId } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(keys == Array(repeating: "ASIAROLE0000WXYZ", count: 20))
        #expect(server.hits("/creds") == 1, "one fetch for twenty callers")
        #expect(await chain.fetches == 1)

        // A failed fetch fails every waiter once, and the next call tries again.
        fail.append("fail")
        let failing = CredentialChain(
            environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/creds", "HOME": tempDir("sf2")],
            http: CurlHTTPClient())
        let errors = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    do {
                        _ = try await failing.credentials()
                        return nil
                    } catch {
                        return (error as? AWSError)?.message
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(errors == Array(repeating: "cannot fetch ECS container credentials: HTTP 500", count: 10))
        #expect(server.hits("/creds") == 2)
        _ = try? await failing.credentials()
        #expect(server.hits("/creds") == 3, "a failure is not cached")
    }

    /// 250 tasks: three DescribeTasks calls of 100, 100 and 50, every task and failure kept.
    @Test func describeTasksIsChunkedBy100() async throws {
        let sizes = LineBox()
        let transport = ClosureTransport { request in
            #expect(request.header("X-Amz-Target") == "AmazonEC2ContainerServiceV20141113.DescribeTasks")
            let input = try JSONValue.decode(request.body ?? Data())
            let arns = input["tasks"]?.arrayValue?.compactMap(\.stringValue) ?? []
            sizes.append(String(arns.count))
            // Every tenth task is unknown to ECS.
            let known = arns.filter { !$0.hasSuffix("0") }
            let body: JSONValue = [
                "tasks": .array(known.map { ["taskArn": .string($0), "lastStatus": "RUNNING"] }),
                "failures": .array(
                    arns.filter { $0.hasSuffix("0") }.map { ["arn": .string($0), "reason": "MISSING"] }),
            ]
            return HTTPResponse(status: 200, body: Data(body.encoded()))
        }
        let arns = (1...250).map { "arn:aws:ecs:us-east-1:123456789012:task/c/t\($0)" }
        let result = try await ecs(transport).describeTasks(cluster: "c", tasks: arns)
        #expect(sizes.all == ["100", "100", "50"])
        #expect(result.tasks.count == 225 && result.failures.count == 25)
        #expect(Set(result.tasks.map(\.taskArn) + result.failures.compactMap(\.arn)) == Set(arns))
        #expect(result.failures.allSatisfy { $0.isMissing })
        let none = try await ecs(transport).describeTasks(cluster: "c", tasks: [])
        #expect(none.tasks.isEmpty && sizes.count == 3, "no call for no tasks")
    }

    /// Issue 26: a burst of 2,000 S3 calls keeps at most 32 on the wire (each one on the wire
    /// holds a thread and a curl handle); every call is answered.
    @Test func aBurstOfS3CallsKeepsAtMost32OnTheWire() async throws {
        let peak = Mutex((now: 0, most: 0))
        let transport = ClosureTransport { _ in
            peak.withLock {
                $0.now += 1
                $0.most = max($0.most, $0.now)
            }
            try await Task.sleep(for: .milliseconds(2))
            peak.withLock { $0.now -= 1 }
            return HTTPResponse(status: 200)
        }
        let s3 = S3Client(
            region: "us-east-1", environment: AWSEnvironment(["AWS_ENDPOINT_URL": "http://127.0.0.1:9"]),
            credentials: CredentialChain(
                environment: ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"], http: transport),
            http: transport)
        let answered = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<2000 {
                group.addTask {
                    (try? await s3.putObject(S3Location(bucket: "b", key: "k\(i)"), body: Data("x".utf8))) != nil
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(answered == 2000)
        #expect(peak.withLock { $0.most } <= 32, "\(peak.withLock { $0.most }) on the wire at once")
    }
}
