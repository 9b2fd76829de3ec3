import Foundation
import HTTP
import TestSupport
import Testing

@Suite struct HTTPClientTests {
    let client = CurlHTTPClient(connectTimeout: .seconds(2), timeout: .seconds(10))

    @Test func getsAPageAndReusesTheConnection() async throws {
        let server = try FixtureServer()
        defer { server.stop() }
        for _ in 0..<5 {
            let r = try await client.send(HTTPRequest(url: server.baseURL + "/page/1"))
            #expect(r.status == 200)
            #expect(String(decoding: r.body, as: UTF8.self).contains("<h1>Page 1</h1>"))
            #expect(r.header("content-type")?.hasPrefix("text/html") == true)
        }
        #expect(server.connectionCount == 1, "keep-alive: five requests over one connection")
    }

    @Test func postSendsTheBodyWithoutExpect() async throws {
        let server = try FixtureServer()
        defer { server.stop() }
        let body = Data(repeating: 65, count: 300_000)
        let r = try await client.send(
            HTTPRequest(
                method: "POST", url: server.baseURL + "/echo", headers: [("Content-Type", "text/plain")], body: body))
        let echo = try JSONSerialization.jsonObject(with: r.body) as? [String: Any]
        #expect(echo?["bodyBytes"] as? Int == 300_000)
        #expect(echo?["method"] as? String == "POST")
        let headers = echo?["headers"] as? [String: String] ?? [:]
        #expect(headers["expect"] == nil, "an empty Expect: header stops 100-continue")
    }

    @Test func customMethodsAndHead() async throws {
        let server = try FixtureServer()
        defer { server.stop() }
        let del = try await client.send(HTTPRequest(method: "DELETE", url: server.baseURL + "/echo"))
        #expect(String(decoding: del.body, as: UTF8.self).contains("\"method\":\"DELETE\""))
        let head = try await client.send(HTTPRequest(method: "HEAD", url: server.baseURL + "/page/2"))
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
    }

    @Test func totalDeadlineEndsASlowResponse() async throws {
        let server = try FixtureServer()
        defer { server.stop() }
        let error = await #expect(throws: HTTPError.self) {
            _ = try await client.send(HTTPRequest(url: server.baseURL + "/slow?ms=3000", timeout: .milliseconds(300)))
        }
        #expect(error?.code == .timeout)
        #expect(error?.url == server.baseURL + "/slow", "the URL is named, without its query")
        #expect(error?.isTransient == true)
    }

    @Test func refusedConnectionNamesCodeAndURL() async throws {
        let port = try freePort()
        let error = await #expect(throws: HTTPError.self) {
            _ = try await client.send(HTTPRequest(url: "http://127.0.0.1:\(port)/x"))
        }
        #expect(error?.code == .connect)
        #expect(error?.curlCode == 7)
        #expect(error?.description.contains("127.0.0.1:\(port)/x") == true)
    }

    @Test func cancellationAbortsTheTransfer() async throws {
        let server = try FixtureServer()
        defer { server.stop() }
        let task = Task { try await client.send(HTTPRequest(url: server.baseURL + "/never", timeout: .seconds(30))) }
        _ = await eventually { server.hits("/never") == 1 }
        // Timed from the cancel, not from the start: under load the request alone can take seconds
        // to arrive; a cancel that did nothing would wait out the 30 s timeout.
        let start = ContinuousClock.now
        task.cancel()
        let result = await task.result
        guard case .failure(let error as HTTPError) = result else {
            Issue.record("expected a cancelled HTTPError, got \(result)")
            return
        }
        #expect(error.code == .cancelled)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func talksOverAUnixSocket() async throws {
        let path = NSTemporaryDirectory() + "crawlrun-\(UUID().uuidString.prefix(8)).sock"
        let server = try FixtureServer(unixSocket: path)
        defer { server.stop() }
        let r = try await client.send(HTTPRequest(url: "http://localhost/page/7", unixSocketPath: path))
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self).contains("Page 7"))
    }

    @Test func redactsCredentialsAndQueries() {
        #expect(
            HTTPError(code: .connect, curlCode: 7, message: "m", url: "https://user:secret@host/p?X-Amz-Signature=abc")
                .url == "https://host/p")
    }

    /// Blocking libcurl transfers must not hold the cooperative pool (two threads here). The
    /// server holds 40 transfers until a plain async task lets them go: were the transfers on the
    /// pool, that task could never run and every transfer would end with the server's 503 after
    /// 30 s. No wall-clock bound, so a machine loaded by other suites cannot fail it.
    @Test func manyConcurrentRequestsDoNotStarveTasks() async throws {
        let held = Held()
        let server = try FixtureServer(fixtures: false) { request in
            guard request.url.hasPrefix("/hold") else { return HTTPResponse(status: 404) }
            held.arrived()
            return held.waitForRelease(timeout: 30) ? HTTPResponse(status: 200) : HTTPResponse(status: 503)
        }
        defer { server.stop() }
        let client = CurlHTTPClient(connectTimeout: .seconds(5), timeout: .seconds(60))
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<40 {
                group.addTask { try await client.send(HTTPRequest(url: server.baseURL + "/hold/\(i)")).status }
            }
            // A plain task on the cooperative pool: it waits for every transfer to be in flight,
            // then releases them.
            group.addTask {
                while held.count < 40 { try await Task.sleep(for: .milliseconds(10)) }
                held.release()
                return 0
            }
            var statuses: [Int] = []
            for try await status in group where status != 0 { statuses.append(status) }
            #expect(statuses.count == 40 && statuses.allSatisfy { $0 == 200 }, "the pool was starved: \(statuses)")
        }
    }
}

/// Requests the test server holds until released.
final class Held: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrivals = 0
    private var released = false
    var count: Int { condition.withLock { arrivals } }
    func arrived() { condition.withLock { arrivals += 1 } }
    func release() {
        condition.withLock {
            released = true
            condition.broadcast()
        }
    }
    func waitForRelease(timeout seconds: Double) -> Bool {
        condition.withLock {
            let deadline = Date(timeIntervalSinceNow: seconds)
            while !released && condition.wait(until: deadline) {}
            return released
        }
    }
}
