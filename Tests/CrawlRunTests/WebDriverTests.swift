import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing
import WebDriver

extension Chrome {
    /// The WebDriver client against a real chromedriver and headless Chromium.
    @Suite struct WebDriverTests {
        static let caps: JSONValue = [
            "browserName": "chrome", "unhandledPromptBehavior": "dismiss",
            "goog:chromeOptions": ["args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage"]],
        ]

        func withSession(
            urlBase: String? = nil, _ body: (WebDriverSession, FixtureServer, ChromeDriver) async throws -> Void
        ) async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start(urlBase: urlBase)
            let client = WebDriverClient(baseURL: driver.url + (urlBase ?? ""), http: CurlHTTPClient())
            let session: WebDriverSession
            do {
                session = try await client.newSession(alwaysMatch: Self.caps)
            } catch {
                await driver.stop()
                server.stop()
                throw error
            }
            // chromedriver and its browsers stop on every way out, a failed DELETE included.
            let result = await Result(catching: { try await body(session, server, driver) })
            let deleted = await Result(catching: { try await session.delete(timeout: .seconds(10)) })
            await driver.stop()
            server.stop()
            try result.get()
            try deleted.get()
        }

        @Test func statusNavigationScriptsAndElements() async throws {
            try await withSession { s, server, _ in
                #expect(try await s.client.status().ready)
                try await s.setTimeouts(script: 5000, pageLoad: 10_000, implicit: 0)
                try await s.navigate(to: server.baseURL + "/page/3")
                #expect(try await s.title() == "Page 3")
                #expect(try await s.currentURL() == server.baseURL + "/page/3")
                #expect(try await s.execute("return arguments[0] + 1", args: [41]) == 42)
                #expect(try await s.executeAsync("arguments[arguments.length - 1]('later')") == "later")
                let h1 = try await s.findElement(css: "h1")
                #expect(try await s.text(of: h1) == "Page 3")
                let tags = try await s.findElements(css: "li.tag")
                #expect(tags.count == 2)
                let next = try await s.findElement(css: "a.next")
                #expect(try await s.attribute("href", of: next) == "/page/4")
                #expect(try await s.pageSource().contains("class=\"price\""))
                let png = try await s.screenshot()
                #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
            }
        }

        @Test func windows() async throws {
            try await withSession { s, server, _ in
                let first = try await s.windowHandle()
                let second = try await s.newWindow(type: "tab")
                #expect(Set(try await s.windowHandles()) == [first, second])
                try await s.switchToWindow(second)
                try await s.navigate(to: server.baseURL + "/page/9")
                #expect(try await s.title() == "Page 9")
                #expect(try await s.closeWindow() == [first])
                try await s.switchToWindow(first)
            }
        }

        @Test func typedErrors() async throws {
            try await withSession { s, server, _ in
                try await s.navigate(to: server.baseURL + "/page/1")
                let missing = await #expect(throws: WebDriverError.self) { _ = try await s.findElement(css: "#nope") }
                #expect(missing?.code == .noSuchElement)
                #expect(missing?.httpStatus == 404)
                let bad = await #expect(throws: WebDriverError.self) { _ = try await s.findElement(css: "[[[") }
                #expect(bad?.code == .invalidSelector)
                let js = await #expect(throws: WebDriverError.self) {
                    _ = try await s.execute("throw new Error('boom')")
                }
                #expect(js?.code == .javascriptError)
                let unknown = await #expect(throws: WebDriverError.self) {
                    _ = try await s.client.command("GET", "/no/such/endpoint", nil)
                }
                #expect(unknown?.code == .unknownCommand)
            }
        }

        @Test func deletedSessionIsInvalid() async throws {
            let driver = try await ChromeDriver.start()
            defer { Task { await driver.stop() } }
            let client = WebDriverClient(baseURL: driver.url, http: CurlHTTPClient())
            let s = try await client.newSession(alwaysMatch: Self.caps)
            try await s.delete()
            let e = await #expect(throws: WebDriverError.self) { _ = try await s.title() }
            #expect(e?.code == .invalidSessionId)
            #expect(e?.isSessionLost == true)
            await driver.stop()
            #expect(await eventually { driver.browserProcessCount == 0 })
        }

        @Test func aCrashedTabIsASessionLossWhateverTheCommand() async throws {
            try await withSession { s, server, driver in
                #expect(s.debuggerAddress?.hasPrefix("localhost:") == true)
                #expect(s.browserUserDataDir?.hasPrefix("/") == true)
                try await s.navigate(to: server.baseURL + "/page/1")
                let killed = driver.killRenderers()
                #expect(!killed.isEmpty)
                let commands: [(String, @Sendable () async throws -> Void)] = [
                    ("execute", { _ = try await s.execute("return 1") }),
                    ("title", { _ = try await s.title() }),
                    ("navigate", { try await s.navigate(to: server.baseURL + "/page/2") }),
                    ("new window", { _ = try await s.newWindow() }),
                ]
                for (name, command) in commands {
                    let e = await #expect(throws: WebDriverError.self, "\(name)") { try await command() }
                    #expect(e?.isSessionLost == true, "\(name): \(String(describing: e))")
                    #expect(e?.isUnresponsive == false)
                }
            }
        }

        @Test func basePathWdHub() async throws {
            try await withSession(urlBase: "/wd/hub") { s, server, _ in
                #expect(s.client.baseURL.hasSuffix("/wd/hub"))
                try await s.navigate(to: server.baseURL + "/page/5")
                #expect(try await s.title() == "Page 5")
            }
        }

        @Test func unreachableDriverIsATransportError() async throws {
            let port = try freePort()
            let client = WebDriverClient(baseURL: "http://127.0.0.1:\(port)", http: CurlHTTPClient())
            let e = await #expect(throws: WebDriverError.self) { _ = try await client.status() }
            #expect(e?.code == .transport)
            #expect(e?.underlying?.code == .connect)
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Which failures mean a lost session, as chromedriver words them under its various codes.
@Suite struct WebDriverErrorTests {
    @Test(arguments: [
        (WebDriverError.Code.other("tab crashed"), "tab crashed"),
        (.unknownError, "unknown error: session deleted because of page crash"),
        (.timeout, "timeout: Timed out receiving message from renderer: tab crashed"),
        (.javascriptError, "javascript error: target crashed"),
        (.other("disconnected"), "disconnected: not connected to DevTools"),
        (.other("aborted by navigation"), "aborted by navigation: Not attached to an active page"),
        (.invalidSessionId, "invalid session id"),
        (.noSuchWindow, "no such window: target window already closed"),
    ])
    func lostWhateverTheCode(code: WebDriverError.Code, message: String) {
        let error = WebDriverError(code: code, message: message)
        #expect(error.isSessionLost && !error.isUnresponsive)
    }

    @Test func notLost() {
        #expect(!WebDriverError(code: .javascriptError, message: "javascript error: boom").isSessionLost)
        #expect(
            !WebDriverError(code: .timeout, message: "timeout: Timed out receiving message from renderer: 30")
                .isSessionLost)
        #expect(!WebDriverError(code: .other("aborted by navigation"), message: "aborted by navigation").isSessionLost)
    }

    @Test func transportFailures() {
        let timedOut = WebDriverError(
            code: .transport, message: "timed out",
            underlying: HTTPError(
                code: .timeout, curlCode: 28, message: "timed out", url: "http://127.0.0.1:1/session/x/url"))
        #expect(
            timedOut.isUnresponsive && !timedOut.isSessionLost, "no answer in time: the page hangs, the driver lives")
        let refused = WebDriverError(
            code: .transport, message: "refused",
            underlying: HTTPError(code: .connect, curlCode: 7, message: "refused", url: "http://127.0.0.1:1/status"))
        #expect(refused.isSessionLost && !refused.isUnresponsive, "the driver is gone")
    }
}
