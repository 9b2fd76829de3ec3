import CrawlKit
import HTTP

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Fetches robots.txt once per origin for a run, before planning (README, "Politeness"): the
/// coordinator asks each host once, whatever the number of tasks, and hands every task the
/// verdict in its batch file. Status handling per RFC 9309 §2.3.1
/// (https://www.rfc-editor.org/rfc/rfc9309#section-2.3.1): 2xx parsed; 4xx (but 429) "unavailable"
/// → everything allowed; 5xx, 429 and no answer "unreachable" → everything disallowed for the run;
/// up to 5 redirects followed, more (or a loop) → unavailable.
struct RobotsFetcher: Sendable {
    let http: any HTTPTransport
    let userAgent: String
    let productToken: String
    static let maxRedirects = 5
    static let timeout: Duration = .seconds(15)

    struct Fetched: Sendable {
        var rules: RobotsRules
        /// Something the user should read (a loop, a file cut at 500 KiB, a host off limits).
        var note: String?
    }

    func fetch(_ origin: RobotsOrigin) async -> Fetched { await fetch(url: origin.robotsURL, origin: origin) }

    func fetch(url start: String, origin: RobotsOrigin) async -> Fetched {
        var url = start
        var visited = [url]
        for _ in 0...Self.maxRedirects {
            let response: HTTPResponse
            do {
                response = try await http.send(
                    HTTPRequest(
                        url: url, headers: [("User-Agent", userAgent), ("Accept", "text/plain, */*")],
                        connectTimeout: .seconds(5), timeout: Self.timeout))
            } catch {
                return offLimits(origin, "\(url) could not be fetched (\(error))")
            }
            switch response.status {
            case 200..<300:
                let parsed = RobotsParser.parse([UInt8](response.body), productToken: productToken)
                let note =
                    parsed.ignoredBytes > 0
                    ? "\(url) is \(response.body.count) bytes: only its first 500 KiB were read (RFC 9309 §2.5)"
                    : nil
                return Fetched(rules: parsed.rules, note: note)
            case 300..<400:
                guard let location = response.header("Location"),
                    let next = URL(string: location, relativeTo: URL(string: url))?.absoluteString
                else {
                    return Fetched(
                        rules: .allowAll,
                        note:
                            "\(url) answered \(response.status) without a Location: treated as unavailable, every URL of \(origin.host) allowed"
                    )
                }
                if visited.contains(next) {
                    return Fetched(
                        rules: .allowAll,
                        note:
                            "robots.txt of \(origin.key) redirects in a loop (\((visited + [next]).joined(separator: " → "))): "
                            + "treated as unavailable, every URL allowed (RFC 9309 §2.3.1.2)")
                }
                visited.append(next)
                url = next
            case 429, 500...:
                return offLimits(origin, "\(url) answered \(response.status)")
            default:
                return Fetched(rules: .allowAll, note: nil)
            }
        }
        return Fetched(
            rules: .allowAll,
            note:
                "robots.txt of \(origin.key) redirects more than \(Self.maxRedirects) times (\(visited.joined(separator: " → "))): "
                + "treated as unavailable, every URL allowed (RFC 9309 §2.3.1.2)")
    }

    private func offLimits(_ origin: RobotsOrigin, _ why: String) -> Fetched {
        let message = "robots.txt unreachable: \(why); \(origin.key) is not crawled this run (RFC 9309 §2.3.1.4)"
        return Fetched(rules: RobotsRules(disallowAll: message), note: message)
    }

    /// Every origin's robots.txt, a few at a time.
    func fetchAll(_ origins: [RobotsOrigin]) async -> [String: Fetched] {
        var out: [String: Fetched] = [:]
        await withTaskGroup(of: (String, Fetched).self) { group in
            var next = 0
            func add() {
                guard next < origins.count else { return }
                let origin = origins[next]
                next += 1
                group.addTask { (origin.key, await fetch(origin)) }
            }
            for _ in 0..<8 { add() }
            while let (key, fetched) = await group.next() {
                out[key] = fetched
                add()
            }
        }
        return out
    }
}
