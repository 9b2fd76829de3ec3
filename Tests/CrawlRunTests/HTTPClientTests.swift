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
        let start = ContinuousClock.now
        let task = Task { try await client.send(HTTPRequest(url: server.baseURL + "/never", timeout: .seconds(30))) }
        _ = await eventually { server.hits("/never") == 1 }
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

    @Test func manyConcurrentRequestsDoNotStarveTasks() async throws {
        let server = try FixtureServer()
        defer { server.stop() }
        // 40 blocked transfers on the curl queue; a plain async task still runs meanwhile.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<40 {
                group.addTask { try await client.send(HTTPRequest(url: server.baseURL + "/slow?ms=300")).status }
            }
            // Were the transfers blocking the cooperative pool (two threads here), this sleep would
            // end only after them: 40 × 300 ms over 2 threads ≥ 6 s. 3 s leaves room for a loaded
            // machine (other suites run beside this one) and still tells starvation apart.
            let probe = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(10))
            #expect(ContinuousClock.now - probe < .seconds(3), "starved tasks wait for seconds")
            for try await status in group { #expect(status == 200) }
        }
    }
}
