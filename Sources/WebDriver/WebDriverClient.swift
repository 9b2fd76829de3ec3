import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What `GET /status` says. https://www.w3.org/TR/webdriver2/#status
public struct WebDriverStatus: Sendable {
    public var ready: Bool
    public var message: String
}

/// A W3C WebDriver client: plain HTTP + JSON over one keep-alive transport.
/// https://www.w3.org/TR/webdriver2/
public struct WebDriverClient: Sendable {
    /// The remote end's base URL, without a trailing slash; a base path such as `/wd/hub`
    /// (Selenium 3; Selenium 4 serves it too) is kept.
    public let baseURL: String
    public let http: any HTTPTransport
    /// The deadline for commands that do not say otherwise.
    public var commandTimeout: Duration

    public init(baseURL: String, http: any HTTPTransport, commandTimeout: Duration = .seconds(60)) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.http = http
        self.commandTimeout = commandTimeout
    }

    /// `GET /status`; `ready` is true only when the remote end says exactly `true`.
    public func status(timeout: Duration = .seconds(5)) async throws -> WebDriverStatus {
        let value = try await command("GET", "/status", nil, timeout: timeout)
        return WebDriverStatus(ready: value["ready"] == .bool(true), message: value["message"]?.stringValue ?? "")
    }

    /// `POST /session` with `{"capabilities": {"alwaysMatch": …}}`.
    public func newSession(alwaysMatch: JSONValue, timeout: Duration = .seconds(60)) async throws -> WebDriverSession {
        let body: JSONValue = ["capabilities": ["alwaysMatch": alwaysMatch, "firstMatch": [[:]]]]
        let value = try await command("POST", "/session", body, timeout: timeout)
        guard let id = value["sessionId"]?.stringValue else {
            throw WebDriverError(code: .malformedResponse, message: "new session response has no sessionId")
        }
        return WebDriverSession(id: id, client: self, capabilities: value["capabilities"] ?? .null)
    }

    /// Sends one command and unwraps the `{"value": …}` envelope, turning error envelopes into
    /// typed errors. A POST without parameters still sends `{}` (the spec requires a JSON body).
    public func command(
        _ method: String, _ path: String, _ body: JSONValue?, timeout: Duration? = nil
    ) async throws -> JSONValue {
        var request = HTTPRequest(
            method: method, url: baseURL + path,
            headers: [("Accept", "application/json")],
            timeout: timeout ?? commandTimeout)
        if method == "POST" {
            request.body = (body ?? .object([:])).encoded()
            request.headers.append(("Content-Type", "application/json; charset=utf-8"))
        }
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch let error as HTTPError {
            throw WebDriverError(code: .transport, message: error.message, underlying: error)
        }
        guard let envelope = try? JSONValue.decode(response.body), let value = envelope["value"] else {
            let text = String(decoding: response.body.prefix(200), as: UTF8.self)
            throw WebDriverError(
                code: .malformedResponse,
                message: "\(method) \(path) answered HTTP \(response.status) without a WebDriver envelope: \(text)",
                httpStatus: response.status)
        }
        if let error = value["error"]?.stringValue, response.status >= 400 || !error.isEmpty {
            throw WebDriverError(
                code: .init(wire: error), message: value["message"]?.stringValue ?? "",
                httpStatus: response.status)
        }
        return value
    }
}
