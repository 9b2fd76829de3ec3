import CrawlKit
import Foundation
import HTTP
import JSONKit
import Testing
import WebDriver

@testable import Crawler

@Suite struct NetworkPolicyTests {
    let strict = NetworkPolicy(allowPrivateNetworks: false)
    let open = NetworkPolicy(allowPrivateNetworks: true)

    @Test(arguments: [
        "169.254.169.254", "169.254.170.2", "fe80::1", "[fe80::1]", "fd00:ec2::254", "::ffff:169.254.169.254",
    ])
    func credentialEndpointsAreAlwaysRefused(host: String) async {
        guard case .blocked(let why) = await open.check(host: host) else {
            Issue.record("\(host) must be blocked even with allowPrivateNetworks")
            return
        }
        #expect(why.contains("link-local"))
    }

    @Test(arguments: [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "::1", "fc00::1", "localhost", "100.64.0.1",
    ])
    func privateAddressesNeedTheOption(host: String) async {
        guard case .blocked = await strict.check(host: host) else {
            Issue.record("\(host) must be blocked by default")
            return
        }
        #expect(await open.check(host: host) == .allowed)
    }

    @Test func publicAddressesPass() async {
        #expect(await strict.check(host: "93.184.216.34") == .allowed)
        #expect(await strict.check(host: "2606:2800:220:1::1") == .allowed)
        #expect(await strict.check(host: "0.0.0.0") != .allowed)
    }
}

@Suite struct ClassifierTests {
    @Test(arguments: [
        ("ERR_NAME_NOT_RESOLVED", ErrorKind.dns), ("ERR_CONNECTION_REFUSED", .connection),
        ("ERR_CONNECTION_RESET", .connection), ("ERR_EMPTY_RESPONSE", .connection),
        ("ERR_CONNECTION_TIMED_OUT", .timeout), ("ERR_CERT_AUTHORITY_INVALID", .tls),
        ("ERR_SSL_PROTOCOL_ERROR", .tls), ("ERR_TOO_MANY_REDIRECTS", .redirect), ("ERR_ABORTED", .navigation),
    ])
    func netErrors(code: String, kind: ErrorKind) {
        #expect(ErrorClassifier.kind(forNetError: code) == kind)
    }

    @Test func driverMessagesAreMappedNotDumped() {
        let e = WebDriverError(
            code: .unknownError,
            message: "unknown error: net::ERR_NAME_NOT_RESOLVED\n  (Session info: chrome=156)\n#0 0x55 <unknown>")
        let f = ErrorClassifier.classify(e, during: "navigate")
        #expect(f.kind == .dns)
        #expect(f.message == "name not resolved (net::ERR_NAME_NOT_RESOLVED)")
        let t = ErrorClassifier.classify(
            WebDriverError(
                code: .timeout, message: "timeout: Timed out receiving message from renderer: 2.9\n  (Session info)"),
            during: "navigate")
        #expect(t.kind == .timeout && t.retryable && !t.message.contains("Session info"))
        let lost = ErrorClassifier.classify(
            WebDriverError(code: .invalidSessionId, message: "invalid session id"), during: "navigate")
        #expect(lost.kind == .browserCrash && lost.sessionLost && lost.retryable)
        let crash = WebDriverError(code: .unknownError, message: "unknown error: session deleted because of page crash")
        #expect(crash.isSessionLost)
    }

    @Test func retryableKinds() {
        #expect(ErrorKind.http.isRetryable(status: 503))
        #expect(ErrorKind.http.isRetryable(status: 429))
        #expect(!ErrorKind.http.isRetryable(status: 404))
        #expect(!ErrorKind.blocked.isRetryable(status: nil))
        #expect(!ErrorKind.dns.isRetryable(status: nil))
    }
}

@Suite struct RecordTests {
    @Test func recordLineHasEveryKeyInOrder() throws {
        let r = ResultRecord(
            url: "http://x/\"q\"", ok: false, fields: ["b": .array(["1", .null]), "a": "t\n"],
            error: RecordError(kind: .browserCrash, message: "gone"), attempts: 2, batch: "0001",
            startedAt: "2026-01-01T00:00:00.000Z", ms: 12)
        let line = String(decoding: r.jsonLine(), as: UTF8.self)
        #expect(
            line
                == #"{"url":"http://x/\"q\"","ok":false,"status":null,"finalUrl":null,"title":null,"fields":{"a":"t\n","b":["1",null]},"error":{"kind":"browser-crash","message":"gone"},"attempts":2,"batch":"0001","startedAt":"2026-01-01T00:00:00.000Z","ms":12}"#
                + "\n")
        let back = try JSONDecoder().decode(ResultRecord.self, from: Data(line.utf8))
        #expect(back == r)
    }

    @Test func timestampFormat() {
        #expect(Timestamp.format(seconds: 1_779_359_820, milliseconds: 7) == "2026-05-21T10:37:00.007Z")
    }

    @Test func fieldSpecShorthand() throws {
        let o = try JSONDecoder().decode(
            CrawlOptions.self,
            from: Data(#"{"fields": {"t": "h1", "l": {"selector": "a", "attr": "href", "all": true}}}"#.utf8))
        #expect(o.fields["t"] == FieldSpec(selector: "h1"))
        #expect(o.fields["l"] == FieldSpec(selector: "a", attr: "href", all: true))
        #expect(o.maxAttempts == 3 && o.sessions == 1)
    }

    @Test func capabilitiesCarryTheContainerFlags() {
        var o = CrawlOptions()
        o.pageLoadTimeout = 12
        let caps = PageVisitor.capabilities(o)
        #expect(caps["unhandledPromptBehavior"] == "dismiss")
        #expect(caps["timeouts"]?["pageLoad"] == .number(12_000))
        let args = caps["goog:chromeOptions"]?["args"]?.arrayValue ?? []
        for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage"] {
            #expect(args.contains(.string(flag)))
        }
        o.browserName = "firefox"
        o.capabilities = ["acceptInsecureCerts": true]
        let ff = PageVisitor.capabilities(o)
        #expect(ff["moz:firefoxOptions"]?["args"] == ["-headless"])
        #expect(ff["acceptInsecureCerts"] == true)
    }
}

