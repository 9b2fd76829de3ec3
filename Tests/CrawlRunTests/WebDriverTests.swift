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
            urlBase: String? = nil, _ body: (WebDriverSession, FixtureServer) async throws -> Void
        ) async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start(urlBase: urlBase)
            let client = WebDriverClient(baseURL: driver.url + (urlBase ?? ""), http: CurlHTTPClient())
            let session = try await client.newSession(alwaysMatch: Self.caps)
            do {
                try await body(session, server)
            } catch {
                try? await session.delete()
                await driver.stop()
                server.stop()
                throw error
            }
            try await session.delete()
            await driver.stop()
            server.stop()
        }

        @Test func statusNavigationScriptsAndElements() async throws {
            try await withSession { s, server in
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
            try await withSession { s, server in
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
            try await withSession { s, server in
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

        @Test func basePathWdHub() async throws {
            try await withSession(urlBase: "/wd/hub") { s, server in
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
