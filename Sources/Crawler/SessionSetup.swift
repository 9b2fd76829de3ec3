import CrawlKit
import JSONKit
import WebDriver

/// What a new session and each of its tabs are given before their first page: `crawl.cookies`
/// and `crawl.headers`. W3C WebDriver has no request-header command, and its Add Cookie works
/// only for the origin of the page shown (https://www.w3.org/TR/webdriver2/#add-cookie), so a
/// cookie could only be set after a first load of that host. Both go through the Chrome
/// DevTools Protocol instead, by the driver's vendor endpoint (`WebDriverSession.cdp`):
/// - cookies: `Network.setCookies`, once per session (the browser profile's cookie store, shared
///   by its tabs), before any page: the first request to each host carries them;
/// - headers: `Network.enable` then `Network.setExtraHTTPHeaders`, per page target: once in the
///   session's first tab, and in every tab the tabbed mode opens (measured with chromedriver
///   156: a new tab does not inherit them, and without `Network.enable` none is sent).
/// The extra headers go with every request the tab makes, to every host (subresources too).
extension PageVisitor {
    /// True when each new tab needs `prepareTab`.
    var preparesTabs: Bool { !(options.headers ?? [:]).isEmpty }
    /// True when each new session needs `prepareSession`.
    var preparesSessions: Bool { preparesTabs || !(options.cookies ?? [:]).isEmpty }

    var cdpVendor: String { options.browserName.lowercased() == "microsoftedge" ? "ms" : "goog" }

    /// The cookies as `Network.setCookies` takes them: a host-only cookie by `url` (sent over
    /// http and https, any port: cookies ignore ports), a `.domain` cookie by `domain`.
    var cookieParams: [JSONValue] {
        var out: [JSONValue] = []
        for (host, jar) in (options.cookies ?? [:]).sorted(by: { $0.key < $1.key }) {
            for (name, value) in jar.sorted(by: { $0.key < $1.key }) {
                var cookie: [String: JSONValue] = ["name": .string(name), "value": .string(value), "path": "/"]
                if host.hasPrefix(".") {
                    cookie["domain"] = .string(host)
                } else {
                    cookie["url"] = .string("http://\(host)/")
                }
                out.append(.object(cookie))
            }
        }
        return out
    }

    /// Cookies for the session, then the headers for its current (first) tab.
    func prepareSession(_ session: WebDriverSession) async throws(VisitFailure) {
        let cookies = cookieParams
        if !cookies.isEmpty {
            try await cdp(session, "Network.setCookies", ["cookies": .array(cookies)], what: "crawl.cookies")
        }
        try await prepareTab(session)
    }

    /// The extra headers for the current tab.
    func prepareTab(_ session: WebDriverSession) async throws(VisitFailure) {
        guard let headers = options.headers, !headers.isEmpty else { return }
        try await cdp(session, "Network.enable", [:], what: "crawl.headers")
        let values = JSONValue.object(headers.mapValues { .string($0) })
        try await cdp(session, "Network.setExtraHTTPHeaders", ["headers": values], what: "crawl.headers")
    }

    /// One CDP command; its failure never repeats a header's or cookie's value (they may be secrets).
    private func cdp(
        _ session: WebDriverSession, _ command: String, _ params: JSONValue, what: String
    ) async throws(VisitFailure) {
        do {
            _ = try await session.cdp(command, params, vendor: cdpVendor, timeout: Self.leaveDeadline)
        } catch let error as WebDriverError where error.code == .unknownCommand || error.code == .unknownMethod {
            var failure = VisitFailure(
                .webdriver,
                "\(what) needs the driver's DevTools endpoint (POST /session/{id}/\(cdpVendor)/cdp/execute), which this WebDriver sidecar does not offer; use a chromedriver sidecar"
            )
            failure.unsupported = true
            throw failure
        } catch {
            var failure = ErrorClassifier.classify(error, during: "setting \(what) (\(command))")
            failure.page = nil
            throw failure
        }
    }
}
