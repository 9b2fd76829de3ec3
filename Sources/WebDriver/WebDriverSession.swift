import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A reference to a DOM element (the W3C element identifier).
public struct ElementReference: Sendable, Hashable {
    public static let key = "element-6066-11e4-a52e-4f735466cecf"
    public let id: String
    public var json: JSONValue { .object([Self.key: .string(id)]) }

    init?(_ value: JSONValue) {
        guard let id = value[Self.key]?.stringValue else { return nil }
        self.id = id
    }
}

/// One WebDriver session. Commands map one-to-one onto the W3C endpoint table:
/// https://www.w3.org/TR/webdriver2/#endpoints
public struct WebDriverSession: Sendable {
    public let id: String
    public let client: WebDriverClient
    /// The capabilities the remote end matched.
    public let capabilities: JSONValue

    private var prefix: String { "/session/\(id)" }

    /// The browser's DevTools HTTP endpoint (`host:port`) that chromedriver and msedgedriver
    /// report in the matched capabilities; nil for other browsers.
    /// https://developer.chrome.com/docs/chromedriver/capabilities
    public var debuggerAddress: String? {
        for key in ["goog:chromeOptions", "ms:edgeOptions"] {
            if let address = capabilities[key]?["debuggerAddress"]?.stringValue, !address.isEmpty { return address }
        }
        return nil
    }

    /// The session's WebDriver BiDi endpoint (`ws://…`), present when the new session asked for
    /// `"webSocketUrl": true` and the remote end speaks BiDi. https://w3c.github.io/webdriver-bidi/#establishing
    public var webSocketURL: String? { capabilities["webSocketUrl"]?.stringValue }

    /// The profile directory the driver started this session's browser with (chromedriver's
    /// `chrome.userDataDir`, msedgedriver's `msedge.userDataDir`): it names the browser's processes.
    public var browserUserDataDir: String? {
        for key in ["chrome", "msedge"] {
            if let dir = capabilities[key]?["userDataDir"]?.stringValue, !dir.isEmpty { return dir }
        }
        return nil
    }

    private func call(
        _ method: String, _ path: String, _ body: JSONValue? = nil, timeout: Duration? = nil
    )
        async throws -> JSONValue
    {
        try await client.command(method, prefix + path, body, timeout: timeout)
    }

    /// `DELETE /session/{id}`: always call it; it ends the browser.
    public func delete(timeout: Duration = .seconds(10)) async throws {
        _ = try await client.command("DELETE", prefix, nil, timeout: timeout)
    }

    /// `POST …/timeouts` in milliseconds. The pageLoad default of 300 s hangs a crawl.
    public func setTimeouts(
        script: Int? = nil, pageLoad: Int? = nil, implicit: Int? = nil, deadline: Duration? = nil
    ) async throws {
        var o: [String: JSONValue] = [:]
        if let script { o["script"] = .number(Double(script)) }
        if let pageLoad { o["pageLoad"] = .number(Double(pageLoad)) }
        if let implicit { o["implicit"] = .number(Double(implicit)) }
        _ = try await call("POST", "/timeouts", .object(o), timeout: deadline)
    }

    /// `POST …/url`. `timeout` must exceed the session's page-load timeout, which is what
    /// normally ends a slow navigation (with a `timeout` error).
    public func navigate(to url: String, timeout: Duration? = nil) async throws {
        _ = try await call("POST", "/url", ["url": .string(url)], timeout: timeout)
    }

    public func currentURL() async throws -> String {
        try await call("GET", "/url").stringValue ?? ""
    }

    public func title() async throws -> String {
        try await call("GET", "/title").stringValue ?? ""
    }

    public func pageSource(timeout: Duration? = nil) async throws -> String {
        try await call("GET", "/source", timeout: timeout).stringValue ?? ""
    }

    /// `POST …/execute/sync`: the script's return value, as JSON.
    public func execute(_ script: String, args: [JSONValue] = [], timeout: Duration? = nil) async throws -> JSONValue {
        try await call("POST", "/execute/sync", ["script": .string(script), "args": .array(args)], timeout: timeout)
    }

    /// A Chrome DevTools Protocol command in the current window's page, through the driver's
    /// vendor extension: chromedriver's `POST …/goog/cdp/execute`, msedgedriver's
    /// `…/ms/cdp/execute` (`vendor` "goog" or "ms"). Not W3C: a driver without it answers
    /// `unknown command`. https://chromedevtools.github.io/devtools-protocol/
    public func cdp(
        _ command: String, _ params: JSONValue = [:], vendor: String = "goog", timeout: Duration? = nil
    ) async throws -> JSONValue {
        try await call("POST", "/\(vendor)/cdp/execute", ["cmd": .string(command), "params": params], timeout: timeout)
    }

    /// `POST …/execute/async`: the script calls `arguments[arguments.length - 1](result)`.
    public func executeAsync(
        _ script: String, args: [JSONValue] = [], timeout: Duration? = nil
    ) async throws
        -> JSONValue
    {
        try await call("POST", "/execute/async", ["script": .string(script), "args": .array(args)], timeout: timeout)
    }

    public func findElement(css selector: String) async throws -> ElementReference {
        let value = try await call("POST", "/element", ["using": "css selector", "value": .string(selector)])
        guard let element = ElementReference(value) else {
            throw WebDriverError(code: .malformedResponse, message: "find element returned no element reference")
        }
        return element
    }

    public func findElements(css selector: String) async throws -> [ElementReference] {
        let value = try await call("POST", "/elements", ["using": "css selector", "value": .string(selector)])
        return (value.arrayValue ?? []).compactMap(ElementReference.init)
    }

    public func text(of element: ElementReference) async throws -> String {
        try await call("GET", "/element/\(element.id)/text").stringValue ?? ""
    }

    public func attribute(_ name: String, of element: ElementReference) async throws -> String? {
        try await call("GET", "/element/\(element.id)/attribute/\(name)").stringValue
    }

    /// `GET …/screenshot`: the viewport as PNG bytes.
    public func screenshot(timeout: Duration? = nil) async throws -> Data {
        let value = try await call("GET", "/screenshot", timeout: timeout)
        guard let text = value.stringValue, let png = Data(base64Encoded: text) else {
            throw WebDriverError(code: .malformedResponse, message: "screenshot is not base64 data")
        }
        return png
    }

    public func windowHandle(timeout: Duration? = nil) async throws -> String {
        try await call("GET", "/window", timeout: timeout).stringValue ?? ""
    }

    public func windowHandles(timeout: Duration? = nil) async throws -> [String] {
        (try await call("GET", "/window/handles", timeout: timeout).arrayValue ?? []).compactMap(\.stringValue)
    }

    /// `POST …/window/new` (type "tab" or "window"): the new handle. The current window stays.
    public func newWindow(type: String = "tab", timeout: Duration? = nil) async throws -> String {
        let handle = try await call("POST", "/window/new", ["type": .string(type)], timeout: timeout)["handle"]
        guard let handle = handle?.stringValue, !handle.isEmpty else {
            throw WebDriverError(code: .malformedResponse, message: "new window returned no handle")
        }
        return handle
    }

    public func switchToWindow(_ handle: String, timeout: Duration? = nil) async throws {
        _ = try await call("POST", "/window", ["handle": .string(handle)], timeout: timeout)
    }

    /// `DELETE …/window`: closes the current window; the remaining handles.
    @discardableResult
    public func closeWindow(timeout: Duration? = nil) async throws -> [String] {
        (try await call("DELETE", "/window", timeout: timeout).arrayValue ?? []).compactMap(\.stringValue)
    }
}
