import CrawlKit
import HTTP

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Names what a URL answered when navigating to it left the browser on the previous document.
///
/// A browser commits no new document for a 204 No Content, a 304 Not Modified it holds no
/// cached copy for, or a download (`Content-Disposition: attachment`, or a type it does not
/// display); WebDriver reports such a navigation as a success and says nothing more (no status,
/// no event). The page scripts notice the old document; this asks the server itself, once, with
/// a HEAD request from the crawler (same network as the browser on Fargate, without the
/// browser's cookies), following redirects through the network policy, so the record says what
/// the URL is rather than carrying the previous page's data.
struct UncommittedNavigation: Sendable {
    let http: any HTTPTransport
    let policy: NetworkPolicy
    static let maxRedirects = 10
    static let timeout: Duration = .seconds(10)
    /// Says who asks, and why, in the site's logs.
    static let userAgent = "CrawlRun-crawler (what is this URL? the browser opened no page for it)"

    /// The failure to record for `url`; never a success, whatever the server says now.
    func failure(for url: String) async -> VisitFailure {
        let kept = "the browser kept the previous page"
        var target = url
        for _ in 0...Self.maxRedirects {
            guard let parsed = URL(string: target), let host = parsed.host(), !host.isEmpty else { break }
            if case .blocked(let why) = await policy.check(host: host) {
                return VisitFailure(.blocked, "no new page opened; redirected to \(target): \(why)")
            }
            let response: HTTPResponse
            do {
                response = try await http.send(
                    HTTPRequest(
                        method: "HEAD", url: target, headers: [("User-Agent", Self.userAgent)],
                        connectTimeout: .seconds(5), timeout: Self.timeout))
            } catch {
                return VisitFailure(
                    .navigation, "no new page opened (\(kept)); asking the server why failed: \(error)")
            }
            let status = response.status
            if (300..<400).contains(status), status != 304, let location = response.header("Location"),
                let next = URL(string: location, relativeTo: parsed)?.absoluteString
            {
                target = next
                continue
            }
            return Self.classify(response)
        }
        return VisitFailure(.navigation, "no new page opened (\(kept)); more than \(Self.maxRedirects) redirects")
    }

    /// What a HEAD answer means for a navigation that committed nothing.
    static func classify(_ response: HTTPResponse) -> VisitFailure {
        let status = response.status
        let disposition = response.header("Content-Disposition") ?? ""
        let type = response.header("Content-Type") ?? ""
        switch status {
        case 204, 205:
            return VisitFailure(.http, "HTTP \(status): no content, so no page to read", status: status)
        case 304:
            return VisitFailure(
                .http, "HTTP 304: not modified, and the browser holds no copy to show", status: status)
        case 200..<300 where disposition.lowercased().hasPrefix("attachment") || !displayable(type):
            var what: [String] = []
            if !disposition.isEmpty { what.append("Content-Disposition: \(disposition)") }
            if !type.isEmpty { what.append("Content-Type: \(type)") }
            let detail = what.isEmpty ? "" : " (\(what.joined(separator: "; ")))"
            return VisitFailure(.download, "a file to download\(detail), not a page", status: status)
        default:
            return VisitFailure(
                .navigation,
                "no new page opened (the browser kept the previous page); the server answers HEAD with HTTP \(status)")
        }
    }

    /// Types a browser shows in the tab rather than saving.
    static func displayable(_ contentType: String) -> Bool {
        let type = contentType.split(separator: ";").first.map { String($0.trimmingWhitespace()).lowercased() }
        guard let type, !type.isEmpty else { return true }
        if type.hasPrefix("text/") || type.hasPrefix("image/") || type.hasPrefix("video/") || type.hasPrefix("audio/") {
            return true
        }
        return type.hasSuffix("+xml") || type.hasSuffix("/xml") || type.hasSuffix("/json") || type.hasSuffix("+json")
            || type == "application/pdf" || type == "application/xhtml+xml"
    }
}