@Suite struct BatchInputTests {
    func load(_ text: String) -> String {
        let path = tempDir("batch") + "/b.json"
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try BatchInput.load(path)
            return "ok"
        } catch {
            #expect(error.exitCode == .badInput)
            return error.message.replacingOccurrences(of: path, with: "B")
        }
    }

    @Test func problemsNameTheFileAndPlace() {
        #expect(load("{").hasPrefix("batch file B: not valid JSON"))
        #expect(load(#"{"urls": []}"#) == "batch file B: batch: required key is missing")
        #expect(load(#"{"batch": "b", "urls": "x"}"#) == "batch file B: urls: expected an array")
        #expect(
            load(#"{"batch": "b", "urls": [], "crawl": {"pageLoadTimeout": "x"}}"#)
                == "batch file B: crawl.pageLoadTimeout: expected a number")
        #expect(
            load(#"{"batch": "b", "urls": [], "crawl": {"sessions": 0}}"#)
                == "batch file B: crawl.sessions must be between 1 and 16")
        #expect(load(#"{"batch": "b", "urls": ["http://a"]}"#) == "ok")
        let missing = (try? BatchInput.load("/nonexistent/batch.json")).map { _ in "ok" }
        #expect(missing == nil)
        do { _ = try BatchInput.load("file:///nonexistent/b.json") } catch {
            #expect(error.message == "batch file /nonexistent/b.json does not exist")
        }
    }

    @Test func environmentIsChecked() {
        #expect(throws: CrawlerFailure.self) { try CrawlerSettings(environment: ["CRAWL_OUT": "x"]) }
        #expect(throws: CrawlerFailure.self) {
            try CrawlerSettings(environment: ["CRAWL_OUT": "x", "CRAWL_BATCH": "b", "CRAWL_WAIT_TIMEOUT": "soon"])
        }
        let s = try? CrawlerSettings(environment: ["CRAWL_OUT": "x", "CRAWL_BATCH": "b"])
        #expect(s?.webDriverURL == "http://127.0.0.1:4444")
        #expect(s?.waitTimeout == .seconds(120))
    }
}

@Suite struct WebDriverEnvelopeTests {
    func client(status: Int, body: String) -> WebDriverClient {
        WebDriverClient(
            baseURL: "http://wd/wd/hub/",
            http: ClosureTransport { req in
                #expect(req.url.hasPrefix("http://wd/wd/hub/"))
                return HTTPResponse(status: status, body: Data(body.utf8))
            })
    }

    @Test func everyW3CCodeIsTyped() async {
        for (wire, code) in WebDriverError.Code.table {
            let c = client(status: 404, body: #"{"value": {"error": "\#(wire)", "message": "m", "stacktrace": ""}}"#)
            let e = await #expect(throws: WebDriverError.self) {
                _ = try await c.command("GET", "/x", nil as JSONValue?)
            }
            #expect(e?.code == code)
            #expect(e?.code.wire == wire)
        }
    }

    @Test func unknownCodesAreKept() async {
        let c = client(status: 500, body: #"{"value": {"error": "future error", "message": "later"}}"#)
        let e = await #expect(throws: WebDriverError.self) { _ = try await c.command("GET", "/x", nil as JSONValue?) }
        #expect(e?.code == .other("future error"))
        #expect(e?.description == "future error: later")
    }

    @Test func nonEnvelopeIsMalformed() async {
        let c = client(status: 502, body: "<html>bad gateway</html>")
        let e = await #expect(throws: WebDriverError.self) { _ = try await c.status() }
        #expect(e?.code == .malformedResponse)
        #expect(e?.httpStatus == 502)
    }

    @Test func readyMustBeTrueStrictly() async throws {
        let c = client(status: 200, body: #"{"value": {"ready": "true", "message": "x"}}"#)
        #expect(try await c.status().ready == false)
    }
}
